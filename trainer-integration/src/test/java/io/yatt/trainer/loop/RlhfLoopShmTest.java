package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.launch.TrainerWorkers;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trainer.backend=shm}: one worker JVM per rank over shared memory, here under two parallel controllers, must
 * reproduce the in-process golden run bit for bit (one test: four JVM starts are slow).
 */
class RlhfLoopShmTest {

    @Test
    void shouldReproduceTheGoldenWithOneJvmPerRankAndTwoControllers(@TempDir Path runs) {
        RlhfLoopGoldenTest.assumeGoldenBackend();
        TrainConfig config = TrainConfig.load(RlhfLoopGoldenTest.resource("ppo_gae.yaml"), List.of(
                "trainer.backend=shm", "trainer.controllers=2", "trainer.runs_dir=" + runs));
        Task task = Task.fromConfig(config, RlhfLoopShmTest.class.getClassLoader());
        LlamaConfig model = Sft.modelConfig(config, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
        RlhfLoop.Result result = RlhfLoop.run(config, task, model, policy, m -> { });
        assertEquals(RlhfLoopGoldenTest.golden("ppo_gae"), RlhfLoopGoldenTest.format(result));
        Path logs = runs.resolve("default").resolve(TrainerWorkers.LOG_FOLDER);
        for (int rank = 0; rank < 4; rank++) {
            assertTrue(Files.exists(logs.resolve("rank-" + rank + ".out")), "log of rank " + rank);
        }
    }
}
