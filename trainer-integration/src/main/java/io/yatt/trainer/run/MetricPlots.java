package io.yatt.trainer.run;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG plots of a run's metrics over steps, drawn with XChart: {@code reward.png}, {@code kl.png}, {@code entropy.png},
 * {@code losses.png}, {@code response_length.png}, {@code cost.png} (Safe-RLHF) and {@code stage_times.png} (the
 * {@code timing_s/*} stages stacked, {@code timing_s/step} excluded). A plot is written only when one of its metrics
 * was logged; each file is replaced atomically. Stateless.
 */
public final class MetricPlots {

    /** Width of every plot in pixels. */
    public static final int WIDTH_PX = 900;
    /** Height of every plot in pixels. */
    public static final int HEIGHT_PX = 500;

    private static final int X_TICK_SPACING_PX = 60;

    private record Spec(String file, String title, String yAxis, List<String> metrics) {
    }

    private static final List<Spec> LINE_PLOTS = List.of(
            new Spec("reward.png", "Reward", "reward",
                    List.of(MetricNames.SCORE_MEAN, MetricNames.REWARDS_MEAN, MetricNames.VAL_SCORE_MEAN)),
            new Spec("kl.png", "KL", "KL",
                    List.of(MetricNames.PPO_KL, MetricNames.KL_LOSS, MetricNames.REWARD_KL_PENALTY)),
            new Spec("entropy.png", "Entropy", "nats per token", List.of(MetricNames.ENTROPY)),
            new Spec("losses.png", "Losses", "loss", List.of(MetricNames.PG_LOSS, MetricNames.VF_LOSS)),
            new Spec("response_length.png", "Response length", "tokens",
                    List.of(MetricNames.RESPONSE_LENGTH_MEAN, MetricNames.RESPONSE_LENGTH_MAX,
                            MetricNames.RESPONSE_LENGTH_MIN)),
            new Spec("cost.png", "Safe-RLHF cost and multiplier", "value",
                    List.of(MetricNames.COST_MEAN, MetricNames.LAGRANGE_MULTIPLIER)));

    /** File name of the stacked stage-time plot. */
    public static final String STAGE_TIMES = "stage_times.png";

    private MetricPlots() {
    }

    /**
     * Writes every plot that has data into {@code folder}.
     *
     * @return the files written, in the order above
     * @throws UncheckedIOException if a file cannot be written
     */
    public static List<Path> write(Path folder, List<StepMetrics> rows) {
        List<Path> written = new ArrayList<>();
        try {
            Files.createDirectories(folder);
            for (Spec spec : LINE_PLOTS) {
                XYChart chart = lineChart(spec, rows);
                if (chart != null) {
                    written.add(save(folder.resolve(spec.file()), chart));
                }
            }
            XYChart stages = stageChart(rows);
            if (stages != null) {
                written.add(save(folder.resolve(STAGE_TIMES), stages));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write plots: folder=" + folder, e);
        }
        return written;
    }

    private static XYChart newChart(String title, String yAxis) {
        XYChart chart = new XYChartBuilder().width(WIDTH_PX).height(HEIGHT_PX).title(title).xAxisTitle("step")
                .yAxisTitle(yAxis).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setMarkerSize(4);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        chart.getStyler().setXAxisTickMarkSpacingHint(X_TICK_SPACING_PX);
        chart.getStyler().setXAxisDecimalPattern("#");
        return chart;
    }

    private static XYChart lineChart(Spec spec, List<StepMetrics> rows) {
        XYChart chart = null;
        for (String metric : spec.metrics()) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (StepMetrics row : rows) {
                double value = row.value(metric);
                if (Double.isFinite(value)) {
                    xs.add((double) row.step());
                    ys.add(value);
                }
            }
            if (!xs.isEmpty()) {
                if (chart == null) {
                    chart = newChart(spec.title(), spec.yAxis());
                }
                XYSeries series = chart.addSeries(metric, xs, ys);
                series.setMarker(xs.size() == 1 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
            }
        }
        return chart;
    }

    private static XYChart stageChart(List<StepMetrics> rows) {
        Set<String> stages = new LinkedHashSet<>();
        for (StepMetrics row : rows) {
            for (String name : row.values().keySet()) {
                if (name.startsWith(MetricNames.TIMING_PREFIX) && !name.equals(MetricNames.TIMING_STEP)) {
                    stages.add(name);
                }
            }
        }
        if (stages.isEmpty()) {
            return null;
        }
        List<String> order = new ArrayList<>(stages);
        double[] xs = new double[rows.size()];
        double[][] cumulative = new double[order.size()][rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            xs[r] = rows.get(r).step();
            double sum = 0.0;
            for (int s = 0; s < order.size(); s++) {
                double value = rows.get(r).value(order.get(s));
                sum += Double.isFinite(value) ? value : 0.0;
                cumulative[s][r] = sum;
            }
        }
        XYChart chart = newChart("Stage times (stacked)", "seconds per step");
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Area);
        chart.getStyler().setYAxisMin(0.0);
        // Areas are filled from zero, so the top band goes first and each lower band paints over it.
        for (int s = order.size() - 1; s >= 0; s--) {
            XYSeries series = chart.addSeries(order.get(s), xs, cumulative[s]);
            series.setMarker(SeriesMarkers.NONE);
        }
        return chart;
    }

    private static Path save(Path file, XYChart chart) throws IOException {
        AtomicFiles.write(file, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
        return file;
    }
}
