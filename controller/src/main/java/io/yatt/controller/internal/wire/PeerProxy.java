package io.yatt.controller.internal.wire;

import java.util.List;

/** A controller's sender to another controller: step barriers, metric reductions and heartbeats. Thread-safe. */
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

    /** A heartbeat, sent only if it goes at once (see {@link FrameProxy#sendNow}). */
    public boolean heartbeatNow(long controllerId, int index, int count, long timestampNs) {
        return sendNow(new Message.PeerHeartbeat(controllerId, index, count, timestampNs, false));
    }

    /** The notice that this controller leaves the mesh, waiting up to the send timeout. */
    public boolean leaving(long controllerId, int index, int count, long timestampNs) {
        return send(new Message.PeerHeartbeat(controllerId, index, count, timestampNs, true));
    }
}
