package io.yatt.trainer.launch;

import io.yatt.collectives.Communicators;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.ShmContext;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.WorkerGroup;
import io.yatt.controller.WorkerLostException;
import io.yatt.controller.WorkerProcesses;
import io.yatt.trainer.cli.YattCli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.function.IntUnaryOperator;
import java.util.stream.Stream;

/**
 * Worker JVMs of one job on this host: {@code count} processes of {@code yatt worker --kind K}, started through the
 * controller's {@link WorkerProcesses} with the plane's environment and, for {@link World#SHM}, the rendezvous of a
 * shared-memory world (rank 0 serves the store); {@link #start} returns once all of them registered, or throws naming
 * the ranks that did not and what their processes did. {@link #close()} stops every process, removes the job's
 * shared-memory files and (unless the caller chose it) the log folder. Not thread-safe; closed once by its owner.
 */
public final class WorkerJvms implements AutoCloseable {

    /** The JVM flags every Yatt JVM needs (FFM, Agrona's and the shm backend's access to JDK internals). */
    public static final List<String> PROJECT_JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow");
    /** Environment variable the launcher sets to the world the workers build: {@code none} or {@code shm}. */
    public static final String ENV_WORLD = "YATT_WORKER_WORLD";
    /**
     * Environment variable a yatt launcher sets to {@code ignore} in the JVMs it starts: {@code yatt} then ignores
     * SIGINT, so that Ctrl-C in a terminal (SIGINT to the whole foreground process group) reaches only the launching
     * {@code yatt train}, which stops the run gracefully and stops its JVMs itself.
     */
    public static final String ENV_SIGINT = "YATT_SIGINT";
    /**
     * Environment variable with the controllers' shared secret, read by {@code yatt train} and {@code yatt worker}
     * alike (empty: none).
     */
    public static final String ENV_CONTROLLER_SECRET = "YATT_CONTROLLER_SECRET";
    /** Default time for all workers to register: 120 s (each JVM start costs seconds on a busy host). */
    public static final long DEFAULT_REGISTRATION_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(120);
    /** Lines of a worker's standard error quoted in a failure report. */
    public static final int STDERR_TAIL_LINES = 20;
    /** What {@code yatt worker} prints to standard output once registered (the launcher looks for it). */
    public static final String REGISTERED_MARK = " registered with ";

    private static final long POLL_NS = TimeUnit.MILLISECONDS.toNanos(200);

    /** The world communicator a worker builds before registering. */
    public enum World {
        /** No world communicator (kinds that need none, such as {@code echo}). */
        NONE,
        /** One rank per worker JVM over shared memory on this host. */
        SHM;

        /** The name on the command line and in {@value WorkerJvms#ENV_WORLD}. */
        public String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The world named {@code name} ({@code none} or {@code shm}).
         *
         * @throws IllegalArgumentException for another name
         */
        public static World of(String name) {
            for (World w : values()) {
                if (w.cliName().equals(name)) {
                    return w;
                }
            }
            throw new IllegalArgumentException("unknown world: world=" + name + ", expected none or shm");
        }
    }

    private final Context ctx;
    private final String jobId;
    private final Path logDirectory;
    private final List<WorkerProcesses> processes;
    private WorkerGroup group;
    private List<WorkerGroup> groups = List.of();
    private volatile boolean closed;

    private WorkerJvms(Context ctx, String jobId, Path logDirectory, List<WorkerProcesses> processes) {
        this.ctx = ctx;
        this.jobId = jobId;
        this.logDirectory = logDirectory;
        this.processes = processes;
    }

    /**
     * Starts the worker JVMs and waits until all registered with {@code plane}.
     *
     * @throws IllegalArgumentException if the context is not valid (see {@link Context#conclude()})
     * @throws IllegalStateException if a worker JVM exits before registering ({@code worker JVM exited during
     *         startup: ...} with its rank, pid, exit code and the tail of its standard error), or not all registered
     *         within the timeout ({@code worker JVMs did not register: ...} naming the missing ranks and what each of
     *         their processes did); in both cases every process was stopped and the job's files removed
     */
    public static WorkerJvms start(ControlPlane plane, Context ctx) {
        Objects.requireNonNull(plane, "plane");
        return start(List.of(plane), rank -> 0, ctx);
    }

