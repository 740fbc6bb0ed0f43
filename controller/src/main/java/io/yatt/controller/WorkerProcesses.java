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
 * flags, class path and main class, with {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK},
 * {@code LOCAL_WORLD_SIZE} and {@value Worker#ENV_DEVICE} (from the process's {@link ResourcePool} slot) plus
 * {@link ControlPlane#localWorkerEnvironment()} in their environment; the main class
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
     * Starts {@code count} worker processes, rank {@code r} for {@code r} in {@code [0, count)}, all on the host (a
     * host pool of one node, {@link ResourcePool#host}).
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
        if (count < 1) {
            throw new IllegalArgumentException("worker process count must be positive: count=" + count);
        }
        return launch(plane, ResourcePool.host("workers", 1, count), 0, java, jvmFlags, classPath, mainClass, args,
                extraEnv, stdout, stderr);
    }

    /**
     * Starts the processes of {@code pool} that live on {@code node} (this host), one per slot: the process of pool
     * rank {@code i} gets {@code RANK=i}, {@code WORLD_SIZE} = the pool's size, {@code LOCAL_RANK} and
     * {@code LOCAL_WORLD_SIZE} = its index among and the number of the pool's processes on the node, and {@value Worker#ENV_DEVICE} = the slot's device, so worker
     * {@code i} of a group on the pool runs bound to {@code pool.slot(i).device()} ({@link Worker#device()}). The
     * other nodes' processes are started by their own hosts' launchers with the same pool. {@link #processes()} lists
     * this node's processes in pool-rank order.
     *
     * @throws IllegalArgumentException if the pool has no process on {@code node}
     * @throws IllegalStateException if a process cannot be started (those already started are killed)
     */
    public static WorkerProcesses launch(ControlPlane plane, ResourcePool pool, int node, String java,
                                         List<String> jvmFlags, String classPath, String mainClass, List<String> args,
                                         Map<String, String> extraEnv, IntFunction<ProcessBuilder.Redirect> stdout,
                                         IntFunction<ProcessBuilder.Redirect> stderr) {
        Objects.requireNonNull(plane, "plane");
        return start(plane.localWorkerEnvironment(), pool, node, java, jvmFlags, classPath, mainClass, args, extraEnv,
                stdout, stderr);
    }

    /**
     * As {@link #launch(ControlPlane, ResourcePool, int, String, List, String, String, List, Map, IntFunction,
     * IntFunction)} for processes that find their controller themselves, through the rendezvous store their
     * environment names ({@code MASTER_ADDR}, {@code MASTER_PORT} in {@code extraEnv}): what a launcher such as
     * torchrun does, with no controller's endpoint or driver directory in the environment.
     *
     * @throws IllegalArgumentException if the pool has no process on {@code node}
     * @throws IllegalStateException if a process cannot be started (those already started are killed)
     */
    public static WorkerProcesses launch(ResourcePool pool, int node, String java, List<String> jvmFlags,
                                         String classPath, String mainClass, List<String> args,
                                         Map<String, String> extraEnv, IntFunction<ProcessBuilder.Redirect> stdout,
                                         IntFunction<ProcessBuilder.Redirect> stderr) {
        return start(Map.of(), pool, node, java, jvmFlags, classPath, mainClass, args, extraEnv, stdout, stderr);
    }

    private static WorkerProcesses start(Map<String, String> controllerEnv, ResourcePool pool, int node, String java,
                                         List<String> jvmFlags, String classPath, String mainClass, List<String> args,
                                         Map<String, String> extraEnv, IntFunction<ProcessBuilder.Redirect> stdout,
                                         IntFunction<ProcessBuilder.Redirect> stderr) {
        Objects.requireNonNull(java, "java");
        Objects.requireNonNull(pool, "pool");
        List<Integer> ranks = new ArrayList<>();
        for (int i = 0; i < pool.worldSize(); i++) {
            if (pool.slot(i).node() == node) {
                ranks.add(i);
            }
        }
        if (ranks.isEmpty()) {
            throw new IllegalArgumentException("resource pool has no process on node: node=" + node + ", pool="
                    + pool.name() + ", nodes=" + pool.nodes());
        }
        List<Process> processes = new ArrayList<>();
        try {
            for (int local = 0; local < ranks.size(); local++) {
                int r = ranks.get(local);
                ResourcePool.Slot slot = pool.slot(r);
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
                env.put("WORLD_SIZE", Integer.toString(pool.worldSize()));
                env.put("LOCAL_RANK", Integer.toString(local));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(ranks.size()));
                env.put(Worker.ENV_DEVICE, slot.device().toString());
                env.putAll(controllerEnv);
                env.putAll(extraEnv);
                pb.redirectOutput(stdout.apply(r));
                pb.redirectError(stderr.apply(r));
                processes.add(pb.start());
            }
        } catch (IOException | RuntimeException e) {
            processes.forEach(Process::destroyForcibly);
            throw new IllegalStateException("cannot start worker processes: pool=" + pool.name() + ", node=" + node
                    + ", count=" + ranks.size() + ", java=" + java + ", error=" + e.getMessage(), e);
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
