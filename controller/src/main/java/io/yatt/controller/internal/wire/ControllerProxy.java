package io.yatt.controller.internal.wire;

/** A worker's sender to its controller: registration, heartbeats, results and errors. Thread-safe. */
public final class ControllerProxy extends FrameProxy {

    /** A proxy sending through {@code sink}. */
    public ControllerProxy(PayloadCodec payloads, FrameSink sink) {
        super(payloads, sink);
    }

    public boolean register(Message.Register register) {
        return send(register);
    }

    /** A heartbeat, skipped (false) when it cannot be sent at once: the next one follows an interval later. */
    public boolean heartbeat(int workerId, long timestampNs, int inFlightCalls) {
        return sendNow(new Message.Heartbeat(workerId, timestampNs, inFlightCalls));
    }

    /** @throws IllegalArgumentException if the value cannot be encoded */
    public boolean result(long correlationId, int workerId, int rank, Object value) {
        return send(new Message.Result(correlationId, workerId, rank, value));
    }

    public boolean error(long correlationId, int workerId, int rank, String type, String message) {
        return send(new Message.Error(correlationId, workerId, rank, type, message));
    }

    /**
     * A result sent only if that needs no waiting (from the worker's agent thread); false, and nothing sent, otherwise.
     *
     * @throws IllegalArgumentException if the value cannot be encoded
     */
    public boolean resultNow(long correlationId, int workerId, int rank, Object value) {
        return sendNow(new Message.Result(correlationId, workerId, rank, value));
    }

    /** An error sent only if that needs no waiting (from the worker's agent thread); false, and nothing sent, otherwise. */
    public boolean errorNow(long correlationId, int workerId, int rank, String type, String message) {
        return sendNow(new Message.Error(correlationId, workerId, rank, type, message));
    }
}
