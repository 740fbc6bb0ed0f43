package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class WindowedBackoffIdleStrategyTest {

    @Test
    void shouldSpinThenYieldWithinTheWindowWhateverTheNumberOfYields() {
        WindowedBackoffIdleStrategy s = new WindowedBackoffIdleStrategy(3, TimeUnit.HOURS.toNanos(1), 1_000, 1_000_000);
        assertEquals("not-idle", s.phase());
        s.idle();
        assertEquals("spinning", s.phase());
        s.idle();
        s.idle();
        // the third spin ends the spin phase
        assertEquals("yielding", s.phase());
        for (int i = 0; i < 1_000; i++) {
            s.idle();
        }
        // agrona's back-off would have parked after 20 yields; the window (an hour) has not passed
        assertEquals("yielding", s.phase());
        s.idle(1);
        assertEquals("not-idle", s.phase());
    }

    @Test
    void shouldParkOnceTheWindowHasPassedAndStartOverAfterWork() {
        WindowedBackoffIdleStrategy s = new WindowedBackoffIdleStrategy(2, 0, 1_000, 1_000_000);
        s.idle(0);
        s.idle(0);
        assertEquals("yielding", s.phase());
        // a window of 0 has passed at the first yield: park (1 us)
        s.idle(0);
        assertEquals("parking", s.phase());
        s.idle(0);
        assertEquals("parking", s.phase());
        s.idle(5);
        assertEquals("not-idle", s.phase());
        s.reset();
        assertEquals("not-idle", s.phase());
    }

    @Test
    void shouldRejectANegativeWindowOrAMinimumParkAboveTheMaximum() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new WindowedBackoffIdleStrategy(10, -1, 1_000, 1_000_000));
        assertEquals("bad back-off: maxSpins=10, yieldWindowNs=-1, minParkPeriodNs=1000, maxParkPeriodNs=1000000,"
            + " expected counts >= 0 and 1 <= minPark <= maxPark", e.getMessage());
        IllegalArgumentException park = assertThrows(IllegalArgumentException.class,
            () -> new WindowedBackoffIdleStrategy(10, 100, 2_000, 1_000));
        assertEquals("bad back-off: maxSpins=10, yieldWindowNs=100, minParkPeriodNs=2000, maxParkPeriodNs=1000,"
            + " expected counts >= 0 and 1 <= minPark <= maxPark", park.getMessage());
    }
}
