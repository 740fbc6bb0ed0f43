package io.yatt.controller.internal.wire;

/**
 * Encodes messages and sends them to one destination; {@code WorkerProxy} and {@code ControllerProxy} are its two
 * directions. Thread-safe: encoding and sending of one frame hold the proxy's lock.
 */
public abstract sealed class FrameProxy permits WorkerProxy, ControllerProxy, PeerProxy {

    private final FrameEncoder encoder;
    private final FrameSink sink;

    FrameProxy(PayloadCodec payloads, FrameSink sink) {
        this.encoder = new FrameEncoder(payloads);
        this.sink = sink;
    }

    /**
     * Encodes and sends {@code message}; false if the sink could not take it.
     *
     * @throws IllegalArgumentException if a payload value cannot be encoded
     */
    final synchronized boolean send(Message message) {
        int length = encoder.encode(message);
        return sink.send(encoder.buffer(), 0, length);
    }
}
