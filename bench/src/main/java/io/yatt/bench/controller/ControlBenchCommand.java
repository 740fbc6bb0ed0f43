package io.yatt.bench.controller;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.aeron.Aeron;
import io.grpc.Server;
import io.yatt.bench.JvmFlags;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.TensorRef;
import io.yatt.controller.Worker;
import io.yatt.controller.WorkerGroup;
import io.yatt.controller.WorkerMethods;
import io.yatt.controller.WorkerProcesses;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;
import org.agrona.concurrent.IdleStrategy;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code yatt bench control}: in one run, (1) the round trip of a no-op ONE_TO_ALL call to N workers over ipc and udp
 * loopback against raw Aeron ping-pong on the same driver, transport and idle strategy and against a gRPC unary echo
 * over loopback, same payload, the paths interleaved in alternating blocks ({@link Blocks}); (2) per controller step,
 * the payload bytes each controller's codec handled and its JVM's heap, against batch size, for C parallel controllers
 * (each a JVM with its own worker JVMs) with the runtime's data by reference and with everything inline. Prints
 * tables (or JSON lines) and the targets.
 */
@Command(name = "control", mixinStandardHelpOptions = true,
    description = "Control-plane round trips (vs raw Aeron, gRPC) and controller bytes/heap per step (references vs"
        + " inline).")
public final class ControlBenchCommand implements Callable<Integer> {

    /** Flags of the worker JVMs. */
    static final List<String> WORKER_JVM_FLAGS = JvmFlags.withExtra("-Xmx256m", "-XX:+UseSerialGC");
    /** Largest payload of a round trip: one Aeron frame on udp with the default MTU. */
    static final int MAX_PAYLOAD_BYTES = 1024;

    @Spec
    CommandSpec spec;

    @Option(names = "--parts", split = ",", defaultValue = "round-trip,step",
        description = "round-trip, step, or both (default ${DEFAULT-VALUE})")
    List<String> parts;

    @Option(names = "--paths", split = ",", defaultValue = "reference,inline",
        description = "controller-step paths: reference (the runtime's data by reference: DataBatch results whose rows"
            + " stay with their workers and travel as reference columns, freed at the last consumer) and/or inline"
            + " (every sample through the controller) (default ${DEFAULT-VALUE})")
    List<String> paths;

    @Option(names = "--launch", defaultValue = "processes",
        description = "round-trip workers: processes (worker JVMs on this host) or threads (default ${DEFAULT-VALUE})")
    String launch;

    @Option(names = "--workers", split = ",", defaultValue = "1,2,4,8",
        description = "worker counts N of the round trips (default ${DEFAULT-VALUE})")
    List<Integer> workers;

    @Option(names = "--transports", split = ",", defaultValue = "ipc,udp",
        description = "ipc and/or udp (loopback) (default ${DEFAULT-VALUE})")
    List<String> transports;

    @Option(names = "--idle", defaultValue = "backoff",
        description = "idle strategy of controller, workers, driver and raw ping-pong: backoff, windowed-backoff,"
            + " yielding, busy-spin (default ${DEFAULT-VALUE})")
    String idle;

    @Option(names = "--threading", defaultValue = "shared",
        description = "threading of the controller's embedded media driver, which the raw ping-pong and the worker"
            + " JVMs share: shared (one driver thread), dedicated, or invoker (no driver thread: the controller's"
            + " agent runs it, and a waiting caller or raw ping runs it itself) (default ${DEFAULT-VALUE})")
    String threading;

    @Option(names = "--blocks", defaultValue = "10",
        description = "round trips run in this many alternating blocks per path (controller, raw Aeron, gRPC, then"
            + " again), histograms merged over the blocks (default ${DEFAULT-VALUE})")
    int blocks;

    @Option(names = "--payload-bytes", defaultValue = "32",
        description = "round-trip payload (default ${DEFAULT-VALUE})")
    int payloadBytes;

    @Option(names = "--warmup",
        description = "untimed round trips per path before its blocks; default: until the path is warm (at least"
            + " 20000 round trips and 1 s, and the p50 of 100 ms chunks no longer falling; at most 5 s per path),"
            + " every path by the same rule")
    Integer warmup;

    @Option(names = "--iterations", defaultValue = "2000", description = "timed round trips (default ${DEFAULT-VALUE})")
    int iterations;

    @Option(names = "--caller-wait", defaultValue = "await",
        description = "how the calling thread waits for a controller call: await (ControlPlane.await, as group.call"
            + " does: the caller reads the control stream itself with the --idle strategy), park"
            + " (CompletableFuture.get: the controller agent completes the future and wakes the caller) or idle"
            + " (polls isDone with the --idle strategy) (default ${DEFAULT-VALUE})")
    String callerWait;

    @Option(names = "--no-grpc", description = "skip the gRPC baseline")
    boolean noGrpc;

    @Option(names = "--thread-switches",
        description = "also count every thread's context switches (Linux /proc) over each path's timed blocks, and"
            + " print them per round trip (voluntary/involuntary) for the threads with at least 0.01 of either")
    boolean threadSwitches;

