package io.yatt.controller.internal.wire;

import java.util.List;

/** The controller's sender to one worker: register acks, invokes, cancels, aborts and shutdowns. Thread-safe. */
public final class WorkerProxy extends FrameProxy {

    /** A proxy sending through {@code sink}. */
    public WorkerProxy(PayloadCodec payloads, FrameSink sink) {
        super(payloads, sink);
    }

    public boolean registerAck(long controllerId, int workerId, Message.AckStatus status, long heartbeatIntervalNs,
                               byte[] nonce, String reason) {
        return send(new Message.RegisterAck(controllerId, workerId, status, heartbeatIntervalNs, nonce, reason));
    }

    /** @throws IllegalArgumentException if an argument cannot be encoded */
    public boolean invoke(long correlationId, long controllerId, long step, String group, String method,
                          String dispatchMode, List<Object> args) {
        return send(new Message.Invoke(correlationId, controllerId, step, group, method, dispatchMode, false, args));
    }

    /** An invoke the worker queues until {@link #input} brings its arguments. */
    public boolean invokeAwaitingInput(long correlationId, long controllerId, long step, String group, String method,
                                       String dispatchMode) {
        return send(new Message.Invoke(correlationId, controllerId, step, group, method, dispatchMode, true,
                List.of()));
    }

    /**
     * The arguments of an invoke that awaits them; {@code args} null means the worker is not called (skip).
     *
     * @throws IllegalArgumentException if an argument cannot be encoded
     */
    public boolean input(long correlationId, long controllerId, List<Object> args) {
        return send(new Message.InvokeInput(correlationId, controllerId, args == null, args == null ? List.of()
                : args));
    }

    /** The controller's heartbeat to a worker (so a worker notices a controller that died); skipped (false) when it
     * cannot be sent at once, the next one follows an interval later. */
    public boolean heartbeat(int workerId, long timestampNs) {
        return sendNow(new Message.Heartbeat(workerId, timestampNs, Message.Heartbeat.IN_FLIGHT_UNKNOWN));
    }

    public boolean cancel(long correlationId, long controllerId) {
        return send(new Message.Cancel(correlationId, controllerId));
    }

    /** A cancel sent only if that needs no waiting (the controller agent's retry); false, and nothing sent, otherwise. */
    public boolean cancelNow(long correlationId, long controllerId) {
        return sendNow(new Message.Cancel(correlationId, controllerId));
    }

    public boolean abort(long controllerId, String reason) {
        return send(new Message.Abort(controllerId, reason));
    }

    /** An abort sent only if that needs no waiting (the controller agent's own sends); false, and nothing sent, otherwise. */
    public boolean abortNow(long controllerId, String reason) {
        return sendNow(new Message.Abort(controllerId, reason));
    }

    public boolean shutdown(long controllerId, String reason) {
        return send(new Message.Shutdown(controllerId, reason));
    }
}
