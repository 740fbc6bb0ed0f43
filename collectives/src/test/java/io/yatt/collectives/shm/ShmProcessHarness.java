package io.yatt.collectives.shm;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorHarness;
import io.yatt.collectives.RankOutcome;
import io.yatt.collectives.RankTask;
import io.yatt.tensor.Device;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Real processes: one {@link ShmWorker} JVM per rank (same java binary, class path and JVM flags as this test JVM),
 * started once and reused for every task; a task travels serialized over the worker's stdin, its outcome comes back
 * on stdout. A run is bounded: a rank that does not answer in time fails its outcome and the workers are restarted
 * for the next run.
 */
final class ShmProcessHarness implements CommunicatorHarness {
    static final long RUN_LIMIT_NS = TimeUnit.SECONDS.toNanos(120);
    static final long START_LIMIT_NS = TimeUnit.SECONDS.toNanos(60);

    private final int size;
    private final Communicator.Context context;
    private final Map<String, String> extraProps;
    private final ExecutorService readers;
    private ShmLauncher launcher;
    private List<DataOutputStream> inputs;
    private List<DataInputStream> outputs;

    ShmProcessHarness(int size, Communicator.Context context) {
        this(size, context, Map.of());
    }

    ShmProcessHarness(int size, Communicator.Context context, Map<String, String> extraProps) {
        this.size = size;
        this.context = context;
        this.extraProps = extraProps;
        this.readers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "shm-harness-reader");
            t.setDaemon(true);
            return t;
        });
    }

    /** The flags every Yatt JVM runs with (root pom {@code yatt.jvm.flags}); used when this JVM's are unknown. */
    static final List<String> YATT_JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED", "--add-exports",
        "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow");

    /** JVM flags of this test JVM (its command line up to the class path or jar), without agents and heap sizes. */
    static List<String> inheritedJvmFlags() {
        String[] args = ProcessHandle.current().info().arguments().orElse(null);
        if (args == null) {
            return YATT_JVM_FLAGS;
        }
        List<String> flags = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("-") || arg.equals("-jar") || arg.equals("-cp") || arg.equals("-classpath")
                || arg.equals("--class-path") || arg.startsWith("@")) {
                break;
            }
            boolean twoTokens = arg.equals("--add-exports") || arg.equals("--add-opens") || arg.equals("--add-modules")
                || arg.equals("--add-reads") || arg.equals("--enable-native-access") && !arg.contains("=");
            if (arg.startsWith("-agentlib") || arg.startsWith("-javaagent") || arg.startsWith("-Xmx")
                || arg.startsWith("-Xms") || arg.startsWith("-Dyatt.shm.test")) {
                continue;
            }
            flags.add(arg);
            if (twoTokens && i + 1 < args.length) {
                flags.add(args[++i]);
            }
        }
        if (!flags.contains("--enable-native-access=ALL-UNNAMED")) {
            flags.addAll(YATT_JVM_FLAGS);
        }
        return flags;
    }

    static String javaBinary() {
        return ProcessHandle.current().info().command().orElseThrow(
            () -> new IllegalStateException("cannot tell this JVM's java binary"));
    }

    private void start() {
        List<String> flags = new ArrayList<>(inheritedJvmFlags());
        flags.add("-Xmx256m");
        flags.add("-XX:+UseSerialGC");
        flags.add("-XX:TieredStopAtLevel=1");
        flags.add("-D" + ShmWorker.TIMEOUT_PROP + "=" + context.timeoutNs());
        flags.add("-D" + Communicator.Context.DEBUG_CHECKS_PROP_NAME + "=" + context.debugChecks());
        extraProps.forEach((k, v) -> flags.add("-D" + k + "=" + v));
        launcher = ShmLauncher.launch(size, javaBinary(), flags, System.getProperty("java.class.path"),
            ShmWorker.class.getName(), List.of(), Map.of(), false);
        inputs = new ArrayList<>();
        outputs = new ArrayList<>();
        for (Process p : launcher.processes()) {
            inputs.add(new DataOutputStream(new BufferedOutputStream(p.getOutputStream())));
            outputs.add(new DataInputStream(new BufferedInputStream(p.getInputStream())));
        }
        List<RankOutcome<Object>> ready = collect(START_LIMIT_NS);
        for (RankOutcome<Object> outcome : ready) {
            if (outcome.failure() != null) {
                stop();
                throw new IllegalStateException("shm worker failed to start: rank=" + outcome.rank(), outcome.failure());
            }
        }
    }

    /** The launcher of the running workers (for tests that kill a rank). */
    ShmLauncher launcher() {
        if (launcher == null) {
            start();
        }
        return launcher;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Device device() {
        return Device.host();
    }

    /** {@link #run} and every rank's value, in rank order; throws the first rank's failure. */
    <T> List<T> values(RankTask<T> task) {
        return run(task).stream().map(RankOutcome::get).toList();
    }

    @Override
    public <T> List<RankOutcome<T>> run(RankTask<T> task) {
        if (launcher == null) {
            start();
        }
        byte[] payload = ShmWorker.serialize(task);
        for (int r = 0; r < size; r++) {
            try {
                ShmWorker.writeFrame(inputs.get(r), ShmWorker.FRAME_TASK, payload);
            } catch (IOException e) {
                // the worker is gone: its outcome will say so
            }
        }
        List<RankOutcome<Object>> armed = collect(START_LIMIT_NS);
        boolean allArmed = true;
        for (RankOutcome<Object> o : armed) {
            allArmed &= o.failure() == null;
        }
        List<RankOutcome<Object>> outcomes = armed;
        if (allArmed) {
            for (int r = 0; r < size; r++) {
                try {
                    ShmWorker.writeFrame(inputs.get(r), ShmWorker.FRAME_GO, new byte[0]);
                } catch (IOException e) {
                    // the worker is gone: its outcome will say so
                }
            }
            outcomes = collect(RUN_LIMIT_NS);
        }
        List<RankOutcome<T>> typed = new ArrayList<>();
        boolean broken = false;
        for (RankOutcome<Object> o : outcomes) {
            @SuppressWarnings("unchecked")
            T value = (T) o.value();
            typed.add(new RankOutcome<>(o.rank(), value, o.failure(), o.elapsedNs()));
            broken |= o.failure() instanceof HarnessFailure;
        }
        if (broken) {
            stop();
        }
        return typed;
    }

    /** A worker did not answer (died or hung); the harness restarts the workers for the next run. */
    static final class HarnessFailure extends AssertionError {
        private static final long serialVersionUID = 1L;

        HarnessFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private List<RankOutcome<Object>> collect(long limitNs) {
        List<Future<RankOutcome<Object>>> futures = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            DataInputStream in = outputs.get(r);
            futures.add(readers.submit(() -> {
                int type = in.readInt();
                byte[] bytes = new byte[in.readInt()];
                in.readFully(bytes);
                if (type == ShmWorker.FRAME_ARMED) {
                    return new RankOutcome<>(-1, null, null, 0);
                }
                @SuppressWarnings("unchecked")
                RankOutcome<Object> o = (RankOutcome<Object>) ShmWorker.deserialize(bytes);
                return o;
            }));
        }
        long deadline = System.nanoTime() + limitNs;
        List<RankOutcome<Object>> outcomes = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            try {
                RankOutcome<Object> o = futures.get(r).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                outcomes.add(new RankOutcome<>(r, o.value(), o.failure(), o.elapsedNs()));
            } catch (TimeoutException e) {
                futures.get(r).cancel(true);
                outcomes.add(new RankOutcome<>(r, null, new HarnessFailure("rank " + r + " hung past the harness limit",
                    null), limitNs));
            } catch (Exception e) {
                outcomes.add(new RankOutcome<>(r, null, new HarnessFailure("rank " + r + " process failed: " + e, e), 0));
            }
        }
        return outcomes;
    }

    private void stop() {
        if (launcher == null) {
            return;
        }
        for (DataOutputStream in : inputs) {
            try {
                in.close();
            } catch (IOException ignored) {
                // the worker may be gone
            }
        }
        try {
            launcher.waitFor(TimeUnit.SECONDS.toNanos(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        launcher.close();
        launcher = null;
    }

    @Override
    public void close() {
        stop();
        readers.shutdownNow();
    }
}
