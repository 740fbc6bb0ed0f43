package io.yatt.bench.controller;

import io.yatt.controller.Execution;
import io.yatt.controller.WorkerMethod;

/**
 * The round-trip benchmark's worker methods: a no-op that answers with its argument, declared cheap, so it runs on
 * the worker's agent thread as the invoke is decoded.
 */
final class EchoWorker {

    /** Method name the benchmark calls. */
    static final String ECHO = "echo";

    @WorkerMethod(dispatch = "ONE_TO_ALL", execution = Execution.AGENT)
    byte[] echo(byte[] payload) {
        return payload;
    }
}
