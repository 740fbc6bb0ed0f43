package io.yatt.bench.controller;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Context switches of every thread of some processes, from Linux's {@code /proc/<pid>/task/<tid>/status}
 * ({@code voluntary_ctxt_switches}: the thread blocked or parked; {@code nonvoluntary_ctxt_switches}: it was preempted,
 * or yielded while another task was runnable), summed per process label and thread name. Counts do not depend on the
 * machine's load the way latencies do: a hand-off that parks its receiver costs one voluntary switch whatever else
 * runs.
 */
final class ThreadSwitches {

    /** Where the kernel publishes its processes. */
    static final Path PROC = Path.of("/proc");

    private final Path proc;
    private final Map<String, Long> processes;
    private final Map<String, long[]> totals = new TreeMap<>();
    private final List<String> blocks = new ArrayList<>();
    private long roundTrips;

    /**
     * @param proc      the proc file system's root
     * @param processes process id by label (e.g. {@code ctl}, {@code w0})
     */
    ThreadSwitches(Path proc, Map<String, Long> processes) {
        this.proc = proc;
        this.processes = Map.copyOf(processes);
    }

    /**
     * The switches so far of every thread, keyed {@code label:thread-name} (threads of one name summed); a thread
     * or process that exits while being read is left out.
     *
     * @throws UncheckedIOException if a process's task folder cannot be listed for another reason
     */
    Map<String, long[]> snapshot() {
        Map<String, long[]> counts = new TreeMap<>();
        for (Map.Entry<String, Long> p : processes.entrySet()) {
            Path tasks = proc.resolve(Long.toString(p.getValue())).resolve("task");
            List<Path> threads;
            try (Stream<Path> list = Files.list(tasks)) {
                threads = list.toList();
            } catch (NoSuchFileException e) {
                continue;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list threads: path=" + tasks, e);
            }
            for (Path t : threads) {
                long[] vi = read(t.resolve("status"));
                if (vi != null) {
                    long[] sum = counts.computeIfAbsent(p.getKey() + ":" + name(t), k -> new long[2]);
                    sum[0] += vi[0];
                    sum[1] += vi[1];
                }
            }
        }
        return counts;
    }

    /** Adds what happened between {@code before} and {@code after} over {@code count} round trips to the totals. */
    void add(Map<String, long[]> before, Map<String, long[]> after, int count) {
        roundTrips += count;
        Map<String, long[]> block = new TreeMap<>();
        for (Map.Entry<String, long[]> e : after.entrySet()) {
            long[] b = before.getOrDefault(e.getKey(), new long[2]);
            long[] d = {e.getValue()[0] - b[0], e.getValue()[1] - b[1]};
            block.put(e.getKey(), d);
            long[] sum = totals.computeIfAbsent(e.getKey(), k -> new long[2]);
            sum[0] += d[0];
            sum[1] += d[1];
        }
        blocks.add(format(block, count, BLOCK_MIN_PER_ROUND_TRIP));
    }

    /** Threads shown per block: at least this many switches of either kind per round trip. */
    static final double BLOCK_MIN_PER_ROUND_TRIP = 0.05;

    /** Each block added, as {@link #perRoundTrip} prints it (threads with at least 0.05 per round trip). */
    List<String> blocks() {
        return List.copyOf(blocks);
    }

    /** Round trips added so far. */
    long roundTrips() {
        return roundTrips;
    }

    /** Switches per thread name over everything added, voluntary then involuntary. */
    Map<String, long[]> totals() {
        return totals;
    }

    /**
     * The threads with at least {@code minPerRoundTrip} switches of either kind per round trip, as
     * {@code name v/i} per round trip, most switches first.
     */
    String perRoundTrip(double minPerRoundTrip) {
        return format(totals, roundTrips, minPerRoundTrip);
    }

    private static String format(Map<String, long[]> counts, long roundTrips, double minPerRoundTrip) {
        List<Map.Entry<String, long[]>> rows = new ArrayList<>(counts.entrySet());
        rows.sort((a, b) -> Long.compare(b.getValue()[0] + b.getValue()[1], a.getValue()[0] + a.getValue()[1]));
        List<String> parts = new ArrayList<>();
        double n = Math.max(1, roundTrips);
        for (Map.Entry<String, long[]> e : rows) {
            double v = e.getValue()[0] / n;
            double i = e.getValue()[1] / n;
            if (v >= minPerRoundTrip || i >= minPerRoundTrip) {
                parts.add(String.format(Locale.ROOT, "%s %.2f/%.2f", e.getKey(), v, i));
            }
        }
        return String.join(", ", parts);
    }

    /** The thread's name (at most 15 characters, as the kernel keeps it), or its id if it has gone. */
    private static String name(Path task) {
        try {
            return Files.readString(task.resolve("comm")).strip();
        } catch (IOException e) {
            return task.getFileName().toString();
        }
    }

    /** Voluntary and involuntary switches from a status file, or null if the thread has gone. */
    static long[] read(Path status) {
        List<String> lines;
        try {
            lines = Files.readAllLines(status);
        } catch (IOException e) {
            return null;
        }
        return parse(lines);
    }

    /**
     * Voluntary and involuntary switches from the lines of a status file.
     *
     * @throws IllegalArgumentException if either count is missing
     */
    static long[] parse(List<String> statusLines) {
        long voluntary = -1;
        long involuntary = -1;
        for (String line : statusLines) {
            if (line.startsWith("voluntary_ctxt_switches:")) {
                voluntary = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            } else if (line.startsWith("nonvoluntary_ctxt_switches:")) {
                involuntary = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            }
        }
        if (voluntary < 0 || involuntary < 0) {
            throw new IllegalArgumentException("no context switch counts in a status file: voluntary=" + voluntary
                + ", involuntary=" + involuntary + ", expected voluntary_ctxt_switches and nonvoluntary_ctxt_switches");
        }
        return new long[] {voluntary, involuntary};
    }
}
