package io.yatt.bench.controller;

import io.yatt.controller.WorkerMethod;

/** The round-trip benchmark's worker methods: a no-op that answers with its argument. */
final class EchoWorker {

    /** Method name the benchmark calls. */
    static final String ECHO = "echo";

    @WorkerMethod(dispatch = "ONE_TO_ALL")
    byte[] echo(byte[] payload) {
        return payload;
    }
}
