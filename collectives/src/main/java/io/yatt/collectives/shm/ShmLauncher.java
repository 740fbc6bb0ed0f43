package io.yatt.collectives.shm;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.internal.ProcessGroup;
import io.yatt.collectives.rendezvous.TcpStoreServer;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Starts {@code np} rank processes on this host: the same java binary, the given JVM flags and class path, a main
 * class, and torchrun-style variables ({@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK},
 * {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR}, {@code MASTER_PORT}, {@value RendezvousConfig#ENV_JOB_ID}) pointing
 * at a rendezvous store that the launcher serves on loopback. The ranks build their communicator with
 * {@link ShmCommunicator#fromEnvironment(java.util.Map, io.yatt.collectives.ShmContext)}.
 *
 * <p>{@link #close()} stops every process still running (SIGKILL after a grace period) and the store. Not
 * thread-safe.
 */
public final class ShmLauncher implements AutoCloseable {
    /** Set to {@code 1} in the ranks' environment: the store is served by the launcher, connect only. */
    public static final String ENV_EXTERNAL_STORE = "YATT_EXTERNAL_STORE";
    /** Set to {@code 1} in the ranks' environment when each rank runs pinned to a core of its own. */
    public static final String ENV_BOUND_TO_CORES = "YATT_SHM_BOUND_TO_CORES";

    private static final java.io.File TASKSET = new java.io.File("/usr/bin/taskset");

    private final TcpStoreServer store;
    private final List<Process> processes;
    private final String jobId;

    private ShmLauncher(TcpStoreServer store, List<Process> processes, String jobId) {
        this.store = store;
        this.processes = processes;
        this.jobId = jobId;
    }

    /**
     * Starts the ranks.
     *
     * @param np        number of ranks
     * @param java      the java executable, e.g. {@code ProcessHandle.current().info().command()}
     * @param jvmFlags  flags before the class path (e.g. {@code --enable-native-access=ALL-UNNAMED})
     * @param classPath the ranks' class path
     * @param mainClass the ranks' main class
     * @param args      arguments after the main class
     * @param extraEnv  more environment variables (may override the defaults)
     * @param inheritIo whether the ranks write to this process's stdout/stderr (else pipes, see {@link #processes()})
     * @throws IllegalStateException if a process cannot be started
     */
    public static ShmLauncher launch(int np, String java, List<String> jvmFlags, String classPath, String mainClass,
                                     List<String> args, Map<String, String> extraEnv, boolean inheritIo) {
        return launch(np, java, jvmFlags, classPath, mainClass, args, extraEnv, inheritIo, false);
    }

    /**
     * As {@link #launch(int, String, List, String, String, List, Map, boolean)}; with {@code bindToCores} and no more
     * ranks than CPUs, rank {@code r} runs pinned to CPU {@code r} ({@code taskset -c r}), as {@code mpirun} binds
     * ranks to cores by default: two spinning ranks never share a core while another one idles.
     */
    public static ShmLauncher launch(int np, String java, List<String> jvmFlags, String classPath, String mainClass,
                                     List<String> args, Map<String, String> extraEnv, boolean inheritIo,
                                     boolean bindToCores) {
        Objects.requireNonNull(java, "java");
        if (np < 1) {
            throw new IllegalArgumentException("np must be positive: np=" + np);
        }
        byte[] nonce = new byte[4];
        new SecureRandom().nextBytes(nonce);
        String jobId = "j" + ProcessHandle.current().pid() + "." + HexFormat.of().formatHex(nonce);
        TcpStoreServer store = TcpStoreServer.start(RendezvousConfig.DEFAULT_MASTER_ADDR, 0, np, null);
        List<Process> processes = new ArrayList<>();
        boolean pin = bindToCores && np <= Runtime.getRuntime().availableProcessors() && TASKSET.canExecute();
        try {
            for (int r = 0; r < np; r++) {
                List<String> command = new ArrayList<>();
                if (pin) {
                    command.add(TASKSET.toString());
                    command.add("-c");
                    command.add(Integer.toString(r));
                }
                command.add(java);
                command.addAll(jvmFlags);
                command.add("-cp");
                command.add(classPath);
                command.add(mainClass);
                command.addAll(args);
                ProcessBuilder pb = new ProcessBuilder(command);
                Map<String, String> env = pb.environment();
                env.put("RANK", Integer.toString(r));
                env.put("WORLD_SIZE", Integer.toString(np));
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(np));
                env.put("MASTER_ADDR", RendezvousConfig.DEFAULT_MASTER_ADDR);
                env.put("MASTER_PORT", Integer.toString(store.port()));
                env.put(RendezvousConfig.ENV_JOB_ID, jobId);
                env.put(ENV_EXTERNAL_STORE, "1");
                if (pin) {
                    env.put(ENV_BOUND_TO_CORES, "1");
                }
                env.putAll(extraEnv);
                if (inheritIo) {
                    pb.inheritIO();
                } else {
                    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
                }
                processes.add(pb.start());
            }
        } catch (IOException | RuntimeException e) {
            processes.forEach(Process::destroyForcibly);
            store.close();
            throw new IllegalStateException("cannot start rank processes: np=" + np + ", java=" + java + ", error="
                + e.getMessage(), e);
        }
        return new ShmLauncher(store, List.copyOf(processes), jobId);
    }

    /** The rank processes, in rank order. */
    public List<Process> processes() {
        return processes;
    }

    /** The job id the ranks use in their region names ({@code yatt-<jobId>-<rank>-...}). */
    public String jobId() {
        return jobId;
    }

    /** The port of the rendezvous store on 127.0.0.1. */
    public int storePort() {
        return store.port();
    }

    /**
     * Waits until every process exited, at most {@code timeoutNs}.
     *
     * @return the exit codes in rank order, -1 for a process still running at the deadline
     */
    public int[] waitFor(long timeoutNs) throws InterruptedException {
        return ProcessGroup.waitFor(processes, timeoutNs);
    }

    /** Kills what still runs (SIGTERM, then SIGKILL after one second) and stops the store. */
    @Override
    public void close() {
        ProcessGroup.terminate(processes, TimeUnit.SECONDS.toNanos(1));
        store.close();
    }
}
