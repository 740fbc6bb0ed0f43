package io.yatt.collectives.shm;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorHarness;
import io.yatt.collectives.RankOutcome;
import io.yatt.collectives.RankTask;
import io.yatt.tensor.Device;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Real processes: one {@link ShmWorker} JVM per rank (same java binary, class path and JVM flags as this test JVM),
 * started once and reused for every task; a task travels serialized over the worker's stdin, its outcome comes back
 * on stdout in a frame that starts with {@link ShmWorker#FRAME_MAGIC} (anything else on stdout is skipped, echoed to
 * stderr and named in failures). A run is bounded: a rank that does not answer in time, or whose process ends, fails
 * its outcome and the workers are restarted for the next run.
 */
final class ShmProcessHarness implements CommunicatorHarness {
    static final long RUN_LIMIT_NS = TimeUnit.SECONDS.toNanos(120);
    /** JVM start, rendezvous and a warm-up collective under {@link ShmWorker#WARM_UP_TIMEOUT_NS}, on a loaded machine. */
    static final long START_LIMIT_NS = TimeUnit.SECONDS.toNanos(120);
    /** Flags that keep the JVM's own messages (warnings, unified logging) off stdout, which carries the frames. */
    static final List<String> QUIET_STDOUT_FLAGS = List.of("-XX:+DisplayVMOutputToStderr",
        "-Xlog:disable", "-Xlog:all=warning:stderr", "-XX:-UsePerfData");

    private final int size;
    private final Communicator.Context context;
    private final Map<String, String> extraProps;
    private ShmLauncher launcher;
    private List<DataOutputStream> inputs;
    private List<FrameReader> readers;

    ShmProcessHarness(int size, Communicator.Context context) {
        this(size, context, Map.of());
    }

    ShmProcessHarness(int size, Communicator.Context context, Map<String, String> extraProps) {
        this.size = size;
        this.context = context;
        this.extraProps = extraProps;
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
        flags.addAll(QUIET_STDOUT_FLAGS);
        flags.add("-D" + ShmWorker.TIMEOUT_PROP + "=" + context.timeoutNs());
        flags.add("-D" + Communicator.Context.DEBUG_CHECKS_PROP_NAME + "=" + context.debugChecks());
        extraProps.forEach((k, v) -> flags.add("-D" + k + "=" + v));
        launcher = ShmLauncher.launch(size, javaBinary(), flags, System.getProperty("java.class.path"),
            ShmWorker.class.getName(), List.of(), Map.of(), false);
        inputs = new ArrayList<>();
        readers = new ArrayList<>();
        List<Process> processes = launcher.processes();
        for (int r = 0; r < processes.size(); r++) {
            Process p = processes.get(r);
            inputs.add(new DataOutputStream(new BufferedOutputStream(p.getOutputStream())));
            readers.add(new FrameReader(r, p));
        }
        List<RankOutcome<Object>> ready = collect(START_LIMIT_NS);
        for (RankOutcome<Object> outcome : ready) {
            if (outcome.failure() != null) {
                stop();
                // the cause's text in the message: a build log's summary line shows only the message
                throw new IllegalStateException("shm worker failed to start: rank=" + outcome.rank() + ": "
                    + outcome.failure(), outcome.failure());
            }
        }
    }

