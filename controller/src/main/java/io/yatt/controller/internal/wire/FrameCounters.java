package io.yatt.controller.internal.wire;

import java.util.concurrent.atomic.AtomicLong;

/** Frames an endpoint dropped, by reason. Thread-safe. */
public final class FrameCounters {

    private final AtomicLong malformed = new AtomicLong();
    private final AtomicLong unauthenticated = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong agentErrors = new AtomicLong();

    /** A frame that did not decode (structure, version, values or payload). */
    public void malformed() {
        malformed.incrementAndGet();
    }

    /** A frame from a sender that is not registered, or a registration whose MAC did not verify. */
    public void unauthenticated() {
        unauthenticated.incrementAndGet();
    }

    /** A well-formed frame that does not apply (wrong direction, unknown call, stale controller, handler failure). */
    public void dropped() {
        dropped.incrementAndGet();
    }

    /** An error that escaped a handler or a duty cycle (an Aeron client's or an agent runner's error handler). */
    public void agentError() {
        agentErrors.incrementAndGet();
    }

    public long agentErrors() {
        return agentErrors.get();
    }

    public long malformedFrames() {
        return malformed.get();
    }

    public long unauthenticatedFrames() {
        return unauthenticated.get();
    }

    public long droppedFrames() {
        return dropped.get();
    }
}
