package io.yatt.hybrid;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import io.yatt.tensor.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The reusable routine behind {@code yatt bench reshard} on the in-process backend: runs one scheme's
 * train-to-generation transition {@code repeats} times on N rank threads and reports measured bytes received and
 * peak parameter bytes per rank, the median transition time (slowest rank per repeat), and the copy floor (the same
 * bytes copied by N concurrent threads with plain memcpy, measured in the same run). Not thread-safe; one run at a
 * time.
 */
public final class ReshardBenchmark {

    /** Default deadline of the benchmark's collectives: 120 seconds. */
    public static final long DEFAULT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(120);

    /**
     * One scheme's results.
     *
     * @param scheme the scheme
     * @param modelBytes {@code M}
     * @param bytesReceivedPerRank measured bytes received, per rank
     * @param peakParamBytesPerRank measured peak parameter bytes, per rank
     * @param plannedBytesReceivedPerRank the plan's bytes received, per rank
     * @param timeMs median transition time over repeats (slowest rank)
     * @param floorMs median time for every rank to memcpy its bytes received, concurrently
     */
    public record Result(ReshardScheme scheme, long modelBytes, long[] bytesReceivedPerRank,
                         long[] peakParamBytesPerRank, long[] plannedBytesReceivedPerRank, double timeMs,
                         double floorMs) {
    }

    private ReshardBenchmark() {
    }

    /**
     * Runs the benchmark on an in-process world of {@code layout.worldSize()} ranks.
     *
     * @throws IllegalArgumentException if repeats is not positive or the model does not fit the layout
     * @throws IllegalStateException if a rank fails
     */
    public static Result runInProcess(HybridLayout layout, ModelSpec spec, ReshardScheme scheme, int repeats) {
        if (repeats <= 0) {
            throw new IllegalArgumentException("repeats must be positive: repeats=" + repeats);
        }
        ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
        int n = layout.worldSize();
        long[] received = new long[n];
        long[] peak = new long[n];
        long[][] rankTimes = new long[n][repeats];
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (InProcessWorld world = InProcessWorld.create(n, new Communicator.Context().timeoutNs(DEFAULT_TIMEOUT_NS))) {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    Communicator comm = world.communicator(rank);
                    try (Allocator root = Allocator.root("bench-rank" + rank);
                         HybridEngine engine = HybridEngine.create(plan, rank, comm, root)) {
                        long seed = 1;
                        for (Tensor w : engine.trainingWeights().values()) {
                            w.fillRandom(seed++ * 7919 + rank);
                        }
                        for (int i = 0; i < repeats; i++) {
                            comm.barrier();
                            long start = System.nanoTime();
                            engine.toGeneration();
                            rankTimes[rank][i] = System.nanoTime() - start;
                            received[rank] = engine.lastTransition().bytesReceived();
                            engine.toTraining();
                        }
                        peak[rank] = engine.generationAllocator().peakBytes();
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } catch (Exception e) {
            throw new IllegalStateException("reshard benchmark failed: scheme=" + scheme + ", layout=" + layout, e);
        } finally {
            pool.shutdownNow();
        }
        long[] perRepeat = new long[repeats];
        for (int i = 0; i < repeats; i++) {
            for (int r = 0; r < n; r++) {
                perRepeat[i] = Math.max(perRepeat[i], rankTimes[r][i]);
            }
        }
        return new Result(scheme, plan.modelBytes(), received, peak, plan.bytesReceivedPerRank(),
                medianMs(perRepeat), copyFloorMs(plan.bytesReceivedPerRank(), repeats));
    }

    /**
     * The copy floor: the median wall time for {@code bytesPerRank.length} threads to each copy its bytes between
     * two host buffers at the same time.
     *
     * @throws IllegalStateException if a thread fails
     */
    public static double copyFloorMs(long[] bytesPerRank, int repeats) {
        int n = bytesPerRank.length;
        long[] times = new long[repeats];
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (Allocator root = Allocator.root("copy-floor")) {
            List<Tensor> src = new ArrayList<>();
            List<Tensor> dst = new ArrayList<>();
            for (long bytes : bytesPerRank) {
                long elements = Math.max(1, bytes);
                src.add(Tensor.allocate(root, DType.U8, Shape.of(elements), Device.host()));
                dst.add(Tensor.allocate(root, DType.U8, Shape.of(elements), Device.host()));
            }
            CyclicBarrier start = new CyclicBarrier(n + 1);
            CyclicBarrier end = new CyclicBarrier(n + 1);
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                Tensor s = src.get(r);
                Tensor d = dst.get(r);
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < repeats + 1; i++) {
                        start.await();
                        d.copyFrom(s);
                        end.await();
                    }
                    return null;
                }));
            }
            for (int i = 0; i < repeats + 1; i++) {
                start.await();
                long t0 = System.nanoTime();
                end.await();
                if (i > 0) {
                    times[i - 1] = System.nanoTime() - t0;
                }
            }
            for (Future<?> f : futures) {
                f.get();
            }
            for (Tensor t : src) {
                t.close();
            }
            for (Tensor t : dst) {
                t.close();
            }
        } catch (Exception e) {
            throw new IllegalStateException("copy floor measurement failed", e);
        } finally {
            pool.shutdownNow();
        }
        return medianMs(times);
    }

    private static double medianMs(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        int m = sorted.length / 2;
        double median = sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2.0;
        return median / 1e6;
    }
}