    @Option(names = "--batch-sizes", split = ",", defaultValue = "1024,4096,16384,65536",
        description = "samples per step (default ${DEFAULT-VALUE})")
    List<Integer> batchSizes;

    @Option(names = "--sample-bytes", defaultValue = "1024",
        description = "bytes per sample (default ${DEFAULT-VALUE})")
    int sampleBytes;

    @Option(names = "--controllers", split = ",", defaultValue = "1,2,4",
        description = "parallel controller counts C (default ${DEFAULT-VALUE})")
    List<Integer> controllers;

    @Option(names = "--step-workers", defaultValue = "4",
        description = "worker JVMs of the step part, split evenly over the C controller JVMs"
            + " (default ${DEFAULT-VALUE})")
    int stepWorkers;

    @Option(names = "--steps", defaultValue = "2",
        description = "steps per configuration; the last is reported (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--timeout-s", defaultValue = "30", description = "deadline of any one wait, seconds")
    long timeoutS;

    @Option(names = "--json", description = "one JSON object per row")
    boolean json;

    /** Standalone entry point. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new ControlBenchCommand()).execute(args));
    }

    /** Settings after validation. */
    /** How the benchmark's calling thread waits for a controller call. */
    enum CallerWait { AWAIT, PARK, IDLE }

    record Settings(boolean roundTrip, boolean step, boolean processes, ControlPlane.Idle idle, long timeoutNs,
                    CallerWait callerWait, Blocks.Warmup warmup, ControlPlane.Threading threading) {
    }

    /**
     * Validates the options.
     *
     * @throws IllegalArgumentException naming the bad value and what was expected
     */
    Settings settings() {
        for (String part : parts) {
            if (!part.equals("round-trip") && !part.equals("step")) {
                throw new IllegalArgumentException("unknown part: part=" + part + ", expected round-trip or step");
            }
        }
        for (String path : paths) {
            if (!List.of(StepRow.REFERENCE, StepRow.INLINE).contains(path)) {
                throw new IllegalArgumentException("unknown path: path=" + path + ", expected reference or inline");
            }
        }
        boolean processes = switch (launch.toLowerCase(Locale.ROOT)) {
            case "processes" -> true;
            case "threads" -> false;
            default -> throw new IllegalArgumentException("unknown launch: launch=" + launch
                + ", expected processes or threads");
        };
        ControlPlane.Idle idleMode = switch (idle.toLowerCase(Locale.ROOT)) {
            case "backoff" -> ControlPlane.Idle.BACKOFF;
            case "yielding" -> ControlPlane.Idle.YIELDING;
            case "busy-spin" -> ControlPlane.Idle.BUSY_SPIN;
            case "windowed-backoff" -> ControlPlane.Idle.WINDOWED_BACKOFF;
            default -> throw new IllegalArgumentException("unknown idle strategy: idle=" + idle
                + ", expected backoff, windowed-backoff, yielding or busy-spin");
        };
        ControlPlane.Threading threadingMode = switch (threading.toLowerCase(Locale.ROOT)) {
            case "shared" -> ControlPlane.Threading.SHARED;
            case "dedicated" -> ControlPlane.Threading.DEDICATED;
            case "invoker" -> ControlPlane.Threading.INVOKER;
            default -> throw new IllegalArgumentException("unknown threading: threading=" + threading
                + ", expected shared, dedicated or invoker");
        };
        for (String t : transports) {
            if (!t.equals("ipc") && !t.equals("udp")) {
                throw new IllegalArgumentException("unknown transport: transport=" + t + ", expected ipc or udp");
            }
        }
        for (int n : workers) {
            if (n < 1) {
                throw new IllegalArgumentException("worker count must be positive: workers=" + n);
            }
        }
        if (payloadBytes < 1 || payloadBytes > MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("payload out of range: payloadBytes=" + payloadBytes + ", expected=1.."
                + MAX_PAYLOAD_BYTES);
        }
        if ((warmup != null && warmup < 0) || iterations < 1 || steps < 1 || timeoutS < 1) {
            throw new IllegalArgumentException("counts must be positive: warmup=" + warmup + ", iterations="
                + iterations + ", steps=" + steps + ", timeoutS=" + timeoutS);
        }
        if (blocks < 1 || blocks > iterations) {
            throw new IllegalArgumentException("blocks out of range: blocks=" + blocks + ", expected=1.." + iterations
                + " (the iterations)");
        }
        if (sampleBytes < 1 || sampleBytes > TensorRef.DEFAULT_INLINE_LIMIT_BYTES) {
            throw new IllegalArgumentException("sample size out of range: sampleBytes=" + sampleBytes + ", expected=1.."
                + TensorRef.DEFAULT_INLINE_LIMIT_BYTES);
        }
        if (stepWorkers < 1) {
            throw new IllegalArgumentException("step workers must be positive: stepWorkers=" + stepWorkers);
        }
        for (int c : controllers) {
            if (c < 1 || stepWorkers % c != 0) {
                throw new IllegalArgumentException("controller count must divide the step workers: controllers=" + c
                    + ", stepWorkers=" + stepWorkers);
            }
        }
        for (int b : batchSizes) {
            if (b < 1 || b % stepWorkers != 0) {
                throw new IllegalArgumentException("batch size must be a positive multiple of the step workers:"
                    + " batch=" + b + ", stepWorkers=" + stepWorkers);
            }
        }
        CallerWait wait = switch (callerWait.toLowerCase(Locale.ROOT)) {
            case "await" -> CallerWait.AWAIT;
            case "park" -> CallerWait.PARK;
            case "idle" -> CallerWait.IDLE;
            default -> throw new IllegalArgumentException("unknown caller wait: callerWait=" + callerWait
                + ", expected await, park or idle");
        };
        Blocks.Warmup warm = warmup == null ? Blocks.DEFAULT_WARMUP : new Blocks.Fixed(warmup);
        return new Settings(parts.contains("round-trip"), parts.contains("step"), processes, idleMode,
            TimeUnit.SECONDS.toNanos(timeoutS), wait, warm, threadingMode);
    }

