package io.yatt.controller;

import io.aeron.ExclusivePublication;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.agrona.DirectBuffer;

/** Helpers of the tests that put hand-made frames on a stream: offer until accepted, wait until true (30 s each). */
public final class RawOffers {

    private static final long LIMIT_NS = TimeUnit.SECONDS.toNanos(30);

    private RawOffers() {
    }

    /** Offers the first {@code length} bytes of {@code buffer} until the publication takes them. */
    public static void offer(ExclusivePublication publication, DirectBuffer buffer, int length) {
        long deadlineNs = System.nanoTime() + LIMIT_NS;
        while (publication.offer(buffer, 0, length) < 0) {
            if (System.nanoTime() - deadlineNs > 0) {
                throw new AssertionError("offer did not go through: " + publication);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    /** Waits until {@code condition} holds. */
    public static void await(BooleanSupplier condition) {
        long deadlineNs = System.nanoTime() + LIMIT_NS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadlineNs > 0) {
                throw new AssertionError("condition not reached in 30 s");
            }
            LockSupport.parkNanos(1_000_000);
        }
    }
}
