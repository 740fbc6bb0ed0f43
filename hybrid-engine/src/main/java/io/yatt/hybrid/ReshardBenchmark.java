package io.yatt.hybrid;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorWorld;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.InProcessWorld;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaEvent;
import io.yatt.ffi.cuda.CudaStream;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The reusable routine behind {@code yatt bench reshard}: {@link #runRank} runs on one rank's world communicator (a
 * thread of the in-process backend, or one shm process): it times one scheme's train-to-generation transition
 * ({@link HybridEngine#updateWeights()}; the baselines' gather buffer is allocated by {@link HybridEngine#resume()}
 * before the clock starts, which favours them) {@code repeats} times after a common barrier, after one untimed
 * warm-up transition, measures the bytes
 * received (counted by the communicators), the generation allocator's peak and the peak of everything the transition
 * allocated (scratch of the collectives included), then the copy floor: every rank copying its bytes received between two
 * host buffers with one memcpy, all ranks at once, in the same run. Per repeat the slowest rank counts; the result is
 * the median. Each rank also reports the median CPU time of its thread over the same transitions and floor copies
 * ({@link Result#cpuMsPerRank()}, {@link Result#floorCpuMsPerRank()}): where ranks share cores (8 shm rank JVMs on 2
 * vCPUs) wall time is at least the sum of all ranks' CPU time over the cores, so the two tell copy work from waiting.
 * On a CUDA device ({@link #runRank(ReshardPlan, Communicator, Allocator, int, Device)}) the engine's
 * buffers are device memory and the floor is a device-to-device {@code cudaMemcpyAsync} of the same bytes, timed with
 * CUDA events. Rank 0 (every rank, in fact) gets every rank's numbers through the communicator. Not thread-safe; one
 * run per communicator at a time.
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
     * @param peakParamBytesPerRank measured peak parameter bytes (the generation allocator), per rank
     * @param peakBytesPerRank measured peak of every byte allocated for the transition (generation buffer and the
     *        collectives' scratch), per rank
     * @param plannedBytesReceivedPerRank the plan's bytes received, per rank
     * @param timeMs median transition time over repeats (slowest rank)
     * @param floorMs median time for every rank to memcpy its bytes received, concurrently (slowest rank)
     * @param cpuMsPerRank per rank, the median over repeats of its thread's CPU time during the transition
     * @param floorCpuMsPerRank per rank, the median over repeats of its thread's CPU time during the floor's copy (0
     *        on a CUDA device, whose floor is timed with events)
     */
    public record Result(ReshardScheme scheme, long modelBytes, long[] bytesReceivedPerRank,
                         long[] peakParamBytesPerRank, long[] peakBytesPerRank, long[] plannedBytesReceivedPerRank,
                         double timeMs,
                         double floorMs, double[] cpuMsPerRank, double[] floorCpuMsPerRank) {
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private ReshardBenchmark() {
    }

    /**
     * Runs the benchmark on an in-process world of {@code plan.layout().worldSize()} ranks (threads) whose every
     * collective call has the deadline {@code timeoutNs}.
     *
     * @throws IllegalArgumentException if repeats or the deadline is not positive
     * @throws IllegalStateException if a rank fails
     */
    public static Result runInProcess(ReshardPlan plan, int repeats, long timeoutNs) {
        requirePositive(repeats);
        HybridLayout layout = plan.layout();
        ReshardScheme scheme = plan.scheme();
        int n = layout.worldSize();
        Communicator.Context context = new Communicator.Context().timeoutNs(timeoutNs).conclude();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (InProcessWorld world = InProcessWorld.create(n, context)) {
            List<Future<Result>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                Communicator comm = world.communicator(r);
                int rank = r;
                futures.add(pool.submit(() -> {
                    try (Allocator root = Allocator.root("bench-rank" + rank)) {
                        return runRank(plan, comm, root, repeats);
                    }
                }));
            }
            Result result = null;
            for (Future<Result> f : futures) {
                Result r = f.get();
                result = result == null ? r : result;
            }
            return result;
        } catch (Exception e) {
            throw new IllegalStateException("reshard benchmark failed: scheme=" + scheme + ", layout=" + layout, e);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Runs the benchmark as rank {@code world.rank()}; collective over {@code world} (every rank calls it with the
     * same plan and repeats). Returns the same result on every rank.
     *
     * @throws IllegalArgumentException if repeats is not positive or the world does not match the plan
     */
    public static Result runRank(ReshardPlan plan, Communicator world, Allocator allocator, int repeats) {
        return runRank(plan, world, allocator, repeats, Device.host());
    }

    /**
     * Runs the benchmark on an in-process world of cuda-local ranks, rank {@code r} a thread on CUDA device
     * {@code devices[r]}, with the engine's buffers on the device; the floor is the device-to-device copy of each
     * rank's bytes received, all ranks at once.
     *
     * @throws IllegalArgumentException if repeats or the deadline is not positive, or {@code devices} does not have one
     *         entry per rank of the plan
     * @throws IllegalStateException if there is no CUDA device or a rank fails
     */
    public static Result runCudaLocal(ReshardPlan plan, int repeats, long timeoutNs, int[] devices) {
        requirePositive(repeats);
        HybridLayout layout = plan.layout();
        int n = layout.worldSize();
        if (devices.length != n) {
            throw new IllegalArgumentException("one device per rank expected: devices=" + devices.length
                    + ", ranks=" + n);
        }
        Communicator.Context context = new Communicator.Context().timeoutNs(timeoutNs).conclude();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (CommunicatorWorld world = Communicators.cudaLocal(devices, context)) {
            List<Future<Result>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                Communicator comm = world.communicator(r);
                int rank = r;
                futures.add(pool.submit(() -> {
                    try (Allocator root = Allocator.root("bench-rank" + rank)) {
                        return runRank(plan, comm, root, repeats, Device.cuda(devices[rank]));
                    }
                }));
            }
            Result result = null;
            for (Future<Result> f : futures) {
                Result r = f.get();
                result = result == null ? r : result;
            }
            return result;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("reshard benchmark failed: scheme=" + plan.scheme() + ", layout=" + layout
                    + ", backend=cuda-local", e);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * {@link #runRank(ReshardPlan, Communicator, Allocator, int)} with the engine's buffers on {@code device}: a CUDA
     * device for the cuda-local and nccl backends, whose floor is then a {@code cudaMemcpyAsync} device-to-device
     * copy of this rank's bytes received, timed with CUDA events (all ranks at once).
     *
     * @throws IllegalArgumentException if repeats is not positive or the world does not match the plan
     */
    public static Result runRank(ReshardPlan plan, Communicator world, Allocator allocator, int repeats,
                                 Device device) {
        requirePositive(repeats);
        int rank = world.rank();
        int n = world.size();
        long[] times = new long[repeats];
        long[] floors = new long[repeats];
        long[] cpus = new long[repeats];
        long[] floorCpus = new long[repeats];
        long received = 0;
        long peak;
        long peakAll;
        try (HybridEngine engine = HybridEngine.create(plan, rank, world, allocator, device)) {
            long seed = 1;
            for (Tensor w : engine.trainingWeights().values()) {
                w.fillRandom(seed++ * 7919 + rank);
            }
            // one untimed transition first: JIT-compiles the copy paths and touches every buffer once
            engine.toGeneration();
            engine.toTraining();
            for (int i = 0; i < repeats; i++) {
                engine.resume();
                world.barrier();
                long cpu = THREADS.getCurrentThreadCpuTime();
                long start = System.nanoTime();
                engine.updateWeights();
                times[i] = System.nanoTime() - start;
                cpus[i] = THREADS.getCurrentThreadCpuTime() - cpu;
                received = engine.lastTransition().bytesReceived();
                engine.toTraining();
            }
            peak = engine.lastTransition().peakParameterBytes();
            peakAll = engine.lastTransition().peakBytes();
        }
        if (device.isHost()) {
            try (Tensor src = Tensor.allocate(allocator, DType.U8, Shape.of(Math.max(1, received)), Device.host());
                 Tensor dst = Tensor.allocate(allocator, DType.U8, Shape.of(Math.max(1, received)), Device.host())) {
                src.fillRandom(rank);
                dst.copyFrom(src);
                for (int i = 0; i < repeats; i++) {
                    world.barrier();
                    long cpu = THREADS.getCurrentThreadCpuTime();
                    long start = System.nanoTime();
                    dst.copyFrom(src);
                    floors[i] = System.nanoTime() - start;
                    floorCpus[i] = THREADS.getCurrentThreadCpuTime() - cpu;
                }
            }
        } else {
            deviceFloor(world, allocator, device, received, floors);
        }
        int fields = 5 + 2 * repeats;
        // on the engine's device: the device backends take device tensors only
        try (Tensor mine = Tensor.allocate(allocator, DType.I64, Shape.of(fields), device);
             Tensor all = Tensor.allocate(allocator, DType.I64, Shape.of((long) n * fields), device)) {
            mine.setDouble(received, 0);
            mine.setDouble(peak, 1);
            mine.setDouble(peakAll, 2);
            mine.setDouble(Math.round(medianMs(cpus) * 1e6), 3);
            mine.setDouble(Math.round(medianMs(floorCpus) * 1e6), 4);
            for (int i = 0; i < repeats; i++) {
                mine.setDouble(times[i], 5 + i);
                mine.setDouble(floors[i], 5 + repeats + i);
            }
            if (!device.isHost()) {
                Cuda.setDevice(device.ordinal());
                Cuda.deviceSynchronize(); // the element writes have landed before peers on other devices read them
            }
            world.allGather(mine, all);
            long[] receivedPerRank = new long[n];
            long[] peakPerRank = new long[n];
            long[] peakAllPerRank = new long[n];
            long[] slowest = new long[repeats];
            long[] slowestFloor = new long[repeats];
            double[] cpuPerRank = new double[n];
            double[] floorCpuPerRank = new double[n];
            for (int r = 0; r < n; r++) {
                long base = (long) r * fields;
                receivedPerRank[r] = (long) all.getDouble(base);
                peakPerRank[r] = (long) all.getDouble(base + 1);
                peakAllPerRank[r] = (long) all.getDouble(base + 2);
                cpuPerRank[r] = all.getDouble(base + 3) / 1e6;
                floorCpuPerRank[r] = all.getDouble(base + 4) / 1e6;
                for (int i = 0; i < repeats; i++) {
                    slowest[i] = Math.max(slowest[i], (long) all.getDouble(base + 5 + i));
                    slowestFloor[i] = Math.max(slowestFloor[i], (long) all.getDouble(base + 5 + repeats + i));
                }
            }
            return new Result(plan.scheme(), plan.modelBytes(), receivedPerRank, peakPerRank, peakAllPerRank,
                    plan.bytesReceivedPerRank(), medianMs(slowest), medianMs(slowestFloor), cpuPerRank,
                    floorCpuPerRank);
        }
    }

    /**
     * The device copy floor: per repeat, after a barrier, one {@code cudaMemcpyAsync} device-to-device of
     * {@code byteSize} bytes on a stream of this rank, timed between two CUDA events.
     */
    private static void deviceFloor(Communicator world, Allocator allocator, Device device, long byteSize,
                                    long[] floors) {
        int ordinal = device.ordinal();
        Cuda.setDevice(ordinal);
        long bytes = Math.max(1, byteSize);
        try (CudaStream stream = CudaStream.create(ordinal);
             CudaEvent start = CudaEvent.create(ordinal, true);
             CudaEvent end = CudaEvent.create(ordinal, true);
             Tensor src = Tensor.allocate(allocator, DType.U8, Shape.of(bytes), device);
             Tensor dst = Tensor.allocate(allocator, DType.U8, Shape.of(bytes), device)) {
            src.fillRandom(world.rank());
            Cuda.memcpyAsync(dst.dataPointer(), src.dataPointer(), bytes, stream); // warm-up
            stream.synchronize();
            for (int i = 0; i < floors.length; i++) {
                world.barrier();
                start.record(stream);
                Cuda.memcpyAsync(dst.dataPointer(), src.dataPointer(), bytes, stream);
                end.record(stream);
                end.synchronize();
                floors[i] = Math.round(start.elapsedMillis(end) * 1e6);
            }
        }
    }

    private static void requirePositive(int repeats) {
        if (repeats <= 0) {
            throw new IllegalArgumentException("repeats must be positive: repeats=" + repeats);
        }
    }

    private static double medianMs(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        int m = sorted.length / 2;
        double median = sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2.0;
        return median / 1e6;
    }
}
