package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TimedBackoffIdleStrategyTest {

    @Test
    void shouldSpinThenYieldUntilTheWindowHasPassedSinceTheWorkStopped() {
        AtomicLong clock = new AtomicLong(1_000);
        TimedBackoffIdleStrategy s = new TimedBackoffIdleStrategy(200, 1, 8, clock::get);
        for (int i = 0; i < TimedBackoffIdleStrategy.SPINS; i++) {
            assertEquals(TimedBackoffIdleStrategy.Phase.SPIN, s.phase());
            s.idle(0);
        }
        // the window counts from the first idle (clock 1000), not from the end of the spins
        clock.set(1_199);
        assertEquals(TimedBackoffIdleStrategy.Phase.YIELD, s.phase());
        s.idle();
        clock.set(1_200);
        assertEquals(TimedBackoffIdleStrategy.Phase.PARK, s.phase());
    }

    @Test
    void shouldDoubleTheParkUpToItsMaximumAndStartOverAfterWork() {
        AtomicLong clock = new AtomicLong(0);
        TimedBackoffIdleStrategy s = new TimedBackoffIdleStrategy(0, 1, 8, clock::get);
        for (int i = 0; i < TimedBackoffIdleStrategy.SPINS; i++) {
            s.idle();
        }
        assertEquals(TimedBackoffIdleStrategy.Phase.PARK, s.phase());
        long[] expected = {1, 2, 4, 8, 8};
        for (long parkNs : expected) {
            assertEquals(parkNs, s.parkNs());
            s.idle();
        }
        s.idle(1);
        assertEquals(TimedBackoffIdleStrategy.Phase.SPIN, s.phase());
        assertEquals(1, s.parkNs());
    }

    @Test
    void shouldRejectParkBoundsOutOfOrder() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> TimedBackoffIdleStrategy.of(100, 10, 5));
        assertEquals("bad back-off window: yieldWindowNs=100, minParkNs=10, maxParkNs=5, expected yieldWindowNs >= 0"
            + " and 1 <= minParkNs <= maxParkNs", e.getMessage());
    }
}