    /**
     * As {@link #start(ControlPlane, Context)} with several controllers: rank {@code r} (of the one world of all
     * ranks) registers with {@code planes.get(controllerOf.applyAsInt(r))}, as rank {@code i} of that controller's
     * groups when it is the {@code i}-th rank of that controller (its worker id stays the base plus {@code r}).
     *
     * @throws IllegalArgumentException if the context is not valid, there is no plane, or a rank maps to no plane
     * @throws IllegalStateException as {@link #start(ControlPlane, Context)}
     */
    public static WorkerJvms start(List<ControlPlane> planes, IntUnaryOperator controllerOf, Context ctx) {
        if (planes.isEmpty()) {
            throw new IllegalArgumentException("at least one control plane is required: planes=[]");
        }
        ctx.conclude();
        int[] controllerOfRank = new int[ctx.count];
        int[] localRank = new int[ctx.count];
        int[] perPlane = new int[planes.size()];
        for (int r = 0; r < ctx.count; r++) {
            int c = controllerOf.applyAsInt(r);
            if (c < 0 || c >= planes.size()) {
                throw new IllegalArgumentException("rank maps to no controller: rank=" + r + ", controller=" + c
                        + ", controllers=" + planes.size());
            }
            controllerOfRank[r] = c;
            localRank[r] = perPlane[c]++;
        }
        byte[] nonce = new byte[4];
        new SecureRandom().nextBytes(nonce);
        String jobId = "w" + ProcessHandle.current().pid() + "." + HexFormat.of().formatHex(nonce);
        Path logs;
        try {
            logs = ctx.logDirectory != null ? Files.createDirectories(ctx.logDirectory)
                    : Files.createTempDirectory("yatt-workers-" + jobId + "-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the workers' log folder: path=" + ctx.logDirectory, e);
        }
        Map<String, String> env = new TreeMap<>();
        env.put(ENV_WORLD, ctx.world.cliName());
        env.put(ENV_SIGINT, "ignore");
        if (ctx.world == World.SHM) {
            env.put(Communicators.ENV_BACKEND, "shm");
            env.put("MASTER_ADDR", RendezvousConfig.DEFAULT_MASTER_ADDR);
            env.put("MASTER_PORT", Integer.toString(freeLoopbackPort()));
            env.put(RendezvousConfig.ENV_JOB_ID, jobId);
        }
        List<String> flags = new ArrayList<>(PROJECT_JVM_FLAGS);
        flags.addAll(ctx.jvmFlags);
        List<String> common = new ArrayList<>(List.of("worker", "--kind", ctx.kind));
        for (String role : ctx.roles) {
            common.add("--role");
            common.add(role);
        }
        common.addAll(List.of("--world", ctx.world.cliName(), "--worker-id-base", Integer.toString(ctx.workerIdBase),
                "--peer-loss-wait-ms", Long.toString(TimeUnit.NANOSECONDS.toMillis(ctx.peerLossWaitNs))));
        List<WorkerProcesses> started = new ArrayList<>();
        try {
            // one launch per rank: each rank has its own controller, group rank and arguments, one world of all
            for (int r = 0; r < ctx.count; r++) {
                final int rank = r;
                List<String> args = new ArrayList<>(common);
                args.addAll(List.of("--rank", Integer.toString(localRank[r]), "--worker-id",
                        Integer.toString(ctx.workerIdBase + r)));
                args.addAll(ctx.rankArguments.apply(r));
                Map<String, String> rankEnv = new TreeMap<>(env);
                rankEnv.put("RANK", Integer.toString(r));
                rankEnv.put("WORLD_SIZE", Integer.toString(ctx.count));
                rankEnv.put("LOCAL_RANK", Integer.toString(r));
                rankEnv.put("LOCAL_WORLD_SIZE", Integer.toString(ctx.count));
                started.add(WorkerProcesses.launch(planes.get(controllerOfRank[r]), 1, ctx.java, flags,
                        ctx.classPath, YattCli.class.getName(), args, rankEnv,
                        i -> ProcessBuilder.Redirect.to(stdoutFile(logs, rank).toFile()),
                        i -> ProcessBuilder.Redirect.to(stderrFile(logs, rank).toFile())));
            }
        } catch (RuntimeException e) {
            terminate(started);
            if (ctx.logDirectory == null) {
                deleteTree(logs);
            }
            throw e;
        }
        WorkerJvms jvms = new WorkerJvms(ctx, jobId, logs, started);
        // the launcher sees a worker process exit at once: its controller need not wait out the heartbeat timeout
        onFailedExit(jvms.processes(), () -> !jvms.closed,
                exited -> planes.forEach(plane -> plane.processExited(exited.pid())));
        try {
            jvms.awaitRegistered(planes, perPlane);
            return jvms;
        } catch (RuntimeException e) {
            try {
                jvms.close();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private void awaitRegistered(List<ControlPlane> planes, int[] perPlane) {
        long deadlineNs = System.nanoTime() + ctx.registrationTimeoutNs;
        List<WorkerGroup> formed = new ArrayList<>();
        while (true) {
            List<Process> ps = processes();
            for (int r = 0; r < ps.size(); r++) {
                Process p = ps.get(r);
                if (!p.isAlive()) {
                    throw new IllegalStateException("worker JVM exited during startup: kind=" + ctx.kind + ", rank="
                            + r + ", pid=" + p.pid() + ", exitCode=" + p.exitValue() + ", stderr tail:"
                            + System.lineSeparator() + stderrTail(r));
                }
            }
            try {
                while (formed.size() < planes.size()) {
                    int c = formed.size();
                    formed.add(planes.get(c).group(ctx.roles.getFirst(), perPlane[c], POLL_NS));
                }
                groups = List.copyOf(formed);
                group = formed.getFirst();
                return;
            } catch (IllegalStateException incomplete) {
                if (!incomplete.getMessage().startsWith("worker group incomplete")) {
                    throw incomplete;
                }
            }
            if (System.nanoTime() - deadlineNs > 0) {
                StringBuilder report = new StringBuilder();
                List<Integer> missing = new ArrayList<>();
                for (int r = 0; r < ps.size(); r++) {
                    if (!stdout(r).contains(REGISTERED_MARK)) {
                        missing.add(r);
                    }
                }
                for (int r : missing) {
                    Process p = ps.get(r);
                    report.append(System.lineSeparator()).append("rank ").append(r).append(": pid=").append(p.pid())
                            .append(p.isAlive() ? ", running" : ", exitCode=" + p.exitValue())
                            .append(", stderr tail:").append(System.lineSeparator()).append(stderrTail(r));
                }
                throw new IllegalStateException("worker JVMs did not register: kind=" + ctx.kind + ", role="
                        + ctx.roles.getFirst() + ", count=" + ctx.count + ", missingRanks=" + missing + ", timeoutMs="
                        + TimeUnit.NANOSECONDS.toMillis(ctx.registrationTimeoutNs) + report);
            }
        }
    }

    /** The group of all workers, ranks 0 to count - 1, formed once they registered (the first controller's). */
    public WorkerGroup group() {
        return group;
    }

    /** Per controller, in the order of the planes given: the group of the first role over its workers. */
    public List<WorkerGroup> groups() {
        return groups;
    }

    /** The worker processes, in rank order. */
    public List<Process> processes() {
        return processesOf(processes);
    }

    /** The processes of {@code launches}, in order. */
    static List<Process> processesOf(List<WorkerProcesses> launches) {
        List<Process> all = new ArrayList<>();
        for (WorkerProcesses p : launches) {
            all.addAll(p.processes());
        }
        return all;
    }

    /**
     * Calls {@code action} (from the JVM's process-exit thread) for each of {@code processes} that exits with a code
     * other than 0 while {@code open} holds: what a launcher tells its controllers at once.
     */
    static void onFailedExit(List<Process> processes, BooleanSupplier open, Consumer<Process> action) {
        for (Process p : processes) {
            p.onExit().thenAccept(exited -> {
                if (open.getAsBoolean() && exited.exitValue() != 0) {
                    action.accept(exited);
                }
            });
        }
    }

    /** The job's id: shared-memory files of its world are named {@code yatt-<jobId>-...}. */
    public String jobId() {
        return jobId;
    }

    /** The folder with each rank's {@code rank-R.out} and {@code rank-R.err}. */
    public Path logDirectory() {
        return logDirectory;
    }

    /** The last {@link #STDERR_TAIL_LINES} lines rank {@code rank} wrote to standard error, or {@code (empty)}. */
    public String stderrTail(int rank) {
        return tail(stderrFile(logDirectory, rank));
    }

    /** The last {@link #STDERR_TAIL_LINES} lines of {@code file}, or {@code (empty)}. */
    static String tail(Path file) {
        List<String> lines = readLines(file);
        if (lines.isEmpty()) {
            return "(empty)";
        }
        return String.join(System.lineSeparator(), lines.subList(Math.max(0, lines.size() - STDERR_TAIL_LINES),
                lines.size()));
    }

    /**
     * {@code lost}'s message, and when the lost worker is one of these processes and has exited, its exit code and
     * the tail of its standard error: what a run that stops on a lost worker reports.
     */
    public String describe(WorkerLostException lost) {
        List<Process> ps = processes();
        for (int r = 0; r < ps.size(); r++) {
            Process p = ps.get(r);
            if (p.pid() == lost.pid() && !p.isAlive()) {
                return lost.getMessage() + ", exitCode=" + p.exitValue() + ", stderr tail:" + System.lineSeparator()
                        + stderrTail(r);
            }
        }
        return lost.getMessage();
    }

    /**
     * Stops every worker process (SIGTERM, then SIGKILL after {@link WorkerProcesses#TERMINATE_GRACE_NS}), removes
     * the job's shared-memory files (a rank killed before its world finished setting up leaves its regions) and the
     * log folder unless the caller chose it. The control plane is the caller's.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("worker JVMs already closed: jobId=" + jobId);
        }
        closed = true;
        terminate(processes);
        removeShmFiles(ShmContext.DEFAULT_DIRECTORY, jobId);
        if (ctx.logDirectory == null) {
            deleteTree(logDirectory);
        }
    }

    /** SIGTERM to every process at once, then each launch's close (SIGKILL after its grace). */
    static void terminate(List<WorkerProcesses> launches) {
        for (WorkerProcesses p : launches) {
            p.processes().forEach(Process::destroy);
        }
        for (WorkerProcesses p : launches) {
            p.close();
        }
    }

    /** The job's shared-memory files left in {@code directory}. */
    static List<Path> shmFiles(Path directory, String jobId) {
        if (!Files.isDirectory(directory)) {
            return List.of();
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory, "yatt-" + jobId + "-*")) {
            stream.forEach(files::add);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list shared-memory files: directory=" + directory, e);
        }
        return files;
    }

    static void removeShmFiles(Path directory, String jobId) {
        for (Path f : shmFiles(directory, jobId)) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove a shared-memory file of the job: path=" + f, e);
            }
        }
    }

