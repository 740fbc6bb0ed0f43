package io.yatt.controller.internal.runtime;

import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.IdleStrategy;

/**
 * Spins, then yields until a window of time has passed since the last work, then parks from a minimum period
 * doubling up to a maximum (agrona's back-off, with the yield phase bounded by time instead of a count). A thread alone
 * on a core yields at once (nothing else is runnable), so twenty counted yields last a few microseconds and the thread
 * parks within a round trip; a park's wake-up then costs the timer slack (50 us by default), which makes the next round
 * trip long enough to park again. The window keeps a waiting thread off the park for a whole fast round trip, and an
 * idle thread still parks after it. One instance per thread.
 */
public final class WindowedBackoffIdleStrategy implements IdleStrategy {

    private static final int NOT_IDLE = 0;
    private static final int SPINNING = 1;
    private static final int YIELDING = 2;
    private static final int PARKING = 3;

    private final int maxSpins;
    private final long yieldWindowNs;
    private final long minParkPeriodNs;
    private final long maxParkPeriodNs;
    private int state = NOT_IDLE;
    private int spins;
    private long idleSinceNs;
    private long parkPeriodNs;

    /**
     * @throws IllegalArgumentException if a count or period is negative, or the minimum park exceeds the maximum
     */
    public WindowedBackoffIdleStrategy(int maxSpins, long yieldWindowNs, long minParkPeriodNs, long maxParkPeriodNs) {
        if (maxSpins < 0 || yieldWindowNs < 0 || minParkPeriodNs < 1 || maxParkPeriodNs < minParkPeriodNs) {
            throw new IllegalArgumentException("bad back-off: maxSpins=" + maxSpins + ", yieldWindowNs="
                    + yieldWindowNs + ", minParkPeriodNs=" + minParkPeriodNs + ", maxParkPeriodNs=" + maxParkPeriodNs
                    + ", expected counts >= 0 and 1 <= minPark <= maxPark");
        }
        this.maxSpins = maxSpins;
        this.yieldWindowNs = yieldWindowNs;
        this.minParkPeriodNs = minParkPeriodNs;
        this.maxParkPeriodNs = maxParkPeriodNs;
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
        switch (state) {
            case NOT_IDLE -> {
                state = SPINNING;
                spins = 1;
                idleSinceNs = System.nanoTime();
                Thread.onSpinWait();
            }
            case SPINNING -> {
                Thread.onSpinWait();
                if (++spins >= maxSpins) {
                    state = YIELDING;
                }
            }
            case YIELDING -> {
                if (System.nanoTime() - idleSinceNs >= yieldWindowNs) {
                    state = PARKING;
                    parkPeriodNs = minParkPeriodNs;
                    park();
                } else {
                    Thread.yield();
                }
            }
            default -> park();
        }
    }

    private void park() {
        LockSupport.parkNanos(parkPeriodNs);
        parkPeriodNs = Math.min(parkPeriodNs << 1, maxParkPeriodNs);
    }

    @Override
    public void reset() {
        state = NOT_IDLE;
    }

    /** The phase this thread is in: {@code not-idle}, {@code spinning}, {@code yielding} or {@code parking}. */
    public String phase() {
        return switch (state) {
            case NOT_IDLE -> "not-idle";
            case SPINNING -> "spinning";
            case YIELDING -> "yielding";
            default -> "parking";
        };
    }

    @Override
    public String alias() {
        return "windowed-backoff";
    }

    @Override
    public String toString() {
        return "WindowedBackoffIdleStrategy{maxSpins=" + maxSpins + ", yieldWindowNs=" + yieldWindowNs
                + ", minParkPeriodNs=" + minParkPeriodNs + ", maxParkPeriodNs=" + maxParkPeriodNs + "}";
    }
}
