package io.yatt.trainer.run;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Training progress: a live bar with ETA and an extra message (the reward) on a terminal, drawn by the progressbar
 * library; one plain line per update otherwise (logs, CI). Which one is the caller's choice, usually
 * {@link #isInteractive(boolean, String)} of the console and the {@code CI} variable, read by the CLI. Confined to
 * the controller thread.
 */
public sealed interface Progress extends AutoCloseable permits Progress.Bar, Progress.Lines {

    /**
     * Whether to draw a live bar: only on a console, and not when {@code CI} is {@code true} (as CI services set it).
     *
     * @param hasConsole {@code System.console() != null}
     * @param ciVariable the value of the {@code CI} environment variable, or null
     */
    static boolean isInteractive(boolean hasConsole, String ciVariable) {
        return hasConsole && !"true".equalsIgnoreCase(ciVariable == null ? "" : ciVariable.trim());
    }

    /**
     * A progress display of {@code totalSteps}, starting after {@code startStep} steps (a resumed run).
     *
     * @param interactive live bar, or plain lines
     * @throws IllegalArgumentException if {@code startStep} is not in {@code [0, totalSteps]}
     */
    static Progress create(String task, long startStep, long totalSteps, boolean interactive, PrintStream out) {
        if (startStep < 0 || startStep > totalSteps) {
            throw new IllegalArgumentException("progress start outside [0, total]: start=" + startStep + ", total="
                    + totalSteps);
        }
        return interactive ? new Bar(task, startStep, totalSteps, out)
                : new Lines(task, startStep, totalSteps, out, System::nanoTime);
    }

    /**
     * Reports that {@code step} steps are done, with a short live message such as {@code reward=0.530}.
     *
     * @throws IllegalStateException if closed
     */
    void update(long step, String message);

    /** Ends the display; a second close is a no-op for the bar library, so both variants tolerate it. */
    @Override
    void close();

    /** The live bar (progressbar library; it redraws from its own thread). */
    final class Bar implements Progress {
        private final ProgressBar bar;

        Bar(String task, long startStep, long totalSteps, PrintStream out) {
            this.bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(totalSteps)
                    .startsFrom(startStep, Duration.ZERO).setStyle(ProgressBarStyle.UNICODE_BLOCK)
                    .setConsumer(new ConsoleProgressBarConsumer(out)).setUpdateIntervalMillis(250).build();
        }

        @Override
        public void update(long step, String message) {
            bar.stepTo(step);
            bar.setExtraMessage(message);
        }

        @Override
        public void close() {
            bar.close();
        }
    }

    /**
     * Plain lines: {@code train 3/50 (6%) elapsed 0:00:12 eta 0:03:08 reward=0.530}; the ETA extrapolates the mean
     * time of the steps done in this process.
     */
    final class Lines implements Progress {
        private final String task;
        private final long startStep;
        private final long totalSteps;
        private final PrintStream out;
        private final LongSupplier nanoClock;
        private final long startNs;
        private boolean closed;

        Lines(String task, long startStep, long totalSteps, PrintStream out, LongSupplier nanoClock) {
            this.task = task;
            this.startStep = startStep;
            this.totalSteps = totalSteps;
            this.out = out;
            this.nanoClock = nanoClock;
            this.startNs = nanoClock.getAsLong();
        }

        @Override
        public void update(long step, String message) {
            if (closed) {
                throw new IllegalStateException("progress already closed: task=" + task);
            }
            long elapsedNs = nanoClock.getAsLong() - startNs;
            long done = step - startStep;
            String eta = done <= 0 ? "?" : clock((long) ((double) elapsedNs / done * (totalSteps - step)));
            long percent = totalSteps == 0 ? 100 : step * 100 / totalSteps;
            out.println(String.format(Locale.ROOT, "%s %d/%d (%d%%) elapsed %s eta %s%s", task, step, totalSteps,
                    percent, clock(elapsedNs), eta, message.isEmpty() ? "" : " " + message));
            out.flush();
        }

        @Override
        public void close() {
            closed = true;
        }

        static String clock(long nanos) {
            long seconds = Math.round(nanos / 1e9);
            return String.format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
        }
    }
}