    /** What rank {@code rank}'s running worker printed on stdout outside frames (tests of the harness). */
    String strayOutput(int rank) {
        return readers.get(rank).stray();
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

    /** The next frame of every rank (in rank order), or a {@link HarnessFailure} for a rank that gave none in time. */
    private List<RankOutcome<Object>> collect(long limitNs) {
        long deadline = System.nanoTime() + limitNs;
        List<RankOutcome<Object>> outcomes = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            FrameReader reader = readers.get(r);
            try {
                ShmWorker.Frame frame = reader.next(Math.max(0, deadline - System.nanoTime()));
                if (frame == null) {
                    outcomes.add(new RankOutcome<>(r, null, new HarnessFailure("rank " + r + " hung past the harness"
                        + " limit of " + TimeUnit.NANOSECONDS.toSeconds(limitNs) + " s" + reader.strayText(), null),
                        limitNs));
                } else if (frame.type() == ShmWorker.FRAME_ARMED) {
                    outcomes.add(new RankOutcome<>(r, null, null, 0));
                } else {
                    @SuppressWarnings("unchecked")
                    RankOutcome<Object> o = (RankOutcome<Object>) ShmWorker.deserialize(frame.payload());
                    outcomes.add(new RankOutcome<>(r, o.value(), o.failure(), o.elapsedNs()));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                outcomes.add(new RankOutcome<>(r, null, new HarnessFailure("interrupted waiting for rank " + r, e), 0));
            } catch (Exception e) {
                outcomes.add(new RankOutcome<>(r, null, new HarnessFailure("rank " + r + " process failed: " + e
                    + reader.strayText(), e), 0));
            }
        }
        return outcomes;
    }

    /**
     * Reads one worker's stdout on a thread of its own for the worker's life, so a frame that comes late is still read
     * once and in order. Bytes outside a frame (a JVM message that reached stdout after all) are skipped up to the
     * next frame's magic, echoed to stderr and kept for the failure messages; the end of the stream is queued too.
     */
    private static final class FrameReader {
        private static final int STRAY_KEPT_BYTES = 2048;
        private static final ShmWorker.Frame END = new ShmWorker.Frame(0, new byte[0]);

        private final Process process;
        private final LinkedBlockingQueue<ShmWorker.Frame> frames = new LinkedBlockingQueue<>();
        private final ByteArrayOutputStream stray = new ByteArrayOutputStream();
        private volatile IOException endedBy;

        FrameReader(int rank, Process process) {
            this.process = process;
            Thread thread = new Thread(this::readAll, "shm-harness-reader-" + rank);
            thread.setDaemon(true);
            thread.start();
        }

        /** The next frame, null if none came in time; throws once the stream ended (with how it ended). */
        ShmWorker.Frame next(long timeoutNs) throws InterruptedException, IOException {
            ShmWorker.Frame frame = frames.poll(timeoutNs, TimeUnit.NANOSECONDS);
            if (frame == END) {
                frames.add(END);
                process.waitFor(5, TimeUnit.SECONDS);
                String exit = process.isAlive() ? "still running" : "exit code " + process.exitValue();
                throw new IOException("stdout ended (" + exit + ")"
                    + (endedBy == null ? "" : ": " + endedBy.getMessage()), endedBy);
            }
            return frame;
        }

        /** What the worker printed outside frames so far (the first {@value #STRAY_KEPT_BYTES} bytes). */
        String stray() {
            synchronized (stray) {
                return stray.toString(StandardCharsets.UTF_8);
            }
        }

        /** {@link #stray()} for a failure message (empty if nothing). */
        String strayText() {
            String text = stray().strip();
            return text.isEmpty() ? "" : "; it printed on stdout: \"" + text + "\"";
        }

        private void readAll() {
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(process.getInputStream()))) {
                int window = 0;
                int seen = 0;
                while (true) {
                    int b = in.read();
                    if (b < 0) {
                        keepStray(window, Math.min(seen, 4));
                        break;
                    }
                    if (seen >= 4) {
                        keepStray(window >>> 24, 1);
                    }
                    window = window << 8 | b;
                    seen++;
                    if (seen >= 4 && window == ShmWorker.FRAME_MAGIC) {
                        frames.add(ShmWorker.readFrameBody(in));
                        window = 0;
                        seen = 0;
                    }
                }
            } catch (IOException e) {
                endedBy = e;
            } finally {
                frames.add(END);
            }
        }

        /** Keeps the low {@code count} bytes of {@code bytes} (high first) as stray output and echoes them. */
        private void keepStray(int bytes, int count) {
            synchronized (stray) {
                for (int i = count - 1; i >= 0; i--) {
                    int b = bytes >>> (8 * i) & 0xff;
                    System.err.write(b);
                    if (stray.size() < STRAY_KEPT_BYTES) {
                        stray.write(b);
                    }
                }
            }
            System.err.flush();
        }
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
    }
}