    @Override
    public Integer call() throws Exception {
        Settings s;
        try {
            s = settings();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        List<LatencyRow> latency = new ArrayList<>();
        if (s.roundTrip()) {
            header(out, "# yatt bench control, round trips: launch=" + launch + ", idle=" + s.idle() + ", threading="
                + s.threading() + ", callerWait="
                + callerWait + ", payload="
                + payloadBytes + " B, warmup=" + describe(s.warmup()) + ", iterations=" + iterations + " in " + blocks
                + " alternating blocks (microseconds; this machine may be shared and noisy)");
            header(out, String.format(Locale.ROOT, "# %-9s %-10s %7s %10s %10s %10s %10s  %-22s %s", "transport",
                "path", "workers", "p50_us", "p99_us", "p99.9_us", "max_us", "block_p50_us(min..max)",
                "warmup(calls/s)"));
            boolean grpcDone = noGrpc;
            for (String transport : transports) {
                for (LatencyRow row : roundTrips(s, transport, !grpcDone)) {
                    latency.add(row);
                    print(out, row);
                }
                grpcDone = true;
            }
        }
        List<StepRow> stepRows = new ArrayList<>();
        if (s.step()) {
            header(out, "# yatt bench control, controller steps: stepWorkers=" + stepWorkers + " (JVMs), controllers"
                + " as JVMs, sample=" + sampleBytes + " B, steps=" + steps + " (last reported); bytes = the"
                + " controllers' codec payload bytes (PayloadStats, encoded + decoded), alloc = heap allocated by the"
                + " controller's JVM during the step, peakLive = its live heap at the step's high point over the idle"
                + " controller's (full GC at both); per controller: the largest of the C");
            header(out, String.format(Locale.ROOT, "# %-11s %8s %-9s %14s %16s %16s %16s %10s", "controllers",
                "batch", "path", "bytes/step", "bytes/ctrl", "alloc/ctrl", "peakLive/ctrl", "step_ms"));
            for (int c : controllers) {
                for (StepRow row : steps(s, c)) {
                    stepRows.add(row);
                    print(out, row);
                }
            }
        }
        List<Target> targets = targets(latency, stepRows);
        if (!targets.isEmpty()) {
            header(out, "# targets (issue 8 item 9)");
        }
        for (Target t : targets) {
            print(out, t);
        }
        out.flush();
        return 0;
    }

    // ---- round trips ----

    private List<LatencyRow> roundTrips(Settings s, String transport, boolean withGrpc) throws Exception {
        boolean udp = transport.equals("udp");
        ControlPlane.Context ctx = new ControlPlane.Context().jobName("bench-control-" + transport).idle(s.idle())
            .threading(s.threading())
            .heartbeatTimeoutNs(Math.max(ControlPlane.DEFAULT_HEARTBEAT_TIMEOUT_NS, TimeUnit.SECONDS.toNanos(5)));
        if (udp) {
            ctx.udp("127.0.0.1", 0);
        }
        int maxWorkers = Collections.max(workers);
        RawPingPong.Channels channels = udp ? udpChannels() : RawPingPong.Channels.ipc();
        List<LatencyRow> rows = new ArrayList<>();
        ControlPlane plane = ControlPlane.launch(ctx);
        List<AutoCloseable> resources = new ArrayList<>();
        WorkerProcesses launcher = null;
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(plane.driverDirectory()))) {
            List<Integer> grpcPorts = new ArrayList<>();
            if (s.processes()) {
                if (withGrpc) {
                    grpcPorts.addAll(freeTcpPorts(maxWorkers));
                }
                List<String> args = List.of(s.idle().name(), channels.ping(), channels.reply(), joined(workers),
                    grpcPorts.isEmpty() ? "-" : joined(grpcPorts));
                launcher = WorkerProcesses.launch(plane, maxWorkers, javaBinary(), WORKER_JVM_FLAGS,
                    System.getProperty("java.class.path"), WorkerMain.class.getName(), args, Map.of());
            } else {
                for (int r = 0; r < maxWorkers; r++) {
                    resources.add(Worker.start(new Worker.Context().workerId(r).rank(r).roles(echoRoles(r, workers))
                        .methods(WorkerMethods.annotated(new EchoWorker(), MethodHandles.lookup()))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())
                        .idle(s.idle())));
                    resources.add(RawPingPong.pong(aeron, channels, r, s.idle()));
                    if (withGrpc) {
                        Server server = GrpcEcho.serve(0);
                        resources.add(server::shutdownNow);
                        grpcPorts.add(server.getPort());
                    }
                }
            }
            for (int n : workers) {
                WorkerGroup group = plane.group(echoRole(n), n, s.timeoutNs());
                List<AutoCloseable> clients = new ArrayList<>();
                try {
                    RawPingPong.Ping ping = RawPingPong.ping(aeron, channels, n, payloadBytes, s.idle(), s.timeoutNs(),
                        plane::invokeDriver);
                    clients.add(ping);
                    List<Blocks.Path> paths = new ArrayList<>();
                    paths.add((count, into) -> controllerRoundTrips(plane, group, n, s, count, into, resources));
                    paths.add(ping::run);
                    if (withGrpc) {
                        GrpcEcho.Client grpc = GrpcEcho.client(grpcPorts.subList(0, n), payloadBytes, s.timeoutNs());
                        clients.add(grpc);
                        paths.add(grpc::run);
                    }
                    List<ThreadSwitches> switches = new ArrayList<>();
                    Blocks.Around around = Blocks.Around.NONE;
                    if (threadSwitches) {
                        Map<String, Long> pids = new LinkedHashMap<>();
                        pids.put("ctl", ProcessHandle.current().pid());
                        for (int w = 0; launcher != null && w < Math.min(n, launcher.processes().size()); w++) {
                            pids.put("w" + w, launcher.processes().get(w).pid());
                        }
                        for (int i = 0; i < paths.size(); i++) {
                            switches.add(new ThreadSwitches(ThreadSwitches.PROC, pids));
                        }
                        around = (path, count, block) -> {
                            Map<String, long[]> before = switches.get(path).snapshot();
                            block.call();
                            switches.get(path).add(before, switches.get(path).snapshot(), count);
                        };
                    }
                    List<Blocks.Result> results = Blocks.run(paths, s.warmup(), iterations, blocks, System::nanoTime,
                        around);
                    List<ThreadSwitches> counted = new ArrayList<>();
                    for (int i = 0; i < paths.size(); i++) {
                        counted.add(switches.isEmpty() ? null : switches.get(i));
                    }
                    rows.add(LatencyRow.of(transport, LatencyRow.CONTROLLER, n, results.get(0), counted.get(0)));
                    rows.add(LatencyRow.of(transport, LatencyRow.RAW_AERON, n, results.get(1), counted.get(1)));
                    if (withGrpc) {
                        rows.add(LatencyRow.of("tcp", LatencyRow.GRPC, n, results.get(2), counted.get(2)));
                    }
                } finally {
                    Collections.reverse(clients);
                    CloseHelper.quietCloseAll(clients);
                }
            }
        } finally {
            try {
                ControlBenchCommand.stopWorkers(plane, launcher);
            } finally {
                Collections.reverse(resources);
                CloseHelper.quietCloseAll(resources);
                CloseHelper.quietClose(launcher);
                plane.close();
            }
        }
        return rows;
    }

    /**
     * {@code count} no-op calls to the group's {@code n} workers, recorded in nanoseconds into {@code into} unless
     * it is {@code null}; a call not answered fails with the controller's frame stats (and the workers', when they
     * are threads of this JVM).
     */
    private void controllerRoundTrips(ControlPlane plane, WorkerGroup group, int n, Settings s, int count,
                                      Histogram into, List<AutoCloseable> resources) throws InterruptedException {
        try {
            controllerRoundTrips(plane, group, n, s, count, into);
        } catch (IllegalStateException e) {
            List<String> workerStats = new ArrayList<>();
            for (AutoCloseable r : resources) {
                if (r instanceof Worker w) {
                    workerStats.add(w.workerId() + ":" + w.stats());
                }
            }
            throw workerStats.isEmpty() ? e
                : new IllegalStateException(e.getMessage() + ", workerStats=" + workerStats, e);
        }
    }

    private void controllerRoundTrips(ControlPlane plane, WorkerGroup group, int n, Settings s, int count,
                                      Histogram into) throws InterruptedException {
        long timeoutNs = s.timeoutNs();
        byte[] payload = new byte[payloadBytes];
        IdleStrategy strategy = s.idle().newStrategy();
        for (int it = 0; it < count; it++) {
            long startNs = System.nanoTime();
            CompletableFuture<Object> call = group.callAsync(EchoWorker.ECHO, (Object) payload);
            if (s.callerWait() == CallerWait.IDLE) {
                strategy.reset();
                while (!call.isDone() && System.nanoTime() - startNs < timeoutNs) {
                    strategy.idle();
                }
            }
            Object result;
            try {
                if (s.callerWait() == CallerWait.AWAIT) {
                    try {
                        result = plane.await(call, timeoutNs);
                    } catch (IllegalStateException e) {
                        if (call.isDone()) {
                            throw e;
                        }
                        throw new TimeoutException();
                    }
                } else {
                    result = call.get(timeoutNs, TimeUnit.NANOSECONDS);
                }
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException re ? re
                    : new IllegalStateException("echo call failed: workers=" + n, e.getCause());
            } catch (TimeoutException e) {
                call.cancel(false);
                throw new IllegalStateException("echo call not answered: workers=" + n + ", iteration=" + it
                    + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs) + ", controllerStats="
                    + plane.stats());
            }
            long elapsedNs = System.nanoTime() - startNs;
            if (!(result instanceof List<?> list) || list.size() != n) {
                throw new IllegalStateException("echo returned the wrong shape: workers=" + n + ", result=" + result);
            }
            if (into != null) {
                into.recordValue(elapsedNs);
            }
        }
    }

    /** Role of the group of the first {@code n} workers. */
    static String echoRole(int n) {
        return "n" + n;
    }

    /** The roles of worker {@code rank}: {@code n<k>} for every count k it belongs to (rank < k). */
    static List<String> echoRoles(int rank, List<Integer> counts) {
        List<String> roles = new ArrayList<>();
        for (int n : counts) {
            if (rank < n && !roles.contains(echoRole(n))) {
                roles.add(echoRole(n));
            }
        }
        return roles;
    }

    // ---- controller steps ----

    /**
     * The step part for C controllers: C {@link StepController} JVMs, each with its own worker JVMs, meet through the
     * rendezvous store and run every (batch, path) in turn; each reports what it handled itself, and the row takes
     * the sum (bytes per step) and the largest (per controller) of their reports.
     */
    private List<StepRow> steps(Settings s, int c) throws Exception {
        int port = freeTcpPorts(1).getFirst();
        List<String> args = List.of(s.idle().name(), Integer.toString(sampleBytes), Integer.toString(stepWorkers / c),
            joined(batchSizes), String.join(",", paths), Integer.toString(steps), Long.toString(timeoutS));
        List<Process> processes = new ArrayList<>();
        try {
            for (int i = 0; i < c; i++) {
                List<String> command = new ArrayList<>();
                command.add(javaBinary());
                command.addAll(STEP_CONTROLLER_JVM_FLAGS);
                command.addAll(List.of("-cp", System.getProperty("java.class.path"), StepController.class.getName()));
                command.addAll(args);
                ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
                pb.environment().putAll(Map.of("RANK", Integer.toString(i), "WORLD_SIZE", Integer.toString(c),
                    "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port)));
                processes.add(pb.start());
            }
            List<List<String>> reports = new ArrayList<>();
            long deadlineNs = System.nanoTime() + s.timeoutNs() * (1 + (long) batchSizes.size() * paths.size() * steps);
            for (int i = 0; i < c; i++) {
                Process p = processes.get(i);
                // a few lines each: they fit the pipe, so waiting first cannot block the controller
                boolean exited = p.waitFor(Math.max(1, deadlineNs - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (!exited) {
                    p.destroyForcibly();
                }
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!exited || p.exitValue() != 0) {
                    throw new IllegalStateException("step controller failed: controllers=" + c + ", index=" + i
                        + ", exit=" + (exited ? Integer.toString(p.exitValue()) : "timed out") + ", output=" + out);
                }
                reports.add(out.lines().filter(l -> l.startsWith(StepController.ROW_PREFIX)).toList());
            }
            return stepRows(c, reports);
        } finally {
            for (Process p : processes) {
                p.destroyForcibly();
            }
        }
    }

    /**
     * Flags of the step controllers' JVMs: room for a C = 1 inline step's batch (64 MiB at 64K samples of 1 KiB), and
     * the serial collector with full collections that compact everything ({@code MarkSweepDeadRatio=0}; by default up
     * to 5 % of the old generation stays as dead objects left in place, which the heap pools count as used), so that
     * the usage a full collection leaves is the live heap ({@link StepController}).
     */
    static final List<String> STEP_CONTROLLER_JVM_FLAGS = JvmFlags.withExtra("-Xmx1g", "-XX:+UseSerialGC",
        "-XX:" + StepController.DEAD_RATIO_OPTION + "=0");

    /**
     * Rows from the {@link StepController#ROW_PREFIX} lines of C controllers (one list per controller, the same
     * (batch, path) order in each): bytes per step is the sum of every controller's encoded and decoded payload
     * bytes, the per-controller columns are the largest of the controllers' own figures.
     *
     * @throws IllegalStateException if the controllers reported different rows, or a line does not parse
     */
    static List<StepRow> stepRows(int c, List<List<String>> reports) {
        List<StepRow> rows = new ArrayList<>();
        int n = reports.getFirst().size();
        for (int r = 0; r < n; r++) {
            String key = null;
            long bytesPerStep = 0;
            long bytesPerController = 0;
            long allocated = 0;
            long peakLive = 0;
            long stepNs = 0;
            for (List<String> report : reports) {
                if (report.size() != n) {
                    throw new IllegalStateException("step controllers reported different rows: counts="
                        + reports.stream().map(List::size).toList());
                }
                String[] f = report.get(r).substring(StepController.ROW_PREFIX.length()).split(" ");
                if (f.length != 7) {
                    throw new IllegalStateException("malformed step row: line=" + report.get(r) + ", expected 7"
                        + " fields");
                }
                String k = f[0] + " " + f[1];
                if (key != null && !key.equals(k)) {
                    throw new IllegalStateException("step controllers reported different rows: row=" + r + ", a="
                        + key + ", b=" + k);
                }
                key = k;
                long bytes = Long.parseLong(f[2]) + Long.parseLong(f[3]);
                bytesPerStep += bytes;
                bytesPerController = Math.max(bytesPerController, bytes);
                allocated = Math.max(allocated, Long.parseLong(f[4]));
                peakLive = Math.max(peakLive, Long.parseLong(f[5]));
                stepNs = Math.max(stepNs, Long.parseLong(f[6]));
            }
            String[] k = key.split(" ");
            rows.add(new StepRow(c, Long.parseLong(k[0]), k[1], bytesPerStep, bytesPerController, allocated,
                peakLive, stepNs / 1e6));
        }
        return rows;
    }

    // ---- targets ----

    /**
     * A target of the issue: {@code value} against {@code limit}, met when on the right side of it; an
     * {@code information} line is printed beside a target and judges nothing (the round trip's merged p50s and
     * its share of slow blocks).
     */
    record Target(String name, double value, double limit, boolean atMost, boolean information) {
        Target(String name, double value, double limit, boolean atMost) {
            this(name, value, limit, atMost, false);
        }

        boolean met() {
            return atMost ? value <= limit : value >= limit;
        }
    }

    static List<Target> targets(List<LatencyRow> latency, List<StepRow> stepRows) {
        List<Target> targets = new ArrayList<>();
        for (LatencyRow controller : latency) {
            if (!controller.path().equals(LatencyRow.CONTROLLER) || controller.workers() != 1) {
                continue;
            }
            for (String path : List.of(LatencyRow.RAW_AERON, LatencyRow.GRPC)) {
                for (LatencyRow other : latency) {
                    if (other.workers() != 1 || !other.path().equals(path)) {
                        continue;
                    }
                    if (path.equals(LatencyRow.RAW_AERON) && other.transport().equals(controller.transport())) {
                        // the target: the paired blocks (see docs/controller.md, "which statistic")
                        targets.add(new Target("round trip N=1 " + controller.transport()
                            + ": median over blocks of controller p50 / raw Aeron p50",
                            medianBlockRatio(controller.blockP50sNs(), other.blockP50sNs()), 2, true));
                        targets.add(new Target("round trip N=1 " + controller.transport()
                            + ": controller p50 / raw Aeron p50, merged blocks", ratio(controller.p50Ns(),
                            other.p50Ns()), 2, true, true));
                        // what the median cannot show: in how many pairs our path was the slower by over 2x
                        targets.add(new Target("round trip N=1 " + controller.transport()
                            + ": share of blocks where controller p50 > 2 x raw Aeron p50",
                            shareAbove(controller.blockP50sNs(), other.blockP50sNs(), 2), 0.5, true, true));
                    }
                    if (path.equals(LatencyRow.GRPC)) {
                        targets.add(new Target("round trip N=1 " + controller.transport()
                            + ": gRPC p50 / controller p50", ratio(other.p50Ns(), controller.p50Ns()), 5, false));
                    }
                }
            }
        }
        List<Integer> cs = stepRows.stream().map(StepRow::controllers).distinct().sorted().toList();
        if (stepRows.isEmpty()) {
            return targets;
        }
        long minBatch = stepRows.stream().mapToLong(StepRow::batchSamples).min().orElseThrow();
        long maxBatch = stepRows.stream().mapToLong(StepRow::batchSamples).max().orElseThrow();
        List<String> present = stepRows.stream().map(StepRow::path).distinct().toList();
        boolean inline = present.contains(StepRow.INLINE);
        for (int c : cs) {
            if (present.contains(StepRow.REFERENCE)) {
                String path = StepRow.REFERENCE;
                StepRow refSmall = find(stepRows, c, minBatch, path);
                StepRow refLarge = find(stepRows, c, maxBatch, path);
                targets.add(new Target("C=" + c + ": " + path + " bytes/ctrl at batch " + maxBatch + " / at batch "
                    + minBatch + " (flat)", ratio(refLarge.bytesPerController(), refSmall.bytesPerController()), 1,
                    true));
                if (inline) {
                    StepRow inlineLarge = find(stepRows, c, maxBatch, StepRow.INLINE);
                    targets.add(new Target("C=" + c + ": " + path + " / inline bytes/ctrl at batch " + maxBatch,
                        ratio(refLarge.bytesPerController(), inlineLarge.bytesPerController()), 0.01, true));
                }
            }
        }
        int maxC = cs.get(cs.size() - 1);
        if (cs.get(0) == 1 && maxC > 1 && inline) {
            StepRow base = find(stepRows, 1, maxBatch, StepRow.INLINE);
            for (String path : present) {
                targets.add(new Target("peakLive/ctrl C=" + maxC + " " + path + " / C=1 inline at batch "
                    + maxBatch, ratio(find(stepRows, maxC, maxBatch, path).peakLiveBytesPerController(),
                    base.peakLiveBytesPerController()), 1.0 / 3, true));
            }
        }
        return targets;
    }

    /**
     * The median of {@code a[b] / b[b]} over the blocks: each pair was measured back to back, so a stretch where one
     * path sits in a slower latency mode than the other moves the median only as far as it lasts (the merged p50s
     * compare whichever mode each path spent most of its blocks in).
     *
     * @throws IllegalArgumentException if the two paths ran different numbers of blocks, naming both
     */
    static double medianBlockRatio(List<Long> numerators, List<Long> denominators) {
        if (numerators.size() != denominators.size() || numerators.isEmpty()) {
            throw new IllegalArgumentException("block counts differ: numerator=" + numerators.size()
                + ", denominator=" + denominators.size() + ", expected equal and positive");
        }
        double[] ratios = new double[numerators.size()];
        for (int b = 0; b < ratios.length; b++) {
            ratios[b] = ratio(numerators.get(b), denominators.get(b));
        }
        Arrays.sort(ratios);
        int mid = ratios.length / 2;
        return ratios.length % 2 == 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
    }

    /**
     * The share of blocks in which {@code a[b] / b[b]} exceeds {@code factor}.
     *
     * @throws IllegalArgumentException if the two paths ran different numbers of blocks, naming both
     */
    static double shareAbove(List<Long> numerators, List<Long> denominators, double factor) {
        if (numerators.size() != denominators.size() || numerators.isEmpty()) {
            throw new IllegalArgumentException("block counts differ: numerator=" + numerators.size()
                + ", denominator=" + denominators.size() + ", expected equal and positive");
        }
        int above = 0;
        for (int b = 0; b < numerators.size(); b++) {
            if (ratio(numerators.get(b), denominators.get(b)) > factor) {
                above++;
            }
        }
        return (double) above / numerators.size();
    }

    private static StepRow find(List<StepRow> rows, int c, long batch, String path) {
        for (StepRow r : rows) {
            if (r.controllers() == c && r.batchSamples() == batch && r.path().equals(path)) {
                return r;
            }
        }
        throw new IllegalStateException("no step row: controllers=" + c + ", batch=" + batch + ", path=" + path);
    }

    private static double ratio(long numerator, long denominator) {
        return denominator == 0 ? Double.POSITIVE_INFINITY : (double) numerator / denominator;
    }

    // ---- output ----

    private void header(PrintWriter out, String line) {
        if (!json) {
            out.println(line);
        }
    }

    private void print(PrintWriter out, LatencyRow r) {
        if (json) {
            ObjectNode node = new ObjectMapper().createObjectNode();
            node.put("table", "roundTrip");
            node.put("transport", r.transport());
            node.put("path", r.path());
            node.put("workers", r.workers());
            node.put("launch", launch);
            node.put("idle", idle);
            node.put("callerWait", callerWait);
            node.put("payloadBytes", payloadBytes);
            node.put("iterations", r.iterations());
            node.put("p50Ns", r.p50Ns());
            node.put("p99Ns", r.p99Ns());
            node.put("p999Ns", r.p999Ns());
            node.put("maxNs", r.maxNs());
            node.put("blocks", r.blockP50sNs().size());
            r.blockP50sNs().forEach(node.putArray("blockP50sNs")::add);
            node.put("warmupCalls", r.warmedUp().calls());
            node.put("warmupNs", r.warmedUp().elapsedNs());
            node.put("warmupSteady", r.warmedUp().steady());
            if (!r.threadSwitches().isEmpty()) {
                node.put("threadSwitchesPerRoundTrip", r.threadSwitches());
                r.blockThreadSwitches().forEach(node.putArray("blockThreadSwitches")::add);
            }
            out.println(node);
            return;
        }
        out.printf(Locale.ROOT, "  %-9s %-10s %7d %10.1f %10.1f %10.1f %10.1f  %-22s %d/%.1f%s%n", r.transport(),
            r.path(), r.workers(), r.p50Ns() / 1e3, r.p99Ns() / 1e3, r.p999Ns() / 1e3, r.maxNs() / 1e3,
            String.format(Locale.ROOT, "%.1f..%.1f", Collections.min(r.blockP50sNs()) / 1e3,
                Collections.max(r.blockP50sNs()) / 1e3), r.warmedUp().calls(), r.warmedUp().elapsedNs() / 1e9,
            r.warmedUp().steady() ? "" : " (time limit)");
        if (!r.threadSwitches().isEmpty()) {
            out.printf(Locale.ROOT, "#   switches per round trip (voluntary/involuntary): %s%n", r.threadSwitches());
            for (int b = 0; b < r.blockThreadSwitches().size(); b++) {
                out.printf(Locale.ROOT, "#     block %d, p50 %.1f us: %s%n", b + 1, r.blockP50sNs().get(b) / 1e3,
                    r.blockThreadSwitches().get(b));
            }
        }
    }

    private void print(PrintWriter out, StepRow r) {
        if (json) {
            ObjectNode node = new ObjectMapper().createObjectNode();
            node.put("table", "step");
            node.put("controllers", r.controllers());
            node.put("batchSamples", r.batchSamples());
            node.put("sampleBytes", sampleBytes);
            node.put("path", r.path());
            node.put("bytesPerStep", r.bytesPerStep());
            node.put("bytesPerController", r.bytesPerController());
            node.put("allocatedBytesPerController", r.allocatedBytesPerController());
            node.put("peakLiveBytesPerController", r.peakLiveBytesPerController());
            node.put("stepMs", r.stepMs());
            out.println(node);
            return;
        }
        out.printf(Locale.ROOT, "  %-11d %8d %-9s %14d %16d %16d %16d %10.1f%n", r.controllers(), r.batchSamples(),
            r.path(), r.bytesPerStep(), r.bytesPerController(), r.allocatedBytesPerController(),
            r.peakLiveBytesPerController(), r.stepMs());
    }

    private void print(PrintWriter out, Target t) {
        if (json) {
            ObjectNode node = new ObjectMapper().createObjectNode();
            node.put("table", "target");
            node.put("name", t.name());
            node.put("value", t.value());
            node.put("limit", t.limit());
            node.put("atMost", t.atMost());
            node.put("met", t.met());
            node.put("information", t.information());
            out.println(node);
            return;
        }
        out.printf(Locale.ROOT, "  %-70s %10.4g %s %.4g  %s%n", t.name(), t.value(), t.atMost() ? "<=" : ">=",
            t.limit(), t.information() ? "(information)" : t.met() ? "met" : "MISSED");
    }

    // ---- helpers ----

    /** The warm-up as the header prints it. */
    static String describe(Blocks.Warmup warmup) {
        return switch (warmup) {
            case Blocks.Fixed f -> Integer.toString(f.calls());
            case Blocks.Steady st -> String.format(Locale.ROOT, "until warm (>= %d calls and %.0f s, chunk p50s no"
                + " longer falling; at most %.0f s per path)", st.minCalls(), st.minTimeNs() / 1e9,
                st.maxTimeNs() / 1e9);
        };
    }

    /**
     * Comma-separated integers.
     *
     * @throws IllegalArgumentException naming what and the value when one does not parse
     */
    static List<Integer> parseInts(String what, String value) {
        List<Integer> list = new ArrayList<>();
        for (String part : value.split(",")) {
            try {
                list.add(Integer.parseInt(part.trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a list of integers: " + what + "=" + value);
            }
        }
        return list;
    }

    private static String joined(List<Integer> values) {
        return String.join(",", values.stream().map(String::valueOf).toList());
    }

    private static String javaBinary() {
        return ProcessHandle.current().info().command().orElseThrow(
            () -> new IllegalStateException("cannot tell this JVM's java binary"));
    }

    /** Lowest port the raw ping-pong picks on udp. */
    static final int RAW_UDP_PORT_MIN = 20000;
    /** One past the highest: below Linux's default ephemeral range (32768..60999). */
    static final int RAW_UDP_PORT_MAX = 32768;

    /**
     * Two free udp ports on loopback for the raw ping-pong, picked at random below the ephemeral range: the pongs bind
     * them in the worker JVMs later, and a port the kernel handed out for port 0 and released again would be the
     * next one given to a worker's own endpoint (port 0), which then takes it first ("Address already in use").
     */
    private static RawPingPong.Channels udpChannels() {
        List<Integer> ports = new ArrayList<>();
        Random random = new Random();
        for (int attempt = 0; attempt < 100 && ports.size() < 2; attempt++) {
            int port = RAW_UDP_PORT_MIN + random.nextInt(RAW_UDP_PORT_MAX - RAW_UDP_PORT_MIN);
            if (ports.contains(port)) {
                continue;
            }
            try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    port))) {
                ports.add(probe.getLocalPort());
            } catch (IOException e) {
                // taken: try another
            }
        }
        if (ports.size() < 2) {
            throw new IllegalStateException("no free udp ports on loopback: tried=100, range=" + RAW_UDP_PORT_MIN
                + ".." + (RAW_UDP_PORT_MAX - 1));
        }
        return RawPingPong.Channels.udp(ports.get(0), ports.get(1));
    }

    private static List<Integer> freeTcpPorts(int count) {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            List<Integer> ports = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets.add(socket);
                ports.add(socket.getLocalPort());
            }
            return ports;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find free tcp ports on loopback: count=" + count, e);
        } finally {
            CloseHelper.quietCloseAll(sockets);
        }
    }

    /** Tells the workers {@code launcher} started to shut down and waits up to 10 s for them (nothing if none). */
    static void stopWorkers(ControlPlane plane, WorkerProcesses launcher) throws InterruptedException {
        if (launcher != null) {
            plane.shutdownWorkers("benchmark done");
            launcher.waitFor(TimeUnit.SECONDS.toNanos(10));
        }
    }
}
