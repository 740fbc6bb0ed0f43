package io.yatt.bench.controller;

import io.yatt.bench.JvmFlags;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ControllerMesh;
import io.yatt.controller.ControllerRendezvous;
import io.yatt.controller.DataBatch;
import io.yatt.controller.PayloadStats;
import io.yatt.controller.TensorRef;
import io.yatt.controller.WorkerGroup;
import io.yatt.controller.WorkerProcesses;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.agrona.CloseHelper;

/**
 * One controller of the step part of {@code yatt bench control}, as a process of its own: it joins the other C - 1
 * controllers through the rendezvous store ({@code RANK} = controller index, {@code WORLD_SIZE} = C,
 * {@code MASTER_ADDR}, {@code MASTER_PORT}), starts the worker JVMs of its DP slice ({@link StepWorkerMain}), and for
 * every batch size and path runs its share of the step after a step barrier of the controller mesh. It prints one
 * {@link #ROW_PREFIX} line per (batch, path): its own codec payload bytes ({@link ControlPlane#payloadStats()}), the
 * heap its JVM allocated, its live heap at the step's high point and the step's wall time.
 */
public final class StepController {

    /**
     * The serial collector's share (percent) of the old generation that a full collection may leave as dead objects
     * in place instead of compacting them away; the heap pools count them as used, so {@link #liveHeap} needs it at 0.
     */
    static final String DEAD_RATIO_OPTION = "MarkSweepDeadRatio";
    /** Full-collection requests {@link #liveHeap} makes before it gives up. */
    static final int FULL_GC_TRIES = 100;
    /** The worker role of the step part. */
    static final String ROLE = "step";
    /** Start of a result line on standard output. */
    static final String ROW_PREFIX = "step-row ";
    /** Flags of the step part's worker JVMs: the workers hold no batch on the heap (their rows are off-heap). */
    static final List<String> WORKER_JVM_FLAGS = JvmFlags.withExtra("-Xmx256m", "-XX:+UseSerialGC");

    private final ControlPlane plane;
    private final ControllerMesh mesh;
    private final WorkerGroup group;
    private final int sampleBytes;
    private final long timeoutNs;
    private final List<MemoryPoolMXBean> pools = ManagementFactory.getMemoryPoolMXBeans().stream()
        .filter(p -> p.getType() == MemoryType.HEAP).toList();
    private final GarbageCollectorMXBean fullCollector = fullCollector(pools, deadRatio());
    /** Live heap of this controller before its first step (workers registered, mesh joined); -1 until measured. */
    private long idleHeap = -1;
    private final com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private StepController(ControlPlane plane, ControllerMesh mesh, WorkerGroup group, int sampleBytes,
                           long timeoutNs) {
        this.plane = plane;
        this.mesh = mesh;
        this.group = group;
        this.sampleBytes = sampleBytes;
        this.timeoutNs = timeoutNs;
    }

    /** What this controller handled in one step. */
    record Measured(long encodedBytes, long decodedBytes, long allocatedBytes, long peakLiveBytes, long stepNs) {

        String line(int batch, String path) {
            return String.format(Locale.ROOT, "%s%d %s %d %d %d %d %d", ROW_PREFIX, batch, path, encodedBytes,
                decodedBytes, allocatedBytes, peakLiveBytes, stepNs);
        }
    }

