package io.yatt.trainer.run;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The end-of-run summary as a text table: mean seconds per step of every {@code timing_s/*} stage and its share of
 * the step (and, when {@code perf/total_num_tokens} was logged, the stage's tokens per second: the step's tokens over
 * the stage's mean time), the mean of every {@code perf/*} metric (tokens per second among them), and the reshard's
 * time and bytes per iteration. Stateless.
 */
public final class RunSummary {

    private RunSummary() {
    }

    /**
     * Renders the table over {@code rows}; the share column divides by the mean of {@code timing_s/step} when it was
     * logged, else by the sum of the stages.
     *
     * @throws IllegalArgumentException if {@code rows} is empty
     */
    public static String render(List<StepMetrics> rows) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("no steps to summarise: rows=0");
        }
        Map<String, Double> timing = new LinkedHashMap<>();
        Map<String, Double> perf = new LinkedHashMap<>();
        for (StepMetrics row : rows) {
            for (String name : row.values().keySet()) {
                if (name.startsWith(MetricNames.TIMING_PREFIX)) {
                    timing.putIfAbsent(name, mean(rows, name));
                } else if (name.startsWith("perf/")) {
                    perf.putIfAbsent(name, mean(rows, name));
                }
            }
        }
        double stageSum = 0.0;
        for (Map.Entry<String, Double> entry : timing.entrySet()) {
            if (!entry.getKey().equals(MetricNames.TIMING_STEP)) {
                stageSum += entry.getValue();
            }
        }
        double stepSeconds = timing.getOrDefault(MetricNames.TIMING_STEP, stageSum);
        long first = rows.getFirst().step();
        long last = rows.getLast().step();
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "Run summary: steps %d..%d (%d logged)", first, last, rows.size()));
        lines.add("");
        // with the step's token count logged, each stage's rate: the step's tokens over the stage's time
        Double tokens = perf.get(MetricNames.TOTAL_NUM_TOKENS);
        boolean rates = tokens != null && Double.isFinite(tokens);
        lines.add(rates ? String.format(Locale.ROOT, "%-28s %14s %9s %12s", "stage", "mean s/step", "share", "tokens/s")
                : String.format(Locale.ROOT, "%-28s %14s %9s", "stage", "mean s/step", "share"));
        for (Map.Entry<String, Double> entry : timing.entrySet()) {
            String stage = entry.getKey().substring(MetricNames.TIMING_PREFIX.length());
            double seconds = entry.getValue();
            double share = stepSeconds > 0.0 ? 100.0 * seconds / stepSeconds : Double.NaN;
            String line = String.format(Locale.ROOT, "%-28s %14.4f %8.1f%%", stage, seconds, share);
            if (rates) {
                line += String.format(Locale.ROOT, " %12.1f", seconds > 0.0 ? tokens / seconds : Double.NaN);
            }
            lines.add(line);
        }
        if (!perf.isEmpty()) {
            lines.add("");
            lines.add(String.format(Locale.ROOT, "%-28s %14s", "perf", "mean"));
            for (Map.Entry<String, Double> entry : perf.entrySet()) {
                lines.add(String.format(Locale.ROOT, "%-28s %14.1f", entry.getKey().substring("perf/".length()),
                        entry.getValue()));
            }
        }
        if (timing.containsKey(MetricNames.TIMING_RESHARD) || perf.containsKey(MetricNames.RESHARD_BYTES)) {
            List<String> parts = new ArrayList<>();
            if (timing.containsKey(MetricNames.TIMING_RESHARD)) {
                double reshard = timing.get(MetricNames.TIMING_RESHARD);
                parts.add(String.format(Locale.ROOT, "%.4f s", reshard));
                if (stepSeconds > 0.0) {
                    parts.add(String.format(Locale.ROOT, "%.1f%% of the step", 100.0 * reshard / stepSeconds));
                }
            }
            if (perf.containsKey(MetricNames.RESHARD_BYTES)) {
                parts.add(String.format(Locale.ROOT, "%.0f bytes", perf.get(MetricNames.RESHARD_BYTES)));
            }
            lines.add("");
            lines.add("reshard per iteration: " + String.join(", ", parts));
        }
        return String.join("\n", lines) + "\n";
    }

    /** Mean over the rows that logged {@code name} with a finite value; NaN if none did. */
    static double mean(List<StepMetrics> rows, String name) {
        double sum = 0.0;
        int count = 0;
        for (StepMetrics row : rows) {
            double value = row.value(name);
            if (Double.isFinite(value)) {
                sum += value;
                count++;
            }
        }
        return count == 0 ? Double.NaN : sum / count;
    }
}
