package io.yatt.trainer.run;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects one step's metrics: values by verl's names, min/mean/max of per-sample values, and stage times
 * ({@code timing_s/<stage>}, accumulated when a stage runs more than once). {@link #commit(long)} hands them over and
 * starts the next step. Mutable; confined to the controller thread.
 */
public final class MetricsTracker {

    private final Map<String, Double> values = new LinkedHashMap<>();

    private MetricsTracker() {
    }

    /** An empty tracker. */
    public static MetricsTracker create() {
        return new MetricsTracker();
    }

    /**
     * Records one value; a second value under the same name replaces the first.
     *
     * @throws IllegalArgumentException if the name is empty or holds a comma, quote or line break
     */
    public void record(String name, double value) {
        values.put(checkName(name), value);
    }

    /**
     * Records {@code prefix/mean}, {@code prefix/max} and {@code prefix/min} of the values, as verl does for
     * {@code critic/score} and {@code response_length}.
     *
     * @throws IllegalArgumentException if {@code values} is empty or the prefix is not a valid name
     */
    public void recordStats(String prefix, double[] samples) {
        if (samples.length == 0) {
            throw new IllegalArgumentException("no samples to summarise: prefix=" + prefix);
        }
        double sum = 0.0;
        double max = Double.NEGATIVE_INFINITY;
        double min = Double.POSITIVE_INFINITY;
        for (double sample : samples) {
            sum += sample;
            max = Math.max(max, sample);
            min = Math.min(min, sample);
        }
        record(prefix + "/mean", sum / samples.length);
        record(prefix + "/max", max);
        record(prefix + "/min", min);
    }

    /**
     * Adds {@code seconds} to {@code timing_s/<stage>}.
     *
     * @throws IllegalArgumentException if the stage name is not valid or {@code seconds} is negative or not finite
     */
    public void addTiming(String stage, double seconds) {
        if (!(seconds >= 0.0) || Double.isInfinite(seconds)) {
            throw new IllegalArgumentException("stage time must be finite and >= 0: stage=" + stage + ", seconds="
                    + seconds);
        }
        values.merge(checkName(MetricNames.TIMING_PREFIX + stage), seconds, Double::sum);
    }

    /**
     * Starts timing a stage; closing the returned timer adds the elapsed wall time to {@code timing_s/<stage>}.
     * Use with try-with-resources.
     */
    public Timer time(String stage) {
        checkName(MetricNames.TIMING_PREFIX + stage);
        return new Timer(this, stage, System.nanoTime());
    }

    /** The metrics recorded since the last commit, as step {@code step}; the tracker is empty afterwards. */
    public StepMetrics commit(long step) {
        StepMetrics metrics = new StepMetrics(step, values);
        values.clear();
        return metrics;
    }

    static String checkName(String name) {
        if (name.isEmpty() || name.indexOf(',') >= 0 || name.indexOf('"') >= 0 || name.indexOf('\n') >= 0
                || name.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("metric name not allowed (empty, or holds a comma, quote or line "
                    + "break): name=" + name);
        }
        return name;
    }

    /** A running stage timer; {@link #close()} records it once. Confined to the thread that started it. */
    public static final class Timer implements AutoCloseable {
        private final MetricsTracker tracker;
        private final String stage;
        private final long startNs;
        private boolean closed;

        private Timer(MetricsTracker tracker, String stage, long startNs) {
            this.tracker = tracker;
            this.stage = stage;
            this.startNs = startNs;
        }

        /**
         * Records the elapsed time.
         *
         * @throws IllegalStateException on a second close
         */
        @Override
        public void close() {
            if (closed) {
                throw new IllegalStateException("timer already closed: stage=" + stage);
            }
            closed = true;
            tracker.addTiming(stage, (System.nanoTime() - startNs) / 1e9);
        }
    }
}
