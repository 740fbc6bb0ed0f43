package io.yatt.controller;

import static io.yatt.controller.DataBatchTest.ids;
import static io.yatt.controller.DataBatchTest.samples;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.ParallelControllers.Metric;
import io.yatt.controller.ParallelControllers.MetricOp;
import io.yatt.tensor.Allocator;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class ParallelControllersTest {

    @Test
    void shouldGiveControllerIDpSliceI() {
        ParallelControllers two = ParallelControllers.of(2, 4);
        assertEquals(new ParallelControllers.Slice(1, 2, 2, 16, 8, 8), two.slice(1, 16));
        assertEquals(0, two.slice(1, 16).padRows());
        assertEquals(1, two.controllerOf(3));
        assertEquals(0, two.controllerOf(1));
        // 10 prompts on DP 4 pad to 12 (prompts 0 and 1 repeated): controller 1 of 2 owns rows 6..11.
        ParallelControllers.Slice last = two.slice(1, 10);
        assertArrayEquals(new int[] {6, 7, 8, 9, 0, 1}, last.promptIndices());
        assertEquals(2, last.padRows());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, two.slice(0, 10).promptIndices());
        assertEquals(0, two.slice(0, 10).padRows());
    }

    @Test
    void shouldRejectControllersThatDoNotDivideDpSize() {
        assertEquals("controllers must divide the DP size: controllers=3, dpSize=4",
                assertThrows(IllegalArgumentException.class, () -> ParallelControllers.of(3, 4)).getMessage());
        assertEquals("controllers must divide the DP size: controllers=0, dpSize=4",
                assertThrows(IllegalArgumentException.class, () -> ParallelControllers.of(0, 4)).getMessage());
        ParallelControllers pc = ParallelControllers.of(2, 4);
        assertEquals("controller out of range: controller=2, controllers=2",
                assertThrows(IndexOutOfBoundsException.class, () -> pc.slice(2, 8)).getMessage());
        assertEquals("DP rank out of range: dpRank=4, dpSize=4",
                assertThrows(IndexOutOfBoundsException.class, () -> pc.controllerOf(4)).getMessage());
        assertEquals("prompt count negative: prompts=-1",
                assertThrows(IllegalArgumentException.class, () -> pc.slice(0, -1)).getMessage());
    }

    /**
     * One step of a seeded pipeline over DP 4: controllers take their slices, dispatch DP_COMPUTE_PROTO to their
     * workers, each worker reports a metric of its chunk and returns it; controllers strip their padding.
     */
    private static Map<String, Object> step(Allocator allocator, int controllers, int prompts) {
        ParallelControllers pc = ParallelControllers.of(controllers, 4);
        int perController = pc.dpRanksPerController();
        Map<Integer, List<Integer>> chunkByDpRank = new TreeMap<>();
        List<Integer> outputIds = new ArrayList<>();
        List<Metric> controllerMetrics = new ArrayList<>();
        try (DataBatch batch = samples(allocator, 0, prompts)) {
            for (int c = 0; c < controllers; c++) {
                ParallelControllers.Slice slice = pc.slice(c, prompts);
                try (DataBatch mine = pc.sliceOf(batch, c)) {
                    GroupTopology workers = DispatchModesTest.plain(perController);
                    List<Object[]> dispatched = DispatchModes.DP_COMPUTE_PROTO.dispatch(new Object[] {mine}, workers);
                    Metric merged = null;
                    for (int w = 0; w < perController; w++) {
                        DataBatch chunk = (DataBatch) dispatched.get(w)[0];
                        chunkByDpRank.put(slice.firstDpRank() + w, ids(chunk));
                        double[] values = new double[chunk.length()];
                        for (int i = 0; i < values.length; i++) {
                            // magnitudes from 2^-10 to 2^49 with alternating signs, so the grouping of a plain sum shows
                            int id = (int) chunk.tensor("id").getDouble(i);
                            values[i] = Math.scalb(1.0 + 0.1 * id, (id * 7) % 60 - 10) * (id % 2 == 0 ? 1 : -1);
                        }
                        Metric m = Metric.of("score", MetricOp.MEAN, values);
                        merged = merged == null ? m : merged.merge(m);
                    }
                    controllerMetrics.add(merged);
                    try (DataBatch out = (DataBatch) DispatchModes.DP_COMPUTE_PROTO.collect(
                            DispatchModesTest.echo(dispatched), workers);
                            DataBatch unpadded = out.unpad(slice.padRows())) {
                        outputIds.addAll(ids(unpadded));
                    }
                    DispatchModesTest.closeDispatched(dispatched);
                }
            }
        }
        Collections.reverse(controllerMetrics);
        return Map.of("chunks", chunkByDpRank, "outputs", outputIds,
                "metrics", ParallelControllers.reduce(controllerMetrics));
    }

    @Test
    void shouldGiveIdenticalChunksOutputsAndMetricsForOneTwoAndFourControllers() {
        try (Allocator allocator = Allocator.root("pc-test")) {
            for (int prompts : new int[] {16, 10, 13, 1}) {
                Map<String, Object> one = step(allocator, 1, prompts);
                List<Integer> all = new ArrayList<>();
                for (int i = 0; i < prompts; i++) {
                    all.add(i);
                }
                assertEquals(all, one.get("outputs"), "prompts=" + prompts);
                assertEquals(one, step(allocator, 2, prompts), "prompts=" + prompts);
                assertEquals(one, step(allocator, 4, prompts), "prompts=" + prompts);
                assertEquals(0, allocator.allocatedBytes());
            }
        }
    }

    @Test
    void shouldSumExactlyWhereNaiveGroupingDiffers() {
        assertNotEquals((0.1 + 0.2) + 0.3, 0.1 + (0.2 + 0.3));
        double left = Metric.of("s", MetricOp.SUM, 0.1, 0.2).merge(Metric.of("s", MetricOp.SUM, 0.3)).value();
        double right = Metric.of("s", MetricOp.SUM, 0.1).merge(Metric.of("s", MetricOp.SUM, 0.2, 0.3)).value();
        assertEquals(0.6, left);
        assertEquals(0.6, right);
        // fsum's half-even fix-up: 1e16 + 1 + 1e-16 is just above the midpoint between 1e16 and 1e16 + 2.
        assertEquals(10000000000000002.0, Metric.of("s", MetricOp.SUM, 1e-16, 1.0, 1e16).value());
        double[] tenths = new double[10];
        java.util.Arrays.fill(tenths, 0.1);
        assertEquals(1.0, Metric.of("s", MetricOp.SUM, tenths).value());
    }

    @Test
    void shouldReduceMeanSumMinMaxWithCounts() {
        Map<String, Double> reduced = ParallelControllers.reduce(List.of(
                Metric.of("loss", MetricOp.MEAN, 1.0, 2.0), Metric.of("loss", MetricOp.MEAN, 6.0),
                Metric.of("tokens", MetricOp.SUM, 3.0), Metric.of("tokens", MetricOp.SUM, 4.0, 5.0),
                Metric.of("low", MetricOp.MIN, 3.0, -2.0), Metric.of("low", MetricOp.MIN, 7.0),
                Metric.of("high", MetricOp.MAX, 3.0), Metric.of("high", MetricOp.MAX, 9.0, -1.0),
                Metric.of("empty", MetricOp.MEAN)));
        assertEquals(Map.of("loss", 3.0, "tokens", 12.0, "low", -2.0, "high", 9.0, "empty", Double.NaN), reduced);
        assertEquals(List.of("empty", "high", "loss", "low", "tokens"), List.copyOf(reduced.keySet()));
        assertEquals(3, Metric.of("loss", MetricOp.MEAN, 1.0, 2.0).merge(Metric.of("loss", MetricOp.MEAN, 6.0))
                .count());
    }

    @Test
    void shouldCarryNonFiniteValuesAndRejectOverflowAndMismatch() {
        assertEquals(Double.POSITIVE_INFINITY, Metric.of("s", MetricOp.SUM, 1.0, Double.POSITIVE_INFINITY).value());
        assertEquals(Double.NaN, Metric.of("s", MetricOp.SUM, Double.POSITIVE_INFINITY)
                .merge(Metric.of("s", MetricOp.SUM, Double.NEGATIVE_INFINITY)).value());
        assertEquals("metric sum overflows a double: name=s",
                assertThrows(ArithmeticException.class,
                        () -> Metric.of("s", MetricOp.SUM, Double.MAX_VALUE, Double.MAX_VALUE)).getMessage());
        assertEquals("metric mismatch: name=loss, op=MEAN, otherName=loss, otherOp=SUM",
                assertThrows(IllegalArgumentException.class, () -> ParallelControllers.reduce(List.of(
                        Metric.of("loss", MetricOp.MEAN, 1.0), Metric.of("loss", MetricOp.SUM, 1.0)))).getMessage());
        assertEquals("metric sum component not finite: name=s, component=NaN",
                assertThrows(IllegalArgumentException.class, () -> Metric.fromParts("s", MetricOp.SUM, 1,
                        new double[] {Double.NaN}, 0, 0, 0)).getMessage());
        assertEquals("metric count negative: name=s, count=-1",
                assertThrows(IllegalArgumentException.class, () -> Metric.fromParts("s", MetricOp.SUM, -1,
                        new double[0], 0, 0, 0)).getMessage());
    }

    @Test
    void shouldRebuildFromPartsAsSent() {
        Metric sent = Metric.of("kl", MetricOp.MEAN, 1e16, 1.0, -3.5);
        Metric received = Metric.fromParts(sent.name(), sent.op(), sent.count(), sent.sumComponents(),
                sent.nonFiniteSum(), sent.min(), sent.max());
        assertEquals(sent.value(), received.value());
        assertEquals(-3.5, received.min());
        assertEquals(1e16, received.max());
    }

    @Property(tries = 300)
    void shouldReduceToTheCorrectlyRoundedSumForAnyGrouping(
            @ForAll @Size(min = 1, max = 60) List<@DoubleRange(min = -1e300, max = 1e300) Double> values,
            @ForAll @IntRange(min = 1, max = 8) int groups, @ForAll long seed) {
        BigDecimal exact = BigDecimal.ZERO;
        for (double value : values) {
            exact = exact.add(new BigDecimal(value));
        }
        List<Double> shuffled = new ArrayList<>(values);
        Random random = new Random(seed);
        Collections.shuffle(shuffled, random);
        List<List<Double>> parts = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
            parts.add(new ArrayList<>());
        }
        for (double value : shuffled) {
            parts.get(random.nextInt(groups)).add(value);
        }
        List<Metric> partials = new ArrayList<>();
        for (List<Double> part : parts) {
            partials.add(Metric.of("s", MetricOp.SUM, part.stream().mapToDouble(Double::doubleValue).toArray()));
        }
        assertEquals(exact.doubleValue(), ParallelControllers.reduce(partials).get("s"));
    }
}
