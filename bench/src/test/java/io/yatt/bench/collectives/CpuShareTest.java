package io.yatt.bench.collectives;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CpuShareTest {

    @Test
    void shouldCountUserNiceSystemAndStealAsBusyAndEveryCounterAsTotal() {
        // user 100, nice 2, system 30, idle 800, iowait 4, irq 5, softirq 6, steal 7 (guest columns ignored)
        long[] v = CpuShare.parse("cpu  100 2 30 800 4 5 6 7 0 0");
        assertArrayEquals(new long[] {100 + 2 + 30 + 7, 100 + 2 + 30 + 7 + 800 + 4 + 5 + 6}, v);
    }

    @Test
    void shouldRejectALineThatIsNotTheCpuLine() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> CpuShare.parse("cpu0 1 2 3 4 5 6 7 8"));
        assertEquals("not a /proc/stat cpu line: line=cpu0 1 2 3 4 5 6 7 8, expected 'cpu' and 8 counters "
            + "(user nice system idle iowait irq softirq steal)", e.getMessage());
        IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class,
            () -> CpuShare.parse("cpu 1 2 3"));
        assertEquals("not a /proc/stat cpu line: line=cpu 1 2 3, expected 'cpu' and 8 counters "
            + "(user nice system idle iowait irq softirq steal)", tooShort.getMessage());
    }

    @Test
    void shouldTakeTheRanksOwnCpuTimeOutOfTheBusyJiffies() {
        // 200 jiffies passed (2 CPUs for 1 s), 150 busy, of which the ranks used 1.2 s = 120 jiffies: 30 / 200 = 15 %
        assertEquals(15.0, CpuShare.othersPercent(new long[] {1000, 5000}, new long[] {1150, 5200}, 1.2e9), 1e-12);
        // the ranks' time rounds past the busy jiffies: never below 0
        assertEquals(0.0, CpuShare.othersPercent(new long[] {0, 0}, new long[] {100, 200}, 1.1e9));
    }

    @Test
    void shouldSayNaNWhenAReadingIsMissing() {
        assertTrue(Double.isNaN(CpuShare.othersPercent(null, new long[] {1, 2}, 0)));
        assertTrue(Double.isNaN(CpuShare.othersPercent(new long[] {1, 2}, new long[] {1, 2}, 0)));
        assertTrue(Double.isNaN(CpuShare.othersPercent(new long[] {1, 2}, new long[] {3, 9}, -1)));
    }
}
