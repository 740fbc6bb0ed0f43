package io.yatt.trainer.launch;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.ShmContext;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ControllerRendezvous;
import io.yatt.controller.ResourcePool;
import io.yatt.controller.WorkerProcesses;
import io.yatt.trainer.cli.YattCli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * The processes of a {@code trainer.launch=local} run with C > 1 controllers, all on this host: controllers 1 to C -
 * 1 as {@code yatt train} JVMs ({@code trainer.launch=external}) and the W ranks as {@code yatt worker --kind rlhf}
 * JVMs, started as torchrun starts an external launch ({@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code
 * LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}, fresh secrets in {@value
 * RendezvousConfig#ENV_SECRET} and {@value WorkerJvms#ENV_CONTROLLER_SECRET}, and {@value
 * WorkerJvms#ENV_SIGINT}{@code =ignore}), around
 * a rendezvous store this JVM serves. This JVM is rendezvous rank 0, controller 0: it publishes through {@link
 * #store()} with {@link #rendezvous()}. Logs: {@code controller-I.out|err} and {@code rank-R.out|err} (worker rank R)
 * in the log folder, kept.
 *
 * <p>While {@link #watch} runs the startup, a process that exits fails it at once (the store is closed, the starting
 * thread interrupted) with the process's exit code and the tail of its standard error. After a run, {@link
 * #awaitExit} waits for every process to end by itself and names those that failed; {@link #close()} stops what
 * still runs and removes the workers' shared-memory files. Not thread-safe; closed once by its owner.
 */
public final class LocalLaunch implements AutoCloseable {

    private final int controllers;
    private final Path logDirectory;
    private final ControllerRendezvous.Store store;
    private final RendezvousConfig rendezvous;
    private final String worldJobId;
    private final String controllerSecret;
    private final List<WorkerProcesses> launches = new ArrayList<>();
    private volatile boolean closed;

    private LocalLaunch(int controllers, Path logDirectory, ControllerRendezvous.Store store,
                        RendezvousConfig rendezvous, String worldJobId, String controllerSecret) {
        this.controllers = controllers;
        this.logDirectory = logDirectory;
        this.store = store;
        this.rendezvous = rendezvous;
        this.worldJobId = worldJobId;
        this.controllerSecret = controllerSecret;
    }

    /**
     * Serves the store and starts the processes: rendezvous ranks 1 to {@code controllers - 1} run {@code yatt train
     * <controllerArguments>}, ranks {@code controllers} to {@code controllers + workers - 1} run {@code yatt worker
     * <workerArguments(r)>} (worker rank r), with the JVM binary, class path and flags of {@code jvm} (its defaults:
     * this JVM's).
     *
     * @param controllers C, at least 2
     * @param workers W, at least 1
     * @param controllerArguments {@code yatt train} arguments of controllers 1 to C - 1 (their config, with {@code
     *     trainer.launch=external}, and starting policy)
     * @param workerArguments {@code yatt worker} arguments of worker rank r (its kind, its id)
     * @param logDirectory the processes' log folder, created if absent
     * @param rendezvousTimeoutNs how long every rank waits for the others in the store
     * @param jvm the java binary, class path and extra JVM flags (other settings are ignored)
     * @throws IllegalArgumentException if {@code controllers < 2}, {@code workers < 1} or the timeout is not positive
     * @throws IllegalStateException if a process cannot be started (every one started is stopped, the store closed)
     */
    public static LocalLaunch start(int controllers, int workers, List<String> controllerArguments,
                                    IntFunction<List<String>> workerArguments, Path logDirectory,
                                    long rendezvousTimeoutNs, WorkerJvms.Context jvm) {
        if (controllers < 2) {
            throw new IllegalArgumentException("a local launch of controller processes needs at least 2 controllers:"
                    + " controllers=" + controllers);
        }
        if (workers < 1) {
            throw new IllegalArgumentException("worker count must be positive: workers=" + workers);
        }
        if (rendezvousTimeoutNs <= 0) {
            throw new IllegalArgumentException("rendezvous timeout must be positive: rendezvousTimeoutNs="
                    + rendezvousTimeoutNs);
        }
        jvm.kind("rlhf").count(workers).conclude();
        try {
            Files.createDirectories(logDirectory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the launch's log folder: path=" + logDirectory, e);
        }
        SecureRandom random = new SecureRandom();
        String token = randomHex(random, 16);
        String controllerSecret = randomHex(random, 16);
        int worldSize = controllers + workers;
        ControllerRendezvous.Store store = ControllerRendezvous.Store.serve(RendezvousConfig.DEFAULT_MASTER_ADDR,
                worldSize, token);
        RendezvousConfig rank0 = RendezvousConfig.of(0, worldSize, RendezvousConfig.DEFAULT_MASTER_ADDR, store.port())
                .withSecret(token).withTimeoutNs(rendezvousTimeoutNs);
        LocalLaunch launch = new LocalLaunch(controllers, logDirectory, store, rank0,
                "x" + ProcessHandle.current().pid() + "." + randomHex(random, 4), controllerSecret);
        Map<String, String> env = new TreeMap<>();
        env.put("MASTER_ADDR", RendezvousConfig.DEFAULT_MASTER_ADDR);
        env.put("MASTER_PORT", Integer.toString(store.port()));
        env.put("WORLD_SIZE", Integer.toString(worldSize));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(worldSize));
        env.put(RendezvousConfig.ENV_SECRET, token);
        env.put(WorkerJvms.ENV_SIGINT, "ignore");
        env.put(WorkerJvms.ENV_CONTROLLER_SECRET, controllerSecret);
        env.put(RendezvousConfig.ENV_TIMEOUT_MS, Long.toString(TimeUnit.NANOSECONDS.toMillis(rendezvousTimeoutNs)));
        List<String> flags = new ArrayList<>(WorkerJvms.PROJECT_JVM_FLAGS);
        flags.addAll(jvm.jvmFlags());
        try {
            for (int rank = 1; rank < worldSize; rank++) {
                boolean controller = rank < controllers;
                List<String> args = new ArrayList<>();
                if (controller) {
                    args.add("train");
                    args.addAll(controllerArguments);
                } else {
                    args.add("worker");
                    args.addAll(workerArguments.apply(rank - controllers));
                }
                Map<String, String> rankEnv = new TreeMap<>(env);
                rankEnv.put("RANK", Integer.toString(rank));
                rankEnv.put("LOCAL_RANK", Integer.toString(rank));
                Path out = launch.stdoutFile(rank);
                Path err = launch.stderrFile(rank);
                launch.launches.add(WorkerProcesses.launch(ResourcePool.host("yatt-" + launch.name(rank), 1, 1), 0,
                        jvm.java(), flags, jvm.classPath(), YattCli.class.getName(), args, rankEnv,
                        i -> ProcessBuilder.Redirect.to(out.toFile()), i -> ProcessBuilder.Redirect.to(err.toFile())));
            }
            return launch;
        } catch (RuntimeException | Error e) {
            try {
                launch.close();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private static String randomHex(SecureRandom random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /**
     * The shared secret of the launch's control planes (fresh, random; in the processes' {@value
     * WorkerJvms#ENV_CONTROLLER_SECRET}): controller 0's plane takes it too, so no other process on the host can
     * register with or speak to the controllers' udp endpoints.
     */
    public String controllerSecret() {
        return controllerSecret;
    }

    /** Rendezvous rank 0's config (this JVM, controller 0): the store's port and secret, the launch's timeout. */
    public RendezvousConfig rendezvous() {
        return rendezvous;
    }

    /** The store every rank meets in, served by this launch; publish through it. */
    public ControllerRendezvous.Store store() {
        return store;
    }

    /** The job id of the workers' shm world (its files are {@code yatt-<id>-*}), removed on close. */
    public String worldJobId() {
        return worldJobId;
    }

    /** The processes, in rendezvous-rank order from rank 1 (controllers 1 to C - 1, then workers 0 to W - 1). */
    public List<Process> processes() {
        return WorkerJvms.processesOf(launches);
    }

    /** The log folder. */
    public Path logDirectory() {
        return logDirectory;
    }

    /**
     * Runs {@code startup} on the calling thread while the processes are watched; if one exits before {@code startup}
     * returns, the store is closed and this thread interrupted, so the startup fails at once.
     *
     * @throws IllegalStateException {@code <role> JVM exited during startup: ...} naming the first process that
     *     exited (its index or rank, pid, exit code and the tail of its standard error), with the startup's own
     *     failure as the cause; otherwise the startup's failure as thrown
     */
    public <T> T watch(Supplier<T> startup) {
        StartupWatch watch = new StartupWatch(Thread.currentThread());
        for (Process p : processes()) {
            p.onExit().thenAccept(watch::exited);
        }
        T result;
        try {
            result = startup.get();
        } catch (RuntimeException | Error e) {
            Process p = watch.end();
            if (p != null) {
                throw new IllegalStateException(describeExit(p, "exited during startup"), e);
            }
            throw e;
        }
        // a process that exits after the startup succeeded is the run's to find (onFailedExit, heartbeats)
        watch.end();
        return result;
    }

    /** The first process to exit while a startup runs: it closes the store and interrupts the starting thread once. */
    private final class StartupWatch {
        private final Thread starter;
        private Process exited;
        private boolean ended;

        StartupWatch(Thread starter) {
            this.starter = starter;
        }

        /** From the process-exit thread: the first exit before {@link #end()} stops the startup. */
        synchronized void exited(Process p) {
            if (ended || exited != null) {
                return;
            }
            exited = p;
            store.close();
            starter.interrupt();
        }

        /**
         * On the starting thread: ends the watch and returns the process that exited during it, its interrupt of this
         * thread cleared, or null.
         */
        synchronized Process end() {
            ended = true;
            if (exited != null) {
                Thread.interrupted();
            }
            return exited;
        }
    }

    /**
     * A process of the launch that exited with an error.
     *
     * @param pid its pid
     * @param controller whether it is a controller's JVM (else a worker's)
     * @param index the controller's index, or the worker's rank
     * @param description {@code <controller|worker> JVM exited: controller=I|rank=R, pid=P, exitCode=X, stderr tail:
     *     ...}
     */
    public record FailedExit(long pid, boolean controller, int index, String description) {
    }

    /**
     * Calls {@code onExit} for each process that exits with a code other than 0 before this launch is closed (from
     * the JVM's process-exit thread), so that a controller learns of it at once (for example {@link
     * io.yatt.controller.ControlPlane#processExited}).
     */
    public void onFailedExit(Consumer<FailedExit> onExit) {
        WorkerJvms.onFailedExit(processes(), () -> !closed, exited -> {
            int rank = rankOf(exited);
            boolean controller = rank < controllers;
            onExit.accept(new FailedExit(exited.pid(), controller, controller ? rank : rank - controllers,
                    describeExit(exited, "exited")));
        });
    }

    /**
     * Waits until every process ended by itself (after a run, controller 0 has told its workers to stop and the other
     * controllers finish their own), at most {@code timeoutNs} in all.
     *
     * @throws IllegalStateException naming each process still running at the deadline or that exited with a code
     *     other than 0 (with the tail of its standard error)
     */
    public void awaitExit(long timeoutNs) {
        long deadlineNs = System.nanoTime() + timeoutNs;
        StringBuilder failures = new StringBuilder();
        List<Process> all = processes();
        for (Process p : all) {
            try {
                if (!p.waitFor(Math.max(0, deadlineNs - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    failures.append(System.lineSeparator()).append(describe(p, "still running")).append(
                            ", waitedMs=").append(TimeUnit.NANOSECONDS.toMillis(timeoutNs));
                } else if (p.exitValue() != 0) {
                    failures.append(System.lineSeparator()).append(describeExit(p, "failed"));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the launch's processes to end", e);
            }
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("processes of the local launch did not end cleanly (logs in "
                    + logDirectory + "):" + failures);
        }
    }

    /**
     * Stops every process that still runs (SIGTERM, then SIGKILL after {@link WorkerProcesses#TERMINATE_GRACE_NS}),
     * closes the store and removes the workers' shared-memory files and the Aeron directories of every process that
     * exited ({@link ControlPlane#removeDriverDirectoriesOf}); the logs stay.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("local launch already closed: worldJobId=" + worldJobId);
        }
        closed = true;
        try {
            WorkerJvms.terminate(launches);
        } finally {
            store.close();
            WorkerJvms.removeShmFiles(ShmContext.DEFAULT_DIRECTORY, worldJobId);
            // a JVM killed or stopped before it closed its plane: its driver's directory, now that it has exited
            for (Process p : processes()) {
                if (!p.isAlive()) {
                    ControlPlane.removeDriverDirectoriesOf(p.pid());
                }
            }
        }
    }

    private String describeExit(Process p, String what) {
        return describe(p, what) + ", exitCode=" + p.exitValue() + ", stderr tail:" + System.lineSeparator()
                + WorkerJvms.tail(stderrFile(rankOf(p)));
    }

    /** {@code <controller|worker> JVM <what>: controller=I|rank=R, pid=P}. */
    private String describe(Process p, String what) {
        int rank = rankOf(p);
        return (rank < controllers ? "controller JVM " : "worker JVM ") + what + ": " + name(rank).replace('-', '=')
                + ", pid=" + p.pid();
    }

    private int rankOf(Process p) {
        return processes().indexOf(p) + 1;
    }

    /** {@code controller-I} or {@code rank-R} (worker rank R = rendezvous rank - C). */
    private String name(int rank) {
        return rank < controllers ? "controller-" + rank : "rank-" + (rank - controllers);
    }

    private Path stdoutFile(int rank) {
        return logDirectory.resolve(name(rank) + ".out");
    }

    private Path stderrFile(int rank) {
        return logDirectory.resolve(name(rank) + ".err");
    }
}
