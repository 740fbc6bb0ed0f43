package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunRecorderTest {

    @TempDir
    Path dir;

    @Test
    void shouldPlotEveryKStepsAndLeaveIdenticalFilesAfterAResume() throws IOException {
        TrainConfig config = TrainConfig.load("", List.of("trainer.runs_dir=" + dir));
        List<StepMetrics> steps = MetricPlotsTest.syntheticRun(6);
        RunDirectory run = RunDirectory.open(config);
        try (RunRecorder recorder = RunRecorder.start(run, 0, 3)) {
            recorder.record(steps.get(0));
            recorder.record(steps.get(1));
            assertFalse(Files.exists(run.plots().resolve("reward.png")));
            recorder.record(steps.get(2));
            assertTrue(Files.exists(run.plots().resolve("reward.png")));
            recorder.record(steps.get(3));
            recorder.record(steps.get(4));
        }
        // A resumed run from a checkpoint after step 3 drops steps 4 and 5, then logs them again.
        String expectedSummary;
        try (RunRecorder resumed = RunRecorder.start(RunDirectory.open(config), 3, 3)) {
            assertEquals(steps.subList(0, 3), resumed.rows());
            for (StepMetrics step : steps.subList(3, 6)) {
                resumed.record(step);
            }
            expectedSummary = RunSummary.render(steps);
            assertEquals(expectedSummary, resumed.finish());
        }
        Path other = dir.resolve("other");
        try (MetricsLog uninterrupted = MetricsLog.open(other, 0)) {
            steps.forEach(uninterrupted::append);
        }

        assertEquals(Files.readString(other.resolve("metrics.jsonl")), Files.readString(run.path().resolve(
                "metrics.jsonl")));
        assertEquals(Files.readString(other.resolve("metrics.csv")), Files.readString(run.path().resolve(
                "metrics.csv")));
        assertEquals(expectedSummary, Files.readString(run.path().resolve("summary.txt")));
        assertTrue(Files.exists(run.plots().resolve("stage_times.png")));
    }
}
