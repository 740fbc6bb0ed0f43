package io.yatt.bench.collectives;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The share of all CPUs that processes other than the benchmark's took during a timed point, as {@code collbench.c}
 * reports it ({@code oth%}): machine-wide busy jiffies from the first line of {@code /proc/stat} (user, nice, system,
 * steal; interrupts excluded, loopback traffic is ours) minus the ranks' own CPU time, over all jiffies. Above about
 * 10 % a point is disturbed. Stateless.
 */
final class CpuShare {
    /** Where the machine-wide counters are. */
    static final Path PROC_STAT = Path.of("/proc/stat");
    /** Jiffies per second of {@code /proc/stat} (USER_HZ, fixed at 100 in the Linux user ABI). */
    static final int USER_HZ = 100;

    private CpuShare() {
    }

    /** Busy and total jiffies of the machine now, or {@code null} where {@code /proc/stat} cannot be read. */
    static long[] machine() {
        try (BufferedReader in = Files.newBufferedReader(PROC_STAT)) {
            String line = in.readLine();
            return line == null ? null : parse(line);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** CPU time this process used so far, nanoseconds, or -1 where the platform does not say. */
    static long processCpuNs() {
        return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
    }

    /**
     * Busy (user + nice + system + steal) and total (those plus idle, iowait, irq, softirq) jiffies of a
     * {@code /proc/stat} {@code cpu} line.
     *
     * @throws IllegalArgumentException if the line is not {@code cpu} followed by at least 8 counters
     */
    static long[] parse(String cpuLine) {
        String[] f = cpuLine.trim().split("\\s+");
        if (f.length < 9 || !f[0].equals("cpu")) {
            throw new IllegalArgumentException("not a /proc/stat cpu line: line=" + cpuLine
                + ", expected 'cpu' and 8 counters (user nice system idle iowait irq softirq steal)");
        }
        long[] v = new long[8];
        for (int i = 0; i < 8; i++) {
            try {
                v[i] = Long.parseLong(f[i + 1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a /proc/stat cpu line: line=" + cpuLine
                    + ", expected 'cpu' and 8 counters (user nice system idle iowait irq softirq steal)", e);
            }
        }
        long busy = v[0] + v[1] + v[2] + v[7];
        return new long[] {busy, busy + v[3] + v[4] + v[5] + v[6]};
    }

    /**
     * Percent of all CPUs that other processes used between two {@link #machine()} readings while the benchmark's
     * processes used {@code ourCpuNs}; NaN when a reading is missing or no time passed, never below 0.
     */
    static double othersPercent(long[] before, long[] after, double ourCpuNs) {
        if (before == null || after == null || after[1] - before[1] <= 0 || ourCpuNs < 0) {
            return Double.NaN;
        }
        double ours = ourCpuNs / 1e9 * USER_HZ;
        double others = (after[0] - before[0]) - ours;
        return Math.max(0, 100.0 * others / (after[1] - before[1]));
    }
}
