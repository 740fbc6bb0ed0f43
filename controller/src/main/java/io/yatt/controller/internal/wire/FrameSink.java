package io.yatt.controller.internal.wire;

import org.agrona.DirectBuffer;

/** Where a proxy's encoded frames go (an Aeron publication in production). */
@FunctionalInterface
public interface FrameSink {

    /** Sends {@code buffer[offset, offset + length)}; false if it could not be sent before the sink's deadline. */
    boolean send(DirectBuffer buffer, int offset, int length);
}
