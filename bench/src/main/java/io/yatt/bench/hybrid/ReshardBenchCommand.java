package io.yatt.bench.hybrid;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.yatt.bench.JvmFlags;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.ShmContext;
import io.yatt.collectives.cudalocal.CudaLocalWorld;
import io.yatt.collectives.nccl.NcclGpuCommunicator;
import io.yatt.collectives.shm.ShmCommunicator;
import io.yatt.collectives.shm.ShmLauncher;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.ReshardBenchmark;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import io.yatt.tensor.Allocator;
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
import java.util.concurrent.TimeUnit;

/**
 * {@code yatt bench reshard}: times the train-to-generation transition of the 3D-HybridEngine and its baselines
 * ({@link ReshardBenchmark#runRank}) and prints, per scheme, the bytes received per rank, the peak parameter bytes per
 * rank, the median transition time and the copy floor (the same bytes over memcpy, measured in the same run), as a
 * table or one JSON object per scheme. Ranks: threads for {@code in-process}, one JVM per rank for {@code shm} (this
 * command relaunched with {@code --rank-process}); {@code cuda-local}: threads on the CUDA devices of this process
 * (rank {@code r} on device {@code r % deviceCount}), engine buffers in device memory, the floor a device-to-device
 * {@code cudaMemcpyAsync} of the same bytes timed with CUDA events; {@code nccl}: this process is one rank of a job
 * started by a launcher (torchrun, srun, mpirun: one process per GPU), on device {@code LOCAL_RANK}, rank 0 prints.
 * Without a CUDA device (or NCCL) the device backends say what is missing and exit with code 2.
 */
@Command(name = "reshard", mixinStandardHelpOptions = true,
    description = "Time train-to-generation resharding (HybridFlow, HybridFlow-V, DS-Chat) against the memcpy floor.")
public final class ReshardBenchCommand implements Callable<Integer> {
    /** JVM flags the shm rank processes run with. */
    static final List<String> RANK_JVM_FLAGS = JvmFlags.withExtra("-XX:+UseParallelGC");

    @Option(names = "--backend", defaultValue = "in-process", description = "in-process | shm | cuda-local | nccl (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--world", required = true, description = "number of ranks, p*t*d")
    int world;

    @Option(names = "--train", required = true, description = "training layout p-t-d")
    String train;

    @Option(names = "--gen", required = true, description = "generation layout p_g-t_g-d_g (or p_g-t_g-d_g-d)")
    String gen;

    @Option(names = "--model", defaultValue = "llama", description = "model family (default ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--layers", required = true, description = "decoder layers")
    int layers;

    @Option(names = "--hidden", required = true, description = "hidden size")
    long hidden;

    @Option(names = "--heads", required = true, description = "attention heads")
    int heads;

    @Option(names = "--kv-heads", required = true, description = "key/value heads (GQA groups)")
    int kvHeads;

    @Option(names = "--ffn", required = true, description = "MLP intermediate size")
    long ffn;

    @Option(names = "--vocab", required = true, description = "vocabulary size (padded to a multiple of the training TP)")
    long vocab;

    @Option(names = "--dtype", defaultValue = "bf16", description = "bf16 | f16 | f32 (default ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--scheme", defaultValue = "all", description = "hybridflow | hybridflow-v | ds-chat | all (default ${DEFAULT-VALUE})")
    String scheme;

    @Option(names = "--repeats", defaultValue = "5", description = "timed transitions per scheme (default ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--json", description = "one JSON object per scheme")
    boolean json;

    @Option(names = "--timeout-s", defaultValue = "300", description = "deadline of every collective call, seconds")
    long timeoutS;

    @Option(names = "--shm-memory", defaultValue = "arena", description = "shm backend: where the engine's buffers "
        + "live, arena (shared memory: peers copy straight from the weights) | heap (private memory: each sender packs "
        + "its pieces into shared staging first) (default ${DEFAULT-VALUE})")
    String shmMemory;

    @Option(names = "--rank-process", hidden = true, description = "internal: run as one shm rank")
    boolean rankProcess;

