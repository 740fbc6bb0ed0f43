package io.yatt.controller.internal.runtime;

import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.yatt.controller.internal.wire.FrameSink;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

/**
 * Offers frames to an exclusive publication, retrying back pressure and a not-yet-connected subscriber until a
 * deadline. Not thread-safe: the proxy that owns it holds its lock while sending.
 */
final class PublicationSink implements FrameSink {

    private final ExclusivePublication publication;
    private final long timeoutNs;
    private final IdleStrategy idle = new YieldingIdleStrategy();

    private final AeronTransport transport;

    PublicationSink(AeronTransport transport, ExclusivePublication publication, long timeoutNs) {
        this.transport = transport;
        this.publication = publication;
        this.timeoutNs = timeoutNs;
    }

    @Override
    public boolean send(DirectBuffer buffer, int offset, int length) {
        long deadlineNs = System.nanoTime() + timeoutNs;
        idle.reset();
        while (true) {
            long result = publication.offer(buffer, offset, length);
            if (result > 0) {
                return true;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED
                    || System.nanoTime() - deadlineNs > 0) {
                return false;
            }
            if (transport.invokeIfOwner() == 0) {
                idle.idle();
            }
        }
    }
}
