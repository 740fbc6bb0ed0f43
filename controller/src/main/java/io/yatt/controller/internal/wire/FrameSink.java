package io.yatt.controller.internal.wire;

import org.agrona.DirectBuffer;

/** Where a proxy's encoded frames go (an Aeron publication in production). */
@FunctionalInterface
public interface FrameSink {

    /** Sends {@code buffer[offset, offset + length)}; false if it could not be sent before the sink's deadline. */
    boolean send(DirectBuffer buffer, int offset, int length);

    /**
     * Sends {@code buffer[offset, offset + length)} if the destination takes it now, without waiting (for frames whose
     * loss the protocol tolerates, such as heartbeats); false if it did not.
     */
    default boolean sendNow(DirectBuffer buffer, int offset, int length) {
        return send(buffer, offset, length);
    }

    /**
     * Runs once, on the calling thread, the work that another thread's send may be waiting for (an INVOKER media
     * driver runs only on its owning agent's thread); false if the calling thread has no such work, and may block.
     */
    default boolean progress() {
        return false;
    }
}
