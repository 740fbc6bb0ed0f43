package io.yatt.bench.collectives;

import io.yatt.bench.JvmFlags;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.ShmContext;
import io.yatt.collectives.cudalocal.CudaLocalWorld;
import io.yatt.collectives.nccl.NcclGpuCommunicator;
import io.yatt.collectives.shm.ShmCommunicator;
import io.yatt.collectives.shm.ShmLauncher;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaStatus;
import io.yatt.ffi.nccl.Nccl;
import io.yatt.ffi.nccl.NcclUniqueId;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * {@code yatt bench collectives}: an nccl-tests style sweep of a {@link Communicator} backend. It launches the ranks
 * itself: threads for {@code in-process}, one JVM per rank for {@code shm} (same java binary and class path, the
 * Yatt JVM flags, torchrun-style variables and a loopback rendezvous store served by this process). Rank 0 prints
 * one row per size with the out-of-place and in-place halves (size (B), count, type, redop, root, time (us), algbw,
 * busbw (GB/s), #wrong), or one JSON object per half with {@code --json}.
 *
 * <p>Backends plug in through {@link SweepBackend}: {@code nccl} (rank r on GPU r) and {@code cuda-local} (every rank
 * on GPU 0) run one thread per rank with device buffers, and report a clear error and exit 2 without a GPU.
 */
@Command(name = "collectives", mixinStandardHelpOptions = true,
    description = "nccl-tests style sweep of a collectives backend (busbw factors: all_gather/reduce_scatter (n-1)/n, "
        + "all_reduce 2(n-1)/n, broadcast 1).")
public final class CollectivesSweepCommand implements Callable<Integer> {
    /** JVM flags the shm rank processes run with. */
    static final List<String> RANK_JVM_FLAGS = JvmFlags.withExtra("-XX:+UseSerialGC", "-Xms256m");

    @Option(names = "--backend", defaultValue = "shm", description = "shm | in-process | nccl | cuda-local (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = {"--np", "-n"}, defaultValue = "2", description = "number of ranks (default ${DEFAULT-VALUE})")
    int np;

    @Option(names = "--op", defaultValue = "all", split = ",",
        description = "all_gather, reduce_scatter, all_reduce, broadcast, reduce, all_to_all or all (comma list)")
    List<String> ops;

    @Option(names = {"--min", "-b"}, defaultValue = "4K", description = "smallest full-buffer size (default ${DEFAULT-VALUE})")
    String min;

    @Option(names = {"--max", "-e"}, defaultValue = "256M", description = "largest full-buffer size (default ${DEFAULT-VALUE})")
    String max;

    @Option(names = {"--factor", "-f"}, defaultValue = "2", description = "size multiplier (default ${DEFAULT-VALUE})")
    int factor;

    @Option(names = "--dtype", defaultValue = "f32", description = "element type (default ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--redop", defaultValue = "sum", description = "sum, prod, max, min, avg (default ${DEFAULT-VALUE})")
    String redop;

    @Option(names = "--root", defaultValue = "0", description = "root of broadcast/reduce (default ${DEFAULT-VALUE})")
    int root;

    @Option(names = "--iters", defaultValue = "0", description = "timed iterations per point (0: about 0.2 s worth)")
    int iters;

    @Option(names = "--warmup", defaultValue = "3",
        description = "warm-up calls per point; 0 also skips the JIT warm-up (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--check", negatable = true, defaultValue = "true", fallbackValue = "true",
        description = "check results and count #wrong (default ${DEFAULT-VALUE})")
    boolean check;

    @Option(names = "--json", description = "one JSON object per row half")
    boolean json;

    @Option(names = "--buffers", defaultValue = "shm",
        description = "shm: tensors in the communicator's shared arena (zero-copy); heap: plain host tensors (staged)")
    String buffers;

    @Option(names = "--timeout-s", defaultValue = "120", description = "deadline of every collective call, seconds")
    long timeoutS;

    @Option(names = "--spin-us", defaultValue = "50",
        description = "shm: how long a waiting rank spins before it yields, then sleeps on the peer's doorbell after"
            + " max(spin, 1 ms) (ShmContext.spinNs; default ${DEFAULT-VALUE})")
    long spinUs;

    @Option(names = "--bind", negatable = true, defaultValue = "true", fallbackValue = "true",
        description = "pin shm rank r to CPU r when np <= CPUs, as mpirun binds to cores (default ${DEFAULT-VALUE})")
    boolean bind;

    @Option(names = "--rank-process", hidden = true, description = "internal: run as one shm rank")
    boolean rankProcess;

    /** Entry point of the shm rank processes (and a standalone way to run the sweep). */
    public static void main(String[] args) {
        System.exit(new CommandLine(new CollectivesSweepCommand()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        CollectiveSweep.Options options = options();
        SweepBackend chosen = switch (backend.toLowerCase(Locale.ROOT)) {
            case "shm" -> new ShmBackend();
            case "in-process", "inprocess" -> new InProcessBackend();
            case "nccl", "cuda-local" -> new GpuBackend(backend);
            default -> throw new CommandLine.ParameterException(new CommandLine(this), "unknown backend: backend="
                + backend + ", expected shm, in-process, nccl or cuda-local");
        };
        if (rankProcess) {
            return runShmRank(options);
        }
        return chosen.run(np, options, System.out);
    }

    CollectiveSweep.Options options() {
        List<SweepOp> list = new ArrayList<>();
        for (String o : ops) {
            if (o.equalsIgnoreCase("all")) {
                list.addAll(List.of(SweepOp.ALL_GATHER, SweepOp.REDUCE_SCATTER, SweepOp.ALL_REDUCE, SweepOp.BROADCAST));
            } else {
                list.add(SweepOp.parse(o));
            }
        }
        if (np < 1) {
            throw new IllegalArgumentException("np must be positive: np=" + np);
        }
        return new CollectiveSweep.Options(List.copyOf(list), parseSize(min), parseSize(max), factor,
            parseDtype(dtype), ReduceOp.valueOf(redop.toUpperCase(Locale.ROOT)), root, iters, warmup, check, json,
            buffers.equalsIgnoreCase("shm"));
    }

    static DType parseDtype(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "float", "float32" -> DType.F32;
            case "f64", "double", "float64" -> DType.F64;
            case "f16", "half", "float16" -> DType.F16;
            case "bf16", "bfloat16" -> DType.BF16;
            case "i32", "int32", "int" -> DType.I32;
            case "i64", "int64" -> DType.I64;
            case "i8", "int8" -> DType.I8;
            case "u8", "uint8" -> DType.U8;
            default -> throw new IllegalArgumentException("unknown dtype: dtype=" + name
                + ", expected f32, f64, f16, bf16, i32, i64, i8 or u8");
        };
    }

    /** {@code 4K}, {@code 16M}, {@code 1G}, plain bytes; binary multiples. */
    static long parseSize(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
            case 'K' -> mult = 1L << 10;
            case 'M' -> mult = 1L << 20;
            case 'G' -> mult = 1L << 30;
            default -> mult = 1;
        }
        if (mult > 1) {
            t = t.substring(0, t.length() - 1);
        }
        try {
            return Long.parseLong(t) * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid size: size=" + text + ", expected e.g. 4K, 16M, 1G or bytes", e);
        }
    }

    private ShmContext shmContext(CollectiveSweep.Options options) {
        long maxBytes = options.maxBytes();
        return new ShmContext()
            .base(new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(timeoutS)).debugChecks(false))
            .arenaBytes(Math.max(ShmContext.DEFAULT_ARENA_BYTES, 2 * maxBytes + (256L << 20)))
            .spinNs(TimeUnit.MICROSECONDS.toNanos(spinUs));
    }

    private int runShmRank(CollectiveSweep.Options options) {
        try (ShmCommunicator comm = ShmCommunicator.fromEnvironment(System.getenv(), shmContext(options))) {
            CollectiveSweep sweep = new CollectiveSweep(comm, options, System.out);
            try {
                sweep.run();
            } finally {
                sweep.close();
            }
            comm.barrier();
        }
        return 0;
    }

    /** How a sweep gets its ranks: each backend starts {@code np} ranks and runs {@link CollectiveSweep} on each. */
    interface SweepBackend {
        /** Runs the sweep on {@code np} ranks, rank 0 printing to {@code out}; returns the exit code. */
        int run(int np, CollectiveSweep.Options options, PrintStream out) throws Exception;
    }

    /** Threads of this JVM over the in-process backend. */
    static final class InProcessBackend implements SweepBackend {
        @Override
        public int run(int np, CollectiveSweep.Options options, PrintStream out) throws Exception {
            try (InProcessWorld world = InProcessWorld.create(np,
                new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(300)))) {
                runOnThreads(np, world::communicator, r -> Device.host(), false, options, out);
            }
            return 0;
        }
    }

    /** One JVM per rank on this host over the shm backend. */
    final class ShmBackend implements SweepBackend {
        @Override
        public int run(int np, CollectiveSweep.Options options, PrintStream out) throws Exception {
            String java = ProcessHandle.current().info().command().orElseThrow(
                () -> new IllegalStateException("cannot tell this JVM's java binary"));
            List<String> args = new ArrayList<>(Arrays.asList(originalArgs()));
            args.add("--rank-process");
            try (ShmLauncher launcher = ShmLauncher.launch(np, java, RANK_JVM_FLAGS,
                System.getProperty("java.class.path"), CollectivesSweepCommand.class.getName(), args, Map.of(), true,
                bind)) {
                int[] codes = launcher.waitFor(TimeUnit.HOURS.toNanos(2));
                for (int r = 0; r < codes.length; r++) {
                    if (codes[r] != 0) {
                        System.err.println("yatt bench collectives: rank " + r + " exited with code " + codes[r]);
                        return 1;
                    }
                }
            }
            return 0;
        }
    }

    /**
     * GPU backends, one thread per rank in this JVM: {@code nccl} puts rank r on GPU r (NCCL refuses two ranks on one
     * GPU, so np is at most the device count); {@code cuda-local} puts every rank on GPU 0. Without a device they
     * explain what is missing and exit 2.
     */
    record GpuBackend(String name) implements SweepBackend {
        @Override
        public int run(int np, CollectiveSweep.Options options, PrintStream out) throws Exception {
            CudaStatus status = Cuda.status();
            if (status.deviceCount() == 0) {
                System.err.println("yatt bench collectives: backend " + name + " needs a CUDA GPU: deviceCount=0, "
                    + "error=" + status.error() + ", message=" + status.message()
                    + "; use --backend shm or --backend in-process on this machine");
                return 2;
            }
            Communicator.Context ctx = new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(300));
            if (name.equals("nccl")) {
                if (np > status.deviceCount()) {
                    System.err.println("yatt bench collectives: backend nccl needs one GPU per rank: np=" + np
                        + ", deviceCount=" + status.deviceCount() + "; use --backend cuda-local for several ranks on one GPU");
                    return 2;
                }
                for (int r = 0; r < np; r++) {
                    NcclGpuCommunicator.requireEnvironment(r);
                }
                NcclUniqueId id = Nccl.uniqueId();
                runOnThreads(np, r -> NcclGpuCommunicator.create(r, np, r, id, ctx), Device::cuda, true, options, out);
                return 0;
            }
            CudaLocalWorld.requireDevices(new int[] {0});
            try (CudaLocalWorld world = CudaLocalWorld.create(np, 0, ctx)) {
                runOnThreads(np, world::communicator, r -> Device.cuda(0), false, options, out);
            }
            return 0;
        }
    }

    /**
     * Runs the sweep on {@code np} threads; each makes its communicator on its own thread (NCCL init is collective)
     * and closes it afterwards when {@code ownsCommunicators} (a world closes its own).
     */
    static void runOnThreads(int np, IntFunction<Communicator> communicatorOf, IntFunction<Device> deviceOf,
        boolean ownsCommunicators, CollectiveSweep.Options options, PrintStream out) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(np);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < np; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    Communicator comm = communicatorOf.apply(rank);
                    CollectiveSweep sweep = new CollectiveSweep(comm, options, out, deviceOf.apply(rank));
                    try {
                        sweep.run();
                    } finally {
                        sweep.close();
                        if (ownsCommunicators) {
                            comm.close();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private String[] originalArgs() {
        List<String> a = new ArrayList<>();
        a.add("--backend=shm");
        a.add("--np=" + np);
        a.add("--op=" + String.join(",", ops));
        a.add("--min=" + min);
        a.add("--max=" + max);
        a.add("--factor=" + factor);
        a.add("--dtype=" + dtype);
        a.add("--redop=" + redop);
        a.add("--root=" + root);
        a.add("--iters=" + iters);
        a.add("--warmup=" + warmup);
        a.add(check ? "--check" : "--no-check");
        if (json) {
            a.add("--json");
        }
        a.add("--buffers=" + buffers);
        a.add("--timeout-s=" + timeoutS);
        a.add("--spin-us=" + spinUs);
        return a.toArray(String[]::new);
    }
}
