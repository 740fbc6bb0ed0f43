package io.yatt.trainer.run;

import java.io.UncheckedIOException;
import java.util.List;

/**
 * The loop's one call per step for outputs: appends the step's metrics to {@code metrics.jsonl} and
 * {@code metrics.csv}, redraws the plots every {@code plotFreq} steps, and at {@link #finish()} draws the plots once
 * more and writes {@value RunDirectory#SUMMARY}. Mutable; confined to the controller thread.
 */
public final class RunRecorder implements AutoCloseable {

    private final RunDirectory run;
    private final MetricsLog log;
    private final int plotFreq;

    private RunRecorder(RunDirectory run, MetricsLog log, int plotFreq) {
        this.run = run;
        this.log = log;
        this.plotFreq = plotFreq;
    }

    /**
     * Starts recording into {@code run}, keeping the metrics of steps up to {@code resumedStep} (0 for a fresh run).
     *
     * @throws IllegalArgumentException if {@code plotFreq < 1} or {@code resumedStep < 0}
     * @throws UncheckedIOException if the metrics files cannot be written
     */
    public static RunRecorder start(RunDirectory run, long resumedStep, int plotFreq) {
        if (plotFreq < 1) {
            throw new IllegalArgumentException("plot frequency must be >= 1: plotFreq=" + plotFreq);
        }
        if (resumedStep < 0) {
            throw new IllegalArgumentException("resumed step must be >= 0: resumedStep=" + resumedStep);
        }
        return new RunRecorder(run, run.openMetrics(resumedStep), plotFreq);
    }

    /**
     * Records one step; on every {@code plotFreq}-th step the plots are redrawn.
     *
     * @throws IllegalArgumentException if the step is not after the last recorded one
     * @throws UncheckedIOException if a file cannot be written
     */
    public void record(StepMetrics metrics) {
        log.append(metrics);
        if (metrics.step() % plotFreq == 0) {
            MetricPlots.write(run.plots(), log.rows());
        }
    }

    /** Every recorded step, oldest first (including those kept from before a resume). */
    public List<StepMetrics> rows() {
        return log.rows();
    }

    /**
     * Draws the plots and writes the summary table.
     *
     * @return the summary text, also in {@value RunDirectory#SUMMARY}; empty when no step was recorded
     * @throws UncheckedIOException if a file cannot be written
     */
    public String finish() {
        MetricPlots.write(run.plots(), log.rows());
        if (log.rows().isEmpty()) {
            return "";
        }
        String summary = RunSummary.render(log.rows());
        run.writeSummary(summary);
        return summary;
    }

    /** Closes the metrics files. */
    @Override
    public void close() {
        log.close();
    }
}
