package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunDirectoryTest {

    @TempDir
    Path dir;

    private TrainConfig config(String... overrides) {
        List<String> all = new java.util.ArrayList<>(List.of("trainer.runs_dir=" + dir, "trainer.experiment_name=r1"));
        all.addAll(List.of(overrides));
        return TrainConfig.load("", all);
    }

    @Test
    void shouldSaveTheResolvedConfigThatReloadsEqual() throws IOException {
        TrainConfig config = config("algorithm.adv_estimator=grpo", "actor_rollout_ref.rollout.n=4");

        RunDirectory run = RunDirectory.open(config);

        assertEquals(dir.resolve("r1"), run.path());
        assertEquals(config, TrainConfig.load(dir.resolve("r1/config.yaml"), List.of()));
        assertTrue(Files.isDirectory(run.plots()));
        assertEquals(dir.resolve("r1/checkpoints"), run.checkpoints().folder());
    }

    @Test
    void shouldRefuseToMixAFreshRunIntoAFolderThatHoldsOne() {
        RunDirectory first = RunDirectory.open(config());
        try (MetricsLog log = first.openMetrics(0)) {
            log.append(new StepMetrics(1, Map.of("a", 1.0)));
        }

        assertEquals("run folder already holds a run: path=" + dir.resolve("r1") + "; set trainer.resume_mode=auto "
                + "to continue it or choose another trainer.experiment_name", assertThrows(IllegalStateException.class,
                        () -> RunDirectory.open(config("trainer.resume_mode=disable"))).getMessage());
        RunDirectory.open(config("trainer.resume_mode=auto"));
    }

    @Test
    void shouldRefuseToResumeACheckpointOfADifferentModelButNotOfOtherControllers() {
        RunDirectory run = RunDirectory.open(config());
        Checkpoint checkpoint = run.checkpoints().write(2, RunDirectory.compatibilityMeta(config()),
                folder -> Files.writeString(folder.resolve("w.bin"), "w"));

        checkpoint.requireMeta(RunDirectory.compatibilityMeta(config("trainer.controllers=2",
                "trainer.total_training_steps=500")));
        assertEquals("checkpoint does not match this run: path=" + checkpoint.path()
                + ", key=actor_rollout_ref.model.hidden_size, checkpoint=64, run=128",
                assertThrows(CheckpointException.class, () -> checkpoint.requireMeta(RunDirectory.compatibilityMeta(
                        config("actor_rollout_ref.model.hidden_size=128")))).getMessage());
    }

    private static String crc(String text) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return String.format("%08x", crc.getValue());
    }

    @Test
    void shouldResolveResumeByMode() throws IOException {
        RunDirectory run = RunDirectory.open(config());
        CheckpointPayload payload = folder -> Files.writeString(folder.resolve("w.bin"), "w");
        run.checkpoints().write(2, Map.of(), payload);
        run.checkpoints().write(4, Map.of(), payload);
        Files.writeString(dir.resolve("r1/checkpoints/global_step_4/w.bin"), "x");

        assertEquals(2, run.resolveResume(config()).checkpoint().orElseThrow().step());
        assertTrue(run.resolveResume(config("trainer.resume_mode=disable")).checkpoint().isEmpty());
        Path four = dir.resolve("r1/checkpoints/global_step_4");
        assertEquals("checkpoint file corrupt: path=" + four + ", file=w.bin, crc32c expected=" + crc("w")
                + ", actual=" + crc("x"), assertThrows(CheckpointException.class, () -> run.resolveResume(
                        config("trainer.resume_mode=resume_path", "trainer.resume_from_path=" + four))).getMessage());
    }
}
