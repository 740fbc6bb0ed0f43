package io.yatt.collectives.internal;

import java.util.concurrent.locks.LockSupport;

/**
 * The sleep between two polls of device work (a CUDA event or stream, NCCL's async state) that the GPU backends and
 * their handles share: 1 microsecond, doubled after every sleep up to {@value #MAX_PARK_NS} ns. One per wait; not
 * thread-safe.
 */
public final class PollBackoff {
    /** Longest sleep between two polls. */
    public static final long MAX_PARK_NS = 100_000L;
    private static final long FIRST_PARK_NS = 1_000L;

    private long parkNs = FIRST_PARK_NS;

    private PollBackoff() {
    }

    /** A backoff at its first, shortest sleep. */
    public static PollBackoff start() {
        return new PollBackoff();
    }

    /** Sleeps once (an interrupt ends the sleep early and stays set), then doubles the next sleep up to the cap. */
    public void pause() {
        LockSupport.parkNanos(parkNs);
        parkNs = Math.min(parkNs * 2, MAX_PARK_NS);
    }

    /** The length of the next sleep. */
    public long nextParkNs() {
        return parkNs;
    }
}
