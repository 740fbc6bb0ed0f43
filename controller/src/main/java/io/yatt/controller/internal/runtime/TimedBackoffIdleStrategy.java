package io.yatt.controller.internal.runtime;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.agrona.concurrent.IdleStrategy;

/**
 * Back-off whose yielding phase lasts a fixed time rather than a fixed count: spin a few times, yield until
 * {@code yieldWindowNs} have passed since the work stopped, then park from {@code minParkNs} doubling up to
 * {@code maxParkNs}. Agrona's count-based back-off parks after a few microseconds of idleness, and a park lasts at
 * least the kernel's timer slack (50 us on Linux), so a request/response exchange whose gaps are near that count
 * settles either where nobody parks or where every hop parks; with a window longer than one exchange, a steady
 * exchange never parks and an idle thread still parks after the window. Not thread-safe (one per agent).
 */
public final class TimedBackoffIdleStrategy implements IdleStrategy {

    /** Spins before yielding. */
    static final int SPINS = 10;
    /** Yielding window of {@link io.yatt.controller.ControlPlane.Idle#TIMED_BACKOFF}. */
    public static final long DEFAULT_YIELD_WINDOW_NS = TimeUnit.MICROSECONDS.toNanos(200);

    /** Where the strategy is: what its next {@link #idle()} does. */
    enum Phase { SPIN, YIELD, PARK }

    private final long yieldWindowNs;
    private final long minParkNs;
    private final long maxParkNs;
    private final LongSupplier clockNs;
    private int spins;
    private long idleSinceNs;
    private long parkNs;

    TimedBackoffIdleStrategy(long yieldWindowNs, long minParkNs, long maxParkNs, LongSupplier clockNs) {
        if (yieldWindowNs < 0 || minParkNs < 1 || maxParkNs < minParkNs) {
            throw new IllegalArgumentException("bad back-off window: yieldWindowNs=" + yieldWindowNs + ", minParkNs="
                    + minParkNs + ", maxParkNs=" + maxParkNs + ", expected yieldWindowNs >= 0 and"
                    + " 1 <= minParkNs <= maxParkNs");
        }
        this.yieldWindowNs = yieldWindowNs;
        this.minParkNs = minParkNs;
        this.maxParkNs = maxParkNs;
        this.clockNs = Objects.requireNonNull(clockNs, "clockNs");
        reset();
    }

    /**
     * Yields for {@code yieldWindowNs} after the work stops, then parks from {@code minParkNs} up to
     * {@code maxParkNs}.
     *
     * @throws IllegalArgumentException if the window is negative or the park bounds are not
     *         {@code 1 <= minParkNs <= maxParkNs}
     */
    public static TimedBackoffIdleStrategy of(long yieldWindowNs, long minParkNs, long maxParkNs) {
        return new TimedBackoffIdleStrategy(yieldWindowNs, minParkNs, maxParkNs, System::nanoTime);
    }

    @Override
    public void idle(int workCount) {
        if (workCount > 0) {
            reset();
        } else {
            idle();
        }
    }

    @Override
    public void idle() {
        switch (phase()) {
            case SPIN -> {
                if (spins == 0) {
                    idleSinceNs = clockNs.getAsLong();
                }
                spins++;
                Thread.onSpinWait();
            }
            case YIELD -> Thread.yield();
            case PARK -> {
                LockSupport.parkNanos(parkNs);
                parkNs = Math.min(parkNs << 1, maxParkNs);
            }
        }
    }

    /** What the next {@link #idle()} does. */
    Phase phase() {
        if (spins < SPINS) {
            return Phase.SPIN;
        }
        return clockNs.getAsLong() - idleSinceNs < yieldWindowNs ? Phase.YIELD : Phase.PARK;
    }

    /** How long the next park lasts (before the kernel's slack). */
    long parkNs() {
        return parkNs;
    }

    @Override
    public void reset() {
        spins = 0;
        parkNs = minParkNs;
    }

    @Override
    public String alias() {
        return "timed-backoff";
    }
}
