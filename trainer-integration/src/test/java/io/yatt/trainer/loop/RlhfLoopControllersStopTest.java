package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.run.Checkpoint;
import io.yatt.trainer.run.CheckpointStore;
import io.yatt.trainer.run.StepMetrics;
import io.yatt.trainer.run.TrainerState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stop request (SIGINT in {@code yatt train}) with C = 2 controllers: controller 0 polls it once per step and the
 * controllers agree on it, so both stop after the same step with one checkpoint, and a resume (with one controller)
 * ends bit-identical to an uninterrupted run.
 */
class RlhfLoopControllersStopTest {

    @Test
    void shouldStopEveryControllerAfterTheSameStepWithOneCheckpoint(@TempDir Path dir) throws IOException {
        RlhfLoopTest.warmStart();
        TrainConfig four = RlhfLoopTest.config.withOverrides(List.of("parallel.training=1-1-4",
                "parallel.generation=1-1-1-4", "trainer.total_training_steps=4", "trainer.test_freq=2",
                "trainer.save_freq=-1"));
        RlhfLoop.Result whole = RlhfLoop.run(four, RlhfLoopTest.task, RlhfLoopTest.model, RlhfLoopTest.policy,
                m -> { });
        CheckpointStore store = CheckpointStore.at(dir);
        AtomicInteger polls = new AtomicInteger();
        List<StepMetrics> rows = new ArrayList<>();
        RlhfLoop.Result stopped = RlhfLoop.run(four.withOverrides(List.of("trainer.controllers=2")),
                RlhfLoopTest.task, RlhfLoopTest.model, RlhfLoopTest.policy,
                new RlhfLoop.Options(store, Map.of(), null, () -> polls.incrementAndGet() >= 2), rows::add);

        assertEquals(2, stopped.lastStep());
        assertEquals(2, polls.get());
        assertEquals(List.of(1L, 2L), rows.stream().map(StepMetrics::step).toList());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(CheckpointStore.PREFIX + 2), files.map(p -> p.getFileName().toString())
                    .filter(n -> !n.equals(CheckpointStore.LATEST)).sorted().toList());
        }
        Checkpoint ckpt = store.latestValid().checkpoint().orElseThrow();
        assertEquals(2, TrainerState.read(ckpt).step());
        RlhfLoop.Result resumed = RlhfLoop.run(four, RlhfLoopTest.task, RlhfLoopTest.model, RlhfLoopTest.policy,
                new RlhfLoop.Options(store, Map.of(), ckpt, () -> false), rows::add);
        assertEquals(4, resumed.lastStep());
        for (int i = 0; i < 4; i++) {
            assertEquals(RlhfLoopGoldenTest.stable(whole.rows().get(i)), RlhfLoopGoldenTest.stable(rows.get(i)),
                    "step " + (i + 1));
        }
        assertEquals(whole.finalValReward(), resumed.finalValReward());
        for (String name : whole.actorWeights().keySet()) {
            assertArrayEquals(whole.actorWeights().get(name), resumed.actorWeights().get(name), name);
        }
    }
}
