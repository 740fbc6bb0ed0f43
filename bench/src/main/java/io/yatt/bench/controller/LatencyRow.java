package io.yatt.bench.controller;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * One round-trip measurement: the path (controller call, raw Aeron, gRPC), its transport and worker count, and the
 * percentiles of the recorded HdrHistogram in nanoseconds.
 *
 * @param transport  ipc, udp, or tcp (gRPC)
 * @param path       {@link #CONTROLLER}, {@link #RAW_AERON} or {@link #GRPC}
 * @param workers    workers (pongs, servers) answering each round trip
 * @param iterations recorded round trips
 * @param p50Ns      median
 * @param p99Ns      99th percentile
 * @param p999Ns     99.9th percentile
 * @param maxNs      slowest
 * @param blockP50sNs the median of each block the round trips ran in, in run order
 * @param warmedUp   how the path was warmed up before its blocks
 * @param threadSwitches context switches per round trip by thread over the blocks ({@link ThreadSwitches}), or
 *                   empty when not counted
 * @param blockThreadSwitches the same per block, in run order (empty when not counted)
 */
record LatencyRow(String transport, String path, int workers, long iterations, long p50Ns, long p99Ns, long p999Ns,
                  long maxNs, List<Long> blockP50sNs, Blocks.WarmedUp warmedUp,
                  String threadSwitches, List<String> blockThreadSwitches) {

    LatencyRow {
        blockP50sNs = List.copyOf(blockP50sNs);
        blockThreadSwitches = List.copyOf(blockThreadSwitches);
    }

    static final String CONTROLLER = "controller";
    static final String RAW_AERON = "raw-aeron";
    static final String GRPC = "grpc";

    /** Histograms up to 60 s at three significant digits. */
    static Histogram newHistogram() {
        return new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
    }

    /** The row of one path's blocks: percentiles of the merged histogram, and each block's median. */
    static LatencyRow of(String transport, String path, int workers, Blocks.Result r, ThreadSwitches switches) {
        Histogram h = r.merged();
        return new LatencyRow(transport, path, workers, h.getTotalCount(), h.getValueAtPercentile(50),
                h.getValueAtPercentile(99), h.getValueAtPercentile(99.9), h.getMaxValue(), r.blockP50sNs(),
                r.warmedUp(),
                switches == null ? "" : switches.perRoundTrip(0.01),
                switches == null ? List.of() : switches.blocks());
    }
}
