package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {

    @TempDir
    Path dir;

    private static StepMetrics step(long step, Object... nameValues) {
        Map<String, Double> values = new LinkedHashMap<>();
        for (int i = 0; i < nameValues.length; i += 2) {
            values.put((String) nameValues[i], ((Number) nameValues[i + 1]).doubleValue());
        }
        return new StepMetrics(step, values);
    }

    @Test
    void shouldAppendJsonLinesAndGrowTheCsvHeaderWithoutMovingColumns() throws IOException {
        try (MetricsLog log = MetricsLog.open(dir, 0)) {
            log.append(step(1, "critic/score/mean", 0.25, "timing_s/gen", 1.5));
            assertEquals("step,critic/score/mean,timing_s/gen\n1,0.25,1.5\n", Files.readString(dir.resolve("metrics.csv")));
            log.append(step(2, "timing_s/gen", 1.0, "critic/score/mean", 0.5));
            log.append(step(3, "critic/score/mean", 0.75, "actor/pg_loss", -0.125, "timing_s/gen", Double.NaN));

            assertEquals(List.of("critic/score/mean", "timing_s/gen", "actor/pg_loss"), log.columns());
        }

        assertEquals("""
                {"step":1,"critic/score/mean":0.25,"timing_s/gen":1.5}
                {"step":2,"timing_s/gen":1.0,"critic/score/mean":0.5}
                {"step":3,"critic/score/mean":0.75,"actor/pg_loss":-0.125,"timing_s/gen":null}
                """, Files.readString(dir.resolve("metrics.jsonl")));
        assertEquals("""
                step,critic/score/mean,timing_s/gen,actor/pg_loss
                1,0.25,1.5,
                2,0.5,1.0,
                3,0.75,,-0.125
                """, Files.readString(dir.resolve("metrics.csv")));
    }

    @Test
    void shouldKeepOnlyTheStepsUpToTheResumedCheckpointAndDropACutLine() throws IOException {
        try (MetricsLog log = MetricsLog.open(dir, 0)) {
            log.append(step(1, "a", 1));
            log.append(step(2, "a", 2, "b", 20));
            log.append(step(3, "a", 3));
        }
        Files.writeString(dir.resolve("metrics.jsonl"), "{\"step\":4,\"a\":", java.nio.file.StandardOpenOption.APPEND);

        try (MetricsLog log = MetricsLog.open(dir, 2)) {
            assertEquals(List.of(step(1, "a", 1), step(2, "a", 2, "b", 20)), log.rows());
            log.append(step(3, "a", 30));
        }

        assertEquals("{\"step\":1,\"a\":1.0}\n{\"step\":2,\"a\":2.0,\"b\":20.0}\n{\"step\":3,\"a\":30.0}\n",
                Files.readString(dir.resolve("metrics.jsonl")));
        assertEquals("step,a,b\n1,1.0,\n2,2.0,20.0\n3,30.0,\n", Files.readString(dir.resolve("metrics.csv")));
    }

    @Test
    void shouldRefuseAStepThatDoesNotAdvanceAndABadEarlierLine() throws IOException {
        try (MetricsLog log = MetricsLog.open(dir, 0)) {
            log.append(step(5, "a", 1));
            assertEquals("metrics step not after the last one: step=5, last=5",
                    assertThrows(IllegalArgumentException.class, () -> log.append(step(5, "a", 2))).getMessage());
        }
        Files.writeString(dir.resolve("metrics.jsonl"), "[1]\n{\"step\":6}\n");
        assertEquals("metrics line is not a metrics object: path=" + dir.resolve("metrics.jsonl") + ", line=1, text=[1]",
                assertThrows(IllegalArgumentException.class, () -> MetricsLog.open(dir, 10)).getMessage());
    }

    @Test
    void shouldCollectStatsAndAccumulateStageTimesPerStep() {
        MetricsTracker tracker = MetricsTracker.create();
        tracker.recordStats("critic/score", new double[] {0.0, 1.0, 0.5, 0.5});
        tracker.addTiming("gen", 1.25);
        tracker.addTiming("gen", 0.5);
        tracker.record("perf/throughput", 100.0);

        StepMetrics first = tracker.commit(1);
        StepMetrics second = tracker.commit(2);

        assertEquals(Map.of("critic/score/mean", 0.5, "critic/score/max", 1.0, "critic/score/min", 0.0,
                "timing_s/gen", 1.75, "perf/throughput", 100.0), first.values());
        assertEquals(List.of("critic/score/mean", "critic/score/max", "critic/score/min", "timing_s/gen",
                "perf/throughput"), List.copyOf(first.values().keySet()));
        assertEquals(Map.of(), second.values());
        assertEquals("metric name not allowed (empty, or holds a comma, quote or line break): name=a,b",
                assertThrows(IllegalArgumentException.class, () -> tracker.record("a,b", 1)).getMessage());
        MetricsTracker.Timer timer = tracker.time("update_actor");
        timer.close();
        assertEquals("timer already closed: stage=update_actor",
                assertThrows(IllegalStateException.class, timer::close).getMessage());
        assertEquals(List.of("timing_s/update_actor"), List.copyOf(tracker.commit(3).values().keySet()));
    }
}