    /**
     * Arguments: idle strategy, sample bytes, workers of this controller, batch sizes (whole step, all controllers,
     * comma-separated), paths (comma-separated), steps per configuration, timeout in seconds.
     *
     * @throws IllegalArgumentException if the arguments do not parse, naming them
     * @throws Exception if a step fails
     */
    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            throw new IllegalArgumentException("expected 7 arguments (idle, sample bytes, workers, batch sizes, paths,"
                + " steps, timeout seconds): got=" + List.of(args));
        }
        ControlPlane.Idle idle = ControlPlane.Idle.valueOf(args[0]);
        int sampleBytes = ControlBenchCommand.parseInts("sample bytes", args[1]).getFirst();
        int workers = ControlBenchCommand.parseInts("workers", args[2]).getFirst();
        List<Integer> batchSizes = ControlBenchCommand.parseInts("batch sizes", args[3]);
        List<String> paths = List.of(args[4].split(","));
        int steps = ControlBenchCommand.parseInts("steps", args[5]).getFirst();
        long timeoutNs = TimeUnit.SECONDS.toNanos(ControlBenchCommand.parseInts("timeout seconds", args[6]).getFirst());
        RendezvousConfig config = RendezvousConfig.fromEnvironment(System.getenv());
        int c = config.worldSize();
        // udp on loopback: the other controllers' planes live in other processes, behind other drivers
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().udp("127.0.0.1", 0)
            .jobName("bench-step-c" + c + "-" + config.rank()).threading(ControlPlane.Threading.SHARED).idle(idle)
            .heartbeatTimeoutNs(Math.max(ControlPlane.DEFAULT_HEARTBEAT_TIMEOUT_NS, TimeUnit.SECONDS.toNanos(5))));
        ControllerMesh mesh = null;
        WorkerProcesses launcher = null;
        try {
            mesh = ControllerRendezvous.joinMesh(config, plane, timeoutNs);
            launcher = WorkerProcesses.launch(plane, workers, javaBinary(), WORKER_JVM_FLAGS,
                System.getProperty("java.class.path"), StepWorkerMain.class.getName(), List.of(args[1]),
                java.util.Map.of());
            StepController controller = new StepController(plane, mesh, plane.group(ROLE, workers, timeoutNs),
                sampleBytes, timeoutNs);
            long step = 0;
            // every path in turn, batch sizes ascending: what the runtime keeps after an inline step never lands in
            // a reference row
            for (String path : paths) {
                for (int batch : batchSizes) {
                    Measured last = null;
                    for (int k = 0; k < steps; k++) {
                        last = controller.step(batch / c, path, step++);
                    }
                    System.out.println(last.line(batch, path));
                }
            }
            mesh.barrier(step);
            System.out.flush();
        } finally {
            try {
                ControlBenchCommand.stopWorkers(plane, launcher);
            } finally {
                CloseHelper.quietClose(launcher);
                CloseHelper.quietClose(mesh);
                plane.close();
            }
        }
    }

    /**
     * One step of {@code samples} samples (this controller's share) on {@code path}, after the controllers meet at
     * the step's barrier. Its peak is the live heap at the step's high point (everything the controller holds for the
     * step is live) above the idle controller's ({@link #idleHeap}, measured once before the first step): what the
     * runtime still holds from earlier steps counts, as it does in the controller's memory.
     */
    Measured step(int samples, String path, long step) throws Exception {
        mesh.barrier(step);
        plane.step(step);
        if (idleHeap < 0) {
            idleHeap = liveHeap();
        }
        long allocatedBefore = threads.getTotalThreadAllocatedBytes();
        PayloadStats before = plane.payloadStats();
        long startNs = System.nanoTime();
        long peak = switch (path) {
            case StepRow.INLINE -> inline(samples);
            case StepRow.REFERENCE -> reference(samples, step);
            default -> throw new IllegalArgumentException("unknown path: path=" + path + ", expected reference or"
                + " inline");
        };
        long stepNs = System.nanoTime() - startNs;
        PayloadStats after = plane.payloadStats();
        return new Measured(after.encodedBytes() - before.encodedBytes(), after.decodedBytes() - before.decodedBytes(),
            threads.getTotalThreadAllocatedBytes() - allocatedBefore, Math.max(0, peak - idleHeap), stepNs);
    }

    /**
     * The live heap now: a full collection, then the heap pools' usage as that collection left them
     * ({@link MemoryPoolMXBean#getCollectionUsage}). The pools' current usage would also count the thread-local
     * allocation buffers the agent threads claim right after the collection (up to megabytes, mostly empty). The JVM
     * skips a requested collection when another one ran meanwhile (a young one, for the agents' allocations), so the
     * request is repeated until the collector that manages every heap pool (the full one) has counted one more. The
     * JVM runs with {@code -XX:MarkSweepDeadRatio=0}: by default the serial full collection leaves dead objects in place
     * (up to 5 % of the old generation, and compacts fully only every fourth time), which the pools count as used: dead
     * samples of the previous inline step added 3-10 MB to a C = 4 controller's peak at 64K samples that way.
     *
     * @throws IllegalStateException if no full collection ran after {@link #FULL_GC_TRIES} requests
     */
    private long liveHeap() {
        for (int attempt = 0; attempt < FULL_GC_TRIES; attempt++) {
            long before = fullCollector.getCollectionCount();
            System.gc();
            if (fullCollector.getCollectionCount() == before) {
                continue;
            }
            long live = 0;
            for (MemoryPoolMXBean pool : pools) {
                MemoryUsage afterGc = pool.getCollectionUsage();
                if (afterGc != null) {
                    live += afterGc.getUsed();
                }
            }
            return live;
        }
        throw new IllegalStateException("no full collection ran: collector=" + fullCollector.getName() + ", tries="
            + FULL_GC_TRIES);
    }

    /**
     * Everything inline through the controller, as a driver that materialises the batch does: the controller asks the
     * workers for their samples in chunks of at most the 64 KiB inline limit, holds them all, then sends every chunk
     * to the next worker (rank j consumes rank j - 1's). Returns the live heap at the high point.
     */
    private long inline(int samples) {
        int w = group.size();
        int perWorker = samples / w;
        int chunk = (int) Math.max(1, TensorRef.DEFAULT_INLINE_LIMIT_BYTES / sampleBytes);
        List<List<?>> held = new ArrayList<>();
        for (int done = 0; done < perWorker; done += chunk) {
            List<Integer> counts = Collections.nCopies(w, Math.min(chunk, perWorker - done));
            held.add((List<?>) group.call(StepWorker.GENERATE_INLINE, counts));
        }
        long peak = liveHeap();
        long consumed = 0;
        for (List<?> results : held) {
            consumed += sum(group.call(StepWorker.CONSUME_INLINE, rotate(results)));
        }
        held.clear();
        if (consumed != (long) perWorker * w * sampleBytes) {
            throw new IllegalStateException("inline samples lost: consumed=" + consumed + ", expected="
                + (long) perWorker * w * sampleBytes);
        }
        return peak;
    }

    /**
     * The runtime's data by reference: every worker returns a DataBatch of its samples (above the inline limit, so its
     * rows stay in the worker's store and travel as a ReferenceColumn), the controller concatenates them (one run per
     * worker) and passes the batch on (DP_COMPUTE_METRIC: each worker's runtime pulls its chunk), the last pull of each
     * region frees it, and the step fails if ending it finds a live reference. Returns the live heap at the high point.
     */
    private long reference(int samples, long step) {
        int perWorker = samples / group.size();
        List<DataBatch> produced = new ArrayList<>();
        DataBatch all;
        try {
            for (Object o : (List<?>) group.call(StepWorker.GENERATE_BATCH, perWorker)) {
                produced.add((DataBatch) o);
            }
            all = DataBatch.concat(produced);
        } finally {
            for (DataBatch b : produced) {
                b.close();
            }
        }
        long peak;
        long pulled;
        try (all) {
            peak = liveHeap();
            pulled = sum(group.call(StepWorker.CONSUME_BATCH, all));
        }
        long expected = (long) perWorker * group.size() * sampleBytes;
        if (pulled != expected) {
            throw new IllegalStateException("pulled bytes differ from the step's samples: pulled=" + pulled
                + ", expected=" + expected);
        }
        List<String> left = group.endStep(step);
        if (!left.isEmpty()) {
            throw new IllegalStateException("references live after the step: step=" + step + ", live=" + left);
        }
        return peak;
    }

    /** This JVM's {@link #DEAD_RATIO_OPTION}. */
    private static String deadRatio() {
        return ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
            .getVMOption(DEAD_RATIO_OPTION).getValue();
    }

    /**
     * The collector that manages every heap pool (the serial collector's MarkSweepCompact), given this JVM's
     * {@link #DEAD_RATIO_OPTION}.
     *
     * @throws IllegalStateException if there is none (a collector without a full collection of every pool), or if
     *     its full collections may leave dead objects in place (the dead ratio is not 0)
     */
    private static GarbageCollectorMXBean fullCollector(List<MemoryPoolMXBean> pools, String deadRatio) {
        if (!deadRatio.equals("0")) {
            throw new IllegalStateException("full collections would leave dead objects counted as used: "
                + DEAD_RATIO_OPTION + "=" + deadRatio + ", expected 0 (-XX:" + DEAD_RATIO_OPTION + "=0)");
        }
        List<String> names = pools.stream().map(MemoryPoolMXBean::getName).toList();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (List.of(gc.getMemoryPoolNames()).containsAll(names)) {
                return gc;
            }
        }
        throw new IllegalStateException("no collector manages every heap pool: pools=" + names + ", expected the"
            + " serial collector (-XX:+UseSerialGC)");
    }

    /** Element j of the result is element j - 1 of the input: worker j consumes what worker j - 1 produced. */
    private static List<Object> rotate(List<?> values) {
        int w = values.size();
        List<Object> rotated = new ArrayList<>(w);
        for (int j = 0; j < w; j++) {
            rotated.add(values.get((j - 1 + w) % w));
        }
        return rotated;
    }

    private static long sum(Object results) {
        long total = 0;
        for (Object o : (List<?>) results) {
            total += ((Number) o).longValue();
        }
        return total;
    }

    private static String javaBinary() {
        return ProcessHandle.current().info().command().orElseThrow(
            () -> new IllegalStateException("cannot tell this JVM's java binary"));
    }
}
