package io.yatt.controller.internal.wire;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Encodes messages and sends them to one destination; {@code WorkerProxy} and {@code ControllerProxy} are its two
 * directions. Thread-safe: encoding and sending of one frame hold the proxy's lock. A thread whose sink has work to
 * run while it waits (the agent that runs an INVOKER driver) keeps running it instead of blocking: the holder may be
 * waiting, back pressured, for exactly that work.
 */
public abstract sealed class FrameProxy permits WorkerProxy, ControllerProxy, PeerProxy {

    private final PayloadCodec payloads;
    /** Replaced by a fresh one after a frame that grew its buffers above the retained capacity; under the lock. */
    private FrameEncoder encoder;
    private final FrameSink sink;
    private final ReentrantLock lock = new ReentrantLock();
    /** Set once a session key exists: every frame but a registration's then carries a MAC trailer. */
    private volatile FrameTag tag;

    FrameProxy(PayloadCodec payloads, FrameSink sink) {
        this.payloads = payloads;
        this.encoder = new FrameEncoder(payloads);
        this.sink = sink;
    }

    /** From now on every frame but Register and RegisterAck carries a MAC trailer under {@code sealer}. */
    public final void seal(FrameTag sealer) {
        this.tag = sealer;
    }

    /** Encodes {@code message}, with its MAC trailer when the proxy is sealed; the frame's length. Under the lock. */
    private int encode(Message message) {
        int length = encoder.encode(message);
        FrameTag t = tag;
        if (t != null && !(message instanceof Message.Register) && !(message instanceof Message.RegisterAck)) {
            length = t.seal(encoder.mutableBuffer(), length);
        }
        return length;
    }

    /**
     * Encodes and sends {@code message}; false if the sink could not take it.
     *
     * @throws IllegalArgumentException if a payload value cannot be encoded
     */
    final boolean send(Message message) {
        if (!lock.tryLock()) {
            if (sink.progress()) {
                while (!lock.tryLock()) {
                    sink.progress();
                    Thread.onSpinWait();
                }
            } else {
                lock.lock();
            }
        }
        try {
            int length = encode(message);
            return sink.send(encoder.buffer(), 0, length);
        } finally {
            releaseOversized();
            lock.unlock();
        }
    }

    /**
     * Encodes and sends {@code message} only if that needs no waiting: false, and nothing sent, when another thread is
     * sending on this proxy or the destination is back pressured. For frames whose loss the protocol tolerates
     * (heartbeats), so that an agent never blocks on them while its peer blocks on it.
     */
    final boolean sendNow(Message message) {
        if (!lock.tryLock()) {
            return false;
        }
        try {
            int length = encode(message);
            return sink.sendNow(encoder.buffer(), 0, length);
        } finally {
            releaseOversized();
            lock.unlock();
        }
    }

    /** Under the lock, once a frame is sent: an encoder grown above the retained capacity goes with its buffers. */
    private void releaseOversized() {
        if (encoder.oversized()) {
            encoder = new FrameEncoder(payloads);
        }
    }

    /**
     * Bytes of encoding buffer this proxy keeps between frames: at most {@link FrameEncoder#RETAINED_CAPACITY_BYTES}
     * per buffer whatever the largest frame it sent.
     */
    final int retainedBytes() {
        lock.lock();
        try {
            return encoder.retainedBytes();
        } finally {
            lock.unlock();
        }
    }
}
