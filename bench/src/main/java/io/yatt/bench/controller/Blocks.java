package io.yatt.bench.controller;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;

/**
 * Runs the round trips of several paths in alternating blocks (A, B, C, A, B, C, ...) after warming each up the same
 * way, so that whatever the machine does meanwhile (other load, a frequency change, an idle strategy falling into its
 * park phase) hits every path alike; a path's histogram is merged over its blocks and each block's p50 is kept, so
 * spread between blocks is visible.
 */
final class Blocks {

    /** Target duration of one warm-up chunk: the chunk's size follows the path's speed. */
    static final long CHUNK_NS = TimeUnit.MILLISECONDS.toNanos(100);
    /** Round trips of the first warm-up chunk (then sized to {@link #CHUNK_NS}). */
    static final int FIRST_CHUNK = 100;
    /** Smallest and largest warm-up chunk, in round trips. */
    static final int MIN_CHUNK = 10;
    static final int MAX_CHUNK = 100_000;
    /** A chunk p50 lower than the best so far by more than this fraction counts as still falling. */
    static final double FALLING_FRACTION = 0.10;
    /** Chunks in a row that must not fall before a path counts as steady. */
    static final int STEADY_CHUNKS = 3;

    /** One path: {@code count} round trips, recorded in nanoseconds into {@code into} ({@code null}: not recorded). */
    @FunctionalInterface
    interface Path {
        void run(int count, Histogram into) throws Exception;
    }

    /** Runs one timed block of path {@code path} ({@code count} round trips): observers wrap it, e.g. to count. */
    @FunctionalInterface
    interface Around {
        /** Runs nothing around the block. */
        Around NONE = (path, count, block) -> block.call();

        void block(int path, int count, Callable<Void> block) throws Exception;
    }

    /** How every path is warmed up before its timed blocks (all paths alike). */
    sealed interface Warmup permits Fixed, Steady {
    }

    /** Exactly {@code calls} untimed round trips (the {@code --warmup N} override). */
    record Fixed(int calls) implements Warmup {
    }

    /**
     * Round trips in chunks of about {@link #CHUNK_NS} until the path is warm: at least {@code minCalls} round trips
     * (the JIT compiles a method at full optimisation after some 10 000 calls) and {@code minTimeNs}, and the chunk
     * p50s have stopped falling ({@link #STEADY_CHUNKS} chunks in a row without a p50 more than
     * {@link #FALLING_FRACTION} below the best before); or until {@code maxTimeNs}, whichever comes first.
     */
    record Steady(int minCalls, long minTimeNs, long maxTimeNs) implements Warmup {
    }

    /** The default warm-up: 20 000 round trips and 1 s, p50s no longer falling, at most 5 s per path. */
    static final Steady DEFAULT_WARMUP = new Steady(20_000, TimeUnit.SECONDS.toNanos(1), TimeUnit.SECONDS.toNanos(5));

    /**
     * How one path's warm-up went.
     *
     * @param calls     untimed round trips run
     * @param elapsedNs how long they took
     * @param steady    whether the path ended warm by the rule ({@code false}: stopped at the time limit)
     */
    record WarmedUp(long calls, long elapsedNs, boolean steady) {
    }

    /**
     * What one path measured.
     *
     * @param merged      every timed round trip of the path, over all its blocks
     * @param blockP50sNs the p50 of each block, in run order
     * @param warmedUp    its warm-up
     */
    record Result(Histogram merged, List<Long> blockP50sNs, WarmedUp warmedUp) {
    }

    private Blocks() {
    }

    /**
     * Round trips per block: {@code iterations} split into {@code blocks} as evenly as possible, the first blocks one
     * larger when it does not divide.
     *
     * @throws IllegalArgumentException if blocks is not in 1..iterations
     */
    static int[] sizes(int iterations, int blocks) {
        if (blocks < 1 || blocks > iterations) {
            throw new IllegalArgumentException("blocks out of range: blocks=" + blocks + ", expected=1.." + iterations
                + " (the iterations)");
        }
        int[] sizes = new int[blocks];
        for (int b = 0; b < blocks; b++) {
            sizes[b] = iterations / blocks + (b < iterations % blocks ? 1 : 0);
        }
        return sizes;
    }

    /**
     * Warms every path up in order, each by the same rule, then runs block b of every path in turn for
     * b = 0..blocks-1.
     *
     * @return one result per path, in the order of {@code paths}
     * @throws Exception whatever a path throws
     */
    static List<Result> run(List<Path> paths, Warmup warmup, int iterations, int blocks) throws Exception {
        return run(paths, warmup, iterations, blocks, System::nanoTime, Around.NONE);
    }

    /**
     * {@link #run(List, Warmup, int, int)} on the clock {@code nanoTime}, every timed block run through {@code around}.
     */
    static List<Result> run(List<Path> paths, Warmup warmup, int iterations, int blocks, LongSupplier nanoTime,
                            Around around) throws Exception {
        int[] sizes = sizes(iterations, blocks);
        List<Result> results = new ArrayList<>();
        for (Path p : paths) {
            results.add(new Result(LatencyRow.newHistogram(), new ArrayList<>(), warmUp(p, warmup, nanoTime)));
        }
        Histogram block = LatencyRow.newHistogram();
        for (int size : sizes) {
            for (int i = 0; i < paths.size(); i++) {
                block.reset();
                Path p = paths.get(i);
                around.block(i, size, () -> {
                    p.run(size, block);
                    return null;
                });
                results.get(i).merged().add(block);
                results.get(i).blockP50sNs().add(block.getValueAtPercentile(50));
            }
        }
        return results;
    }

    /**
     * Warms one path up by {@code warmup}.
     *
     * @throws Exception whatever the path throws
     */
    static WarmedUp warmUp(Path path, Warmup warmup, LongSupplier nanoTime) throws Exception {
        long startNs = nanoTime.getAsLong();
        return switch (warmup) {
            case Fixed f -> {
                if (f.calls() > 0) {
                    path.run(f.calls(), null);
                }
                yield new WarmedUp(f.calls(), nanoTime.getAsLong() - startNs, true);
            }
            case Steady s -> steady(path, s, nanoTime, startNs);
        };
    }

    private static WarmedUp steady(Path path, Steady s, LongSupplier nanoTime, long startNs) throws Exception {
        Histogram chunk = LatencyRow.newHistogram();
        long calls = 0;
        int size = FIRST_CHUNK;
        long best = Long.MAX_VALUE;
        int notFalling = 0;
        while (true) {
            chunk.reset();
            long chunkStartNs = nanoTime.getAsLong();
            path.run(size, chunk);
            long nowNs = nanoTime.getAsLong();
            calls += size;
            long p50 = chunk.getValueAtPercentile(50);
            if (p50 < best * (1 - FALLING_FRACTION)) {
                notFalling = 0;
            } else {
                notFalling++;
            }
            best = Math.min(best, p50);
            long elapsedNs = nowNs - startNs;
            if (calls >= s.minCalls() && elapsedNs >= s.minTimeNs() && notFalling >= STEADY_CHUNKS) {
                return new WarmedUp(calls, elapsedNs, true);
            }
            if (elapsedNs >= s.maxTimeNs()) {
                return new WarmedUp(calls, elapsedNs, false);
            }
            long chunkNs = Math.max(1, nowNs - chunkStartNs);
            size = (int) Math.clamp((double) size * CHUNK_NS / chunkNs, MIN_CHUNK, MAX_CHUNK);
        }
    }
}