    private String stdout(int rank) {
        return String.join("\n", readLines(stdoutFile(logDirectory, rank)));
    }

    static Path stdoutFile(Path logs, int rank) {
        return logs.resolve("rank-" + rank + ".out");
    }

    static Path stderrFile(Path logs, int rank) {
        return logs.resolve("rank-" + rank + ".err");
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file, StandardCharsets.UTF_8) : List.of();
        } catch (IOException e) {
            return List.of("(cannot read " + file + ": " + e.getMessage() + ")");
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the workers' log folder: path=" + root, e);
        }
    }

    private static int freeLoopbackPort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(RendezvousConfig.DEFAULT_MASTER_ADDR))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free loopback port for the shm rendezvous", e);
        }
    }

    /** Settings of a launch, with fluent accessors; validated once by {@link #conclude()}. Confined to one thread. */
    public static final class Context {
        private String kind;
        private String role;
        private List<String> roles;
        private IntFunction<List<String>> rankArguments = rank -> List.of();
        private int count;
        private World world = World.SHM;
        private List<String> jvmFlags = List.of();
        private Path logDirectory;
        private long registrationTimeoutNs = DEFAULT_REGISTRATION_TIMEOUT_NS;
        private String java;
        private String classPath;
        private int workerIdBase;
        private long peerLossWaitNs = WorkerKind.DEFAULT_PEER_LOSS_WAIT_NS;

        /** The kind the workers serve ({@code yatt worker --kind}); resolved by the worker JVMs. */
        public Context kind(String kind) {
            this.kind = kind;
            return this;
        }

        public String kind() {
            return kind;
        }

        /** The role the workers register with (default: the kind's name). */
        public Context role(String role) {
            this.role = role;
            return this;
        }

        public String role() {
            return role;
        }

        /**
         * The roles every worker registers with, colocated (default: the one {@link #role(String)}); the first is
         * the role whose groups {@link #start} waits for.
         */
        public Context roles(List<String> roles) {
            this.roles = List.copyOf(roles);
            return this;
        }

        public List<String> roles() {
            return roles;
        }

        /** More {@code yatt worker} arguments for rank {@code r}, e.g. its {@code --mesh} registrations. */
        public Context rankArguments(IntFunction<List<String>> arguments) {
            this.rankArguments = Objects.requireNonNull(arguments, "arguments");
            return this;
        }

        /** Number of worker JVMs, ranks 0 to count - 1 (the world size). */
        public Context count(int count) {
            this.count = count;
            return this;
        }

        public int count() {
            return count;
        }

        /** The world the workers build before registering (default {@link World#SHM}). */
        public Context world(World world) {
            this.world = Objects.requireNonNull(world, "world");
            return this;
        }

        public World world() {
            return world;
        }

        /** More JVM flags after {@link #PROJECT_JVM_FLAGS} (heap size, GC, ...). */
        public Context jvmFlags(List<String> flags) {
            this.jvmFlags = List.copyOf(flags);
            return this;
        }

        public List<String> jvmFlags() {
            return jvmFlags;
        }

        /** Where each rank's output goes, kept after close (default: a temporary folder removed on close). */
        public Context logDirectory(Path directory) {
            this.logDirectory = directory;
            return this;
        }

        public Context registrationTimeoutNs(long timeoutNs) {
            this.registrationTimeoutNs = timeoutNs;
            return this;
        }

        /**
         * Worker ids are this plus the rank (default 0): give each launch on one plane its own range, for example
         * rollout workers beside training workers.
         */
        public Context workerIdBase(int base) {
            this.workerIdBase = base;
            return this;
        }

        /**
         * How long a worker's call that failed from a lost peer waits for the controller's verdict (default
         * {@link WorkerKind#DEFAULT_PEER_LOSS_WAIT_NS}); keep it above the plane's heartbeat timeout.
         */
        public Context peerLossWaitNs(long waitNs) {
            this.peerLossWaitNs = waitNs;
            return this;
        }

        /** The java binary (default: this JVM's, {@code ProcessHandle.current().info().command()}). */
        public Context java(String java) {
            this.java = java;
            return this;
        }

        /** The java binary; this JVM's once {@link #conclude()} ran without one given. */
        public String java() {
            return java;
        }

        /** The workers' class path (default: this JVM's, the {@code java.class.path} property). */
        public Context classPath(String classPath) {
            this.classPath = classPath;
            return this;
        }

        /** The class path; this JVM's once {@link #conclude()} ran without one given. */
        public String classPath() {
            return classPath;
        }

        /**
         * Checks the settings and fills defaults.
         *
         * @throws IllegalArgumentException if the kind is missing, the count or timeout is not positive, the worker
         *         id base or peer loss wait is negative, or this JVM's binary or class path cannot be told and none
         *         was given
         */
        public Context conclude() {
            if (kind == null || kind.isBlank()) {
                throw new IllegalArgumentException("worker kind is required: kind=" + kind);
            }
            if (count < 1) {
                throw new IllegalArgumentException("worker JVM count must be positive: count=" + count);
            }
            if (workerIdBase < 0) {
                throw new IllegalArgumentException("worker id base must be non-negative: workerIdBase="
                        + workerIdBase);
            }
            if (peerLossWaitNs < 0) {
                throw new IllegalArgumentException("peer loss wait must be non-negative: peerLossWaitNs="
                        + peerLossWaitNs);
            }
            if (registrationTimeoutNs <= 0) {
                throw new IllegalArgumentException("registration timeout must be positive: registrationTimeoutNs="
                        + registrationTimeoutNs);
            }
            if (roles != null && roles.isEmpty()) {
                throw new IllegalArgumentException("worker roles must not be empty: roles=[]");
            }
            if (role == null) {
                role = roles != null ? roles.getFirst() : kind;
            }
            if (roles == null) {
                roles = List.of(role);
            }
            if (java == null) {
                java = ProcessHandle.current().info().command().orElseThrow(() -> new IllegalArgumentException(
                        "cannot tell this JVM's java binary: set the java binary explicitly"));
            }
            if (classPath == null) {
                classPath = System.getProperty("java.class.path");
                if (classPath == null || classPath.isEmpty()) {
                    throw new IllegalArgumentException("this JVM has no class path (module path launch?): set the"
                            + " workers' class path explicitly");
                }
            }
            return this;
        }
    }
}
