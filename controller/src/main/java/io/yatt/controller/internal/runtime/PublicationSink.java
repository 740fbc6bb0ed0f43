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

    /**
     * Why a send to {@code publication} failed, as its state tells now: {@code publication closed}, {@code not
     * connected} (no subscriber), or {@code back pressured} (the subscriber did not keep up).
     */
    static String failure(Publication publication) {
        if (publication.isClosed()) {
            return "publication closed";
        }
        return publication.isConnected() ? "back pressured" : "not connected";
    }

    /** Runs the INVOKER driver and client conductor when called on their owning agent's thread. */
    @Override
    public boolean progress() {
        if (!transport.isOwner()) {
            return false;
        }
        transport.invoke();
        return true;
    }

    /** One offer (and one more after an admin action, such as a term rotation); no waiting. */
    @Override
    public boolean sendNow(DirectBuffer buffer, int offset, int length) {
        long result = publication.offer(buffer, offset, length);
        if (result == Publication.ADMIN_ACTION) {
            result = publication.offer(buffer, offset, length);
        }
        return result > 0;
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
