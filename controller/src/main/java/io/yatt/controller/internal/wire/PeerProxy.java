package io.yatt.controller.internal.wire;

import java.util.List;

/** A controller's sender to another controller: step barriers and metric reductions. Thread-safe. */
public final class PeerProxy extends FrameProxy {

    /** A proxy sending through {@code sink}. */
    public PeerProxy(PayloadCodec payloads, FrameSink sink) {
        super(payloads, sink);
    }

    public boolean stepBarrier(long controllerId, int index, int count, long step) {
        return send(new Message.StepBarrier(controllerId, index, count, step));
    }

    public boolean metricReduction(long controllerId, int index, int count, long step, Message.ReduceOp op,
                                   List<Message.Metric> metrics) {
        return send(new Message.MetricReduction(controllerId, index, count, step, op, metrics));
    }
}
