package io.yatt.controller;

import io.yatt.collectives.internal.ProcessGroup;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Worker JVMs on the controller's host, started as the shm launcher starts rank JVMs: the given java binary, JVM
 * flags, class path and main class, with {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK} and
 * {@code LOCAL_WORLD_SIZE} plus {@link ControlPlane#localWorkerEnvironment()} in their environment; the main class
 * builds its worker with {@link Worker.Context#fromEnvironment}. {@link #close()} stops what still runs (SIGTERM, then
 * SIGKILL after a grace period). Not thread-safe.
 */
public final class WorkerProcesses implements AutoCloseable {

    /** How long {@link #close()} waits after SIGTERM before SIGKILL. */
    public static final long TERMINATE_GRACE_NS = TimeUnit.SECONDS.toNanos(1);

    private final List<Process> processes;

    private WorkerProcesses(List<Process> processes) {
        this.processes = processes;
    }

    /**
     * Starts {@code count} worker processes, rank {@code r} for {@code r} in {@code [0, count)}.
     *
     * @param plane     the controller they register with (its endpoint and driver directory go in the environment)
     * @param count     number of processes
     * @param java      the java executable, for example {@code ProcessHandle.current().info().command()}
     * @param jvmFlags  flags before the class path
     * @param classPath the workers' class path
     * @param mainClass the workers' main class
     * @param args      arguments after the main class
     * @param extraEnv  more environment variables (may override the defaults)
     * @throws IllegalArgumentException if count is not positive
     * @throws IllegalStateException if a process cannot be started (those already started are killed)
     */
    public static WorkerProcesses launch(ControlPlane plane, int count, String java, List<String> jvmFlags,
                                         String classPath, String mainClass, List<String> args,
                                         Map<String, String> extraEnv) {
        return launch(plane, count, java, jvmFlags, classPath, mainClass, args, extraEnv,
                rank -> ProcessBuilder.Redirect.DISCARD, rank -> ProcessBuilder.Redirect.INHERIT);
    }

    /**
     * As {@link #launch(ControlPlane, int, String, List, String, String, List, Map)}, with the standard output and
     * error of rank {@code r} sent where {@code stdout.apply(r)} and {@code stderr.apply(r)} say (for example a log
     * file per rank, so that a launcher can report what a worker that failed printed).
     *
     * @throws IllegalArgumentException if count is not positive
     * @throws IllegalStateException if a process cannot be started (those already started are killed)
     */
    public static WorkerProcesses launch(ControlPlane plane, int count, String java, List<String> jvmFlags,
                                         String classPath, String mainClass, List<String> args,
                                         Map<String, String> extraEnv, IntFunction<ProcessBuilder.Redirect> stdout,
                                         IntFunction<ProcessBuilder.Redirect> stderr) {
        Objects.requireNonNull(java, "java");
        if (count < 1) {
            throw new IllegalArgumentException("worker process count must be positive: count=" + count);
        }
        List<Process> processes = new ArrayList<>();
        try {
            for (int r = 0; r < count; r++) {
                List<String> command = new ArrayList<>();
                command.add(java);
                command.addAll(jvmFlags);
                command.add("-cp");
                command.add(classPath);
                command.add(mainClass);
                command.addAll(args);
                ProcessBuilder pb = new ProcessBuilder(command);
                Map<String, String> env = pb.environment();
                env.put(Worker.ENV_RANK, Integer.toString(r));
                env.put("WORLD_SIZE", Integer.toString(count));
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(count));
                env.putAll(plane.localWorkerEnvironment());
                env.putAll(extraEnv);
                pb.redirectOutput(stdout.apply(r));
                pb.redirectError(stderr.apply(r));
                processes.add(pb.start());
            }
        } catch (IOException | RuntimeException e) {
            processes.forEach(Process::destroyForcibly);
            throw new IllegalStateException("cannot start worker processes: count=" + count + ", java=" + java
                    + ", error=" + e.getMessage(), e);
        }
        return new WorkerProcesses(List.copyOf(processes));
    }

    /** The processes, in rank order. */
    public List<Process> processes() {
        return processes;
    }

    /**
     * Waits until every process exited, at most {@code timeoutNs} in all.
     *
     * @return the exit codes in rank order, -1 for a process still running at the deadline
     * @throws InterruptedException if interrupted while waiting
     */
    public int[] waitFor(long timeoutNs) throws InterruptedException {
        return ProcessGroup.waitFor(processes, timeoutNs);
    }

    /** Stops what still runs: SIGTERM, then SIGKILL after {@link #TERMINATE_GRACE_NS}. */
    @Override
    public void close() {
        ProcessGroup.terminate(processes, TERMINATE_GRACE_NS);
    }
}
