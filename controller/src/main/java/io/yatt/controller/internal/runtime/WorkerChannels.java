package io.yatt.controller.internal.runtime;

import io.aeron.ExclusivePublication;
import io.yatt.controller.internal.wire.ControllerProxy;
import io.yatt.controller.internal.wire.PayloadCodec;

/** Where a worker listens: its reply channel and stream, derived from the controller's channel and its id. */
public final class WorkerChannels {

    /** First reply stream id; worker {@code w} listens on {@code REPLY_STREAM_BASE + w}. */
    public static final int REPLY_STREAM_BASE = 1 << 16;
    /** Largest worker id. */
    public static final int MAX_WORKER_ID = Integer.MAX_VALUE - REPLY_STREAM_BASE;

    private WorkerChannels() {
    }

    /** ipc when the controller is on ipc; else udp at {@code replyHost} on any free port. */
    public static String replyChannel(String controllerChannel, String replyHost) {
        return controllerChannel.startsWith("aeron:ipc") ? "aeron:ipc" : "aeron:udp?endpoint=" + replyHost + ":0";
    }

    public static int replyStreamId(int workerId) {
        return REPLY_STREAM_BASE + workerId;
    }

    /** The worker's proxy to the controller over {@code publication}. */
    public static ControllerProxy proxy(AeronTransport transport, PayloadCodec payloads, ExclusivePublication publication,
                                        long sendTimeoutNs) {
        return new ControllerProxy(payloads, new PublicationSink(transport, publication, sendTimeoutNs));
    }
}
