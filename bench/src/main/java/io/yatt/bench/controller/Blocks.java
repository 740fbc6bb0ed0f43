package io.yatt.bench.controller;

import java.util.ArrayList;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * Runs the round trips of several paths in alternating blocks (A, B, C, A, B, C, ...) after warming each up, so that
 * whatever the machine does meanwhile (other load, a frequency change, an idle strategy falling into its park phase)
 * hits every path alike; a path's histogram is merged over its blocks and each block's p50 is kept, so spread between
 * blocks is visible.
 */
final class Blocks {

    /** One path: {@code count} round trips, recorded in nanoseconds into {@code into} ({@code null}: warm-up). */
    @FunctionalInterface
    interface Path {
        void run(int count, Histogram into) throws Exception;
    }

    /**
     * What one path measured.
     *
     * @param merged      every timed round trip of the path, over all its blocks
     * @param blockP50sNs the p50 of each block, in run order
     */
    record Result(Histogram merged, List<Long> blockP50sNs) {
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
     * Warms every path up ({@code warmup} round trips each, in order), then runs block b of every path in turn for
     * b = 0..blocks-1.
     *
     * @return one result per path, in the order of {@code paths}
     * @throws Exception whatever a path throws
     */
    static List<Result> run(List<Path> paths, int warmup, int iterations, int blocks) throws Exception {
        int[] sizes = sizes(iterations, blocks);
        for (Path p : paths) {
            if (warmup > 0) {
                p.run(warmup, null);
            }
        }
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < paths.size(); i++) {
            results.add(new Result(LatencyRow.newHistogram(), new ArrayList<>()));
        }
        Histogram block = LatencyRow.newHistogram();
        for (int size : sizes) {
            for (int i = 0; i < paths.size(); i++) {
                block.reset();
                paths.get(i).run(size, block);
                results.get(i).merged().add(block);
                results.get(i).blockP50sNs().add(block.getValueAtPercentile(50));
            }
        }
        return results;
    }
}
