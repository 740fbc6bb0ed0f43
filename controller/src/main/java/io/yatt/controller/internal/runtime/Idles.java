package io.yatt.controller.internal.runtime;

import io.yatt.controller.ControlPlane;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

/** Agrona idle strategies for {@link ControlPlane.Idle}. */
final class Idles {

    /** Longest park of the back-off strategy: an idle agent wakes at most 1000 times a second. */
    static final long BACKOFF_MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private Idles() {
    }

    static IdleStrategy strategy(ControlPlane.Idle idle) {
        return switch (idle) {
            case BUSY_SPIN -> new BusySpinIdleStrategy();
            case YIELDING -> new YieldingIdleStrategy();
            case BACKOFF -> new BackoffIdleStrategy(10, 20, TimeUnit.MICROSECONDS.toNanos(1), BACKOFF_MAX_PARK_NS);
        };
    }
}