    /** Standalone entry point, and the entry point of the shm rank processes. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new ReshardBenchCommand()).execute(args));
    }

    /** The validated settings. */
    record Settings(HybridLayout layout, ModelSpec spec, List<ReshardScheme> schemes) {
    }

    /**
     * Validates the options.
     *
     * @throws IllegalArgumentException naming the bad value and what was expected
     */
    Settings settings() {
        if (!model.equalsIgnoreCase("llama")) {
            throw new IllegalArgumentException("unknown model: model=" + model + ", expected llama");
        }
        DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "half", "float16" -> DType.F16;
            case "f32", "float", "float32" -> DType.F32;
            default -> throw new IllegalArgumentException("unknown dtype: dtype=" + dtype + ", expected bf16, f16 or f32");
        };
        List<ReshardScheme> schemes = scheme.equalsIgnoreCase("all") ? List.of(ReshardScheme.values())
            : List.of(ReshardScheme.parse(scheme));
        if (repeats <= 0) {
            throw new IllegalArgumentException("repeats must be positive: repeats=" + repeats);
        }
        HybridLayout layout = HybridLayout.parse(train, gen);
        if (layout.worldSize() != world) {
            throw new IllegalArgumentException("world does not match the training layout: world=" + world + ", train="
                + train + ", expected p*t*d=" + layout.worldSize());
        }
        ModelSpec spec = ModelSpec.llama(layers, hidden, heads, kvHeads, ffn, vocab, type, layout.train().t());
        for (ReshardScheme s : schemes) {
            ReshardPlanner.shared().plan(layout, spec, s);
        }
        return new Settings(layout, spec, schemes);
    }

    @Override
    public Integer call() throws Exception {
        Settings settings;
        try {
            settings = settings();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage(), e);
        }
        if (!shmMemory.equals("arena") && !shmMemory.equals("heap")) {
            throw new CommandLine.ParameterException(new CommandLine(this), "unknown --shm-memory: value=" + shmMemory
                + ", expected arena or heap");
        }
        String name = backend.toLowerCase(Locale.ROOT);
        if (rankProcess) {
            return runShmRank(settings);
        }
        return switch (name) {
            case "in-process", "inprocess" -> runInProcess(settings, System.out);
            case "shm" -> launchShm();
            case "cuda-local" -> cudaLocal(settings, System.out);
            case "nccl" -> nccl(settings, System.out);
            default -> throw new CommandLine.ParameterException(new CommandLine(this), "unknown backend: backend="
                + backend + ", expected in-process, shm, cuda-local or nccl");
        };
    }

    private int runInProcess(Settings settings, PrintStream out) {
        printHeader(settings, out);
        for (ReshardScheme s : settings.schemes()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(settings.layout(), settings.spec(), s);
            printResult(settings, plan, ReshardBenchmark.runInProcess(plan, repeats, TimeUnit.SECONDS.toNanos(timeoutS)),
                out);
        }
        return 0;
    }

    private int runShmRank(Settings settings) {
        long modelBytes = 0;
        for (ReshardScheme s : settings.schemes()) {
            modelBytes = Math.max(modelBytes, ReshardPlanner.shared().plan(settings.layout(), settings.spec(), s)
                .modelBytes());
        }
        // the engine's buffers live in the arena (peers copy straight from the weights, nothing is packed): room for
        // a baseline's whole-model gather buffer plus the training shard and the floor's buffers (sparse until used)
        ShmContext context = new ShmContext()
            .base(new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(timeoutS)).debugChecks(false))
            .arenaBytes(Math.max(ShmContext.DEFAULT_ARENA_BYTES, 2 * modelBytes + (256L << 20)));
        try (ShmCommunicator comm = ShmCommunicator.fromEnvironment(System.getenv(), context);
             Allocator root = shmMemory.equals("heap") ? Allocator.root("reshard-rank" + comm.rank())
                 : comm.allocator("reshard-rank" + comm.rank())) {
            if (comm.rank() == 0) {
                printHeader(settings, System.out);
            }
            for (ReshardScheme s : settings.schemes()) {
                ReshardPlan plan = ReshardPlanner.shared().plan(settings.layout(), settings.spec(), s);
                ReshardBenchmark.Result result = ReshardBenchmark.runRank(plan, comm, root, repeats);
                if (comm.rank() == 0) {
                    printResult(settings, plan, result, System.out);
                }
            }
            comm.barrier();
        }
        return 0;
    }

    private int launchShm() throws InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow(
            () -> new IllegalStateException("cannot tell this JVM's java binary"));
        List<String> args = new ArrayList<>(Arrays.asList(rankArgs()));
        args.add("--rank-process");
        try (ShmLauncher launcher = ShmLauncher.launch(world, java, RANK_JVM_FLAGS,
            System.getProperty("java.class.path"), ReshardBenchCommand.class.getName(), args, Map.of(), true)) {
            int[] codes = launcher.waitFor(TimeUnit.HOURS.toNanos(2));
            for (int r = 0; r < codes.length; r++) {
                if (codes[r] != 0) {
                    System.err.println("yatt bench reshard: rank " + r + " exited with code " + codes[r]);
                    return 1;
                }
            }
        }
        return 0;
    }

    private int cudaLocal(Settings settings, PrintStream out) {
        try {
            CudaLocalWorld.requireDevices(new int[world]);
        } catch (RuntimeException e) {
            System.err.println("yatt bench reshard: " + e.getMessage()
                + "; use --backend in-process or --backend shm on this machine");
            return 2;
        }
        int deviceCount = Cuda.deviceCount();
        int[] devices = new int[world];
        for (int r = 0; r < world; r++) {
            devices[r] = r % deviceCount;
        }
        printHeader(settings, out);
        for (ReshardScheme s : settings.schemes()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(settings.layout(), settings.spec(), s);
            printResult(settings, plan, ReshardBenchmark.runCudaLocal(plan, repeats, TimeUnit.SECONDS.toNanos(timeoutS),
                devices), out);
        }
        return 0;
    }

    private int nccl(Settings settings, PrintStream out) {
        Communicator.Context context = new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(timeoutS))
            .debugChecks(false);
        RendezvousConfig config;
        try {
            NcclGpuCommunicator.requireEnvironment(0); // a device and the library, before the launcher's variables
            config = RendezvousConfig.fromEnvironment(System.getenv());
            NcclGpuCommunicator.requireEnvironment(config.localRank());
        } catch (RuntimeException e) {
            System.err.println("yatt bench reshard: " + e.getMessage() + "; the nccl backend runs one process per GPU "
                + "under a launcher (torchrun, srun, mpirun); use --backend in-process or --backend shm on this machine");
            return 2;
        }
        if (config.worldSize() != world) {
            throw new CommandLine.ParameterException(new CommandLine(this), "world does not match the launcher: world="
                + world + ", launcher world size=" + config.worldSize());
        }
        try (Communicator comm = Communicators.nccl(config, context);
             Allocator root = Allocator.root("reshard-rank" + comm.rank())) {
            if (comm.rank() == 0) {
                printHeader(settings, out);
            }
            for (ReshardScheme s : settings.schemes()) {
                ReshardPlan plan = ReshardPlanner.shared().plan(settings.layout(), settings.spec(), s);
                ReshardBenchmark.Result result = ReshardBenchmark.runRank(plan, comm, root, repeats,
                    Device.cuda(config.localRank()));
                if (comm.rank() == 0) {
                    printResult(settings, plan, result, out);
                }
            }
        }
        return 0;
    }

    private void printHeader(Settings settings, PrintStream out) {
        if (json) {
            return;
        }
        out.printf(Locale.ROOT, "# yatt bench reshard: backend=%s, world=%d, train=%s, gen=%s, model=llama(layers=%d, "
                + "hidden=%d, heads=%d, kvHeads=%d, ffn=%d, vocab=%d), dtype=%s, M=%d bytes (%.1f MiB), repeats=%d%n",
            backend, world, train, gen, layers, hidden, heads, kvHeads, ffn, vocab, dtype,
            settings.spec().shardedByteSize(), settings.spec().shardedByteSize() / 1048576.0, repeats);
        int t = settings.layout().train().t();
        int tg = settings.layout().gen().tg();
        if (t > kvHeads || tg > kvHeads) {
            out.printf(Locale.ROOT, "# KV heads replicated: training on t/K=%d ranks, generation on %d; M_kv=%d bytes "
                    + "(k and v rows), Table 2 extended as in docs/hybrid-engine.md%n", Math.max(1, t / kvHeads),
                Math.max(1, tg / kvHeads), settings.spec().kvByteSize());
        }
        out.printf(Locale.ROOT, "# %-12s %18s %18s %18s %18s %18s %10s %10s %10s%n", "scheme", "modelBytes",
            "bytesRecv/rank", "Table2 recv", "peakParam/rank", "peakAll/rank", "time (ms)", "floor (ms)",
            "time/floor");
    }

    private void printResult(Settings settings, ReshardPlan plan, ReshardBenchmark.Result r, PrintStream out) {
        long received = Arrays.stream(r.bytesReceivedPerRank()).max().orElse(0);
        long peak = Arrays.stream(r.peakParamBytesPerRank()).max().orElse(0);
        long peakAll = Arrays.stream(r.peakBytesPerRank()).max().orElse(0);
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode node = mapper.createObjectNode();
            node.put("scheme", r.scheme().cliName());
            node.put("modelBytes", r.modelBytes());
            node.put("bytesReceivedPerRank", received);
            node.put("peakParamBytesPerRank", peak);
            node.put("peakBytesPerRank", peakAll);
            node.put("timeMs", r.timeMs());
            node.put("floorMs", r.floorMs());
            node.put("formulaBytesReceived", plan.formulaBytesReceived());
            node.put("formulaPeakParamBytes", plan.formulaPeakParameterBytes());
            node.put("kvHeads", kvHeads);
            node.put("kvBytes", plan.spec().kvByteSize());
            node.put("generationModelBytes", plan.generationModelBytes());
            node.put("meanBytesReceivedPerRank", Arrays.stream(r.bytesReceivedPerRank()).sum()
                / Math.max(1, r.bytesReceivedPerRank().length));
            node.putPOJO("bytesReceivedByRank", r.bytesReceivedPerRank());
            node.putPOJO("peakParamBytesByRank", r.peakParamBytesPerRank());
            node.putPOJO("peakBytesByRank", r.peakBytesPerRank());
            node.putPOJO("cpuMsByRank", r.cpuMsPerRank());
            node.putPOJO("floorCpuMsByRank", r.floorCpuMsPerRank());
            node.put("backend", backend);
            node.put("world", world);
            node.put("train", train);
            node.put("gen", gen);
            node.put("repeats", repeats);
            out.println(node.toString());
            return;
        }
        out.printf(Locale.ROOT, "  %-12s %18d %18s %18d %18s %18s %10.1f %10.1f %10.2f%n", r.scheme().cliName(),
            r.modelBytes(), range(r.bytesReceivedPerRank()), plan.formulaBytesReceived(),
            range(r.peakParamBytesPerRank()), range(r.peakBytesPerRank()), r.timeMs(), r.floorMs(),
            r.timeMs() / r.floorMs());
    }

    private static String range(long[] values) {
        long min = Arrays.stream(values).min().orElse(0);
        long max = Arrays.stream(values).max().orElse(0);
        return min == max ? Long.toString(max) : min + ".." + max;
    }

    private String[] rankArgs() {
        List<String> a = new ArrayList<>();
        a.add("--backend=shm");
        a.add("--world=" + world);
        a.add("--train=" + train);
        a.add("--gen=" + gen);
        a.add("--model=" + model);
        a.add("--layers=" + layers);
        a.add("--hidden=" + hidden);
        a.add("--heads=" + heads);
        a.add("--kv-heads=" + kvHeads);
        a.add("--ffn=" + ffn);
        a.add("--vocab=" + vocab);
        a.add("--dtype=" + dtype);
        a.add("--scheme=" + scheme);
        a.add("--repeats=" + repeats);
        a.add("--timeout-s=" + timeoutS);
        a.add("--shm-memory=" + shmMemory);
        if (json) {
            a.add("--json");
        }
        return a.toArray(String[]::new);
    }
}
