package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.run.Checkpoint;
import io.yatt.trainer.run.CheckpointStore;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.StepMetrics;
import io.yatt.trainer.task.Task;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run stopped after step k and resumed from its checkpoint ends bit-identical (metrics other than timings, and the
 * actor's weights) to an uninterrupted run: stopped mid-run, and resumed from the final checkpoint.
 */
class RlhfLoopResumeTest {
    static TrainConfig config;

    @BeforeAll
    static void setUp() {
        RlhfLoopTest.warmStart();
        config = RlhfLoopTest.config.withOverrides(List.of("trainer.total_training_steps=4",
                "trainer.save_freq=-1", "trainer.test_freq=2"));
    }

    @Test
    void shouldResumeMidRunBitIdentical(@TempDir Path dir) {
        resumeMidRun(config, RlhfLoopTest.task, dir);
    }

    /** Safe-RLHF's cost critic and its optimiser travel through the checkpoint: the resumed run ends bit-identical. */
    @Test
    void shouldResumeSafeRlhfWithItsCostCriticBitIdentical(@TempDir Path dir) {
        resumeMidRun(config.withOverrides(List.of("algorithm.adv_estimator=safe_rlhf")), RlhfLoopTest.task, dir);
    }

    /**
     * 16 training prompts at 8 per step: step 2 ends the sampler's first epoch exactly, so the stop at step 2 is a
     * resume at an epoch boundary; the resumed run must go on into the reshuffled second epoch (steps 3 and 4), not
     * stop with zero steps, and end bit-identical.
     */
    @Test
    void shouldResumeExactlyAtAnEpochBoundaryAndGoOnTraining(@TempDir Path dir) {
        TrainConfig boundary = config.withOverrides(List.of("data.train_size=16"));
        Task small = Task.fromConfig(boundary, RlhfLoopResumeTest.class.getClassLoader());
        assertEquals(2, small.trainPrompts().size() / boundary.data().trainBatchSize());
        resumeMidRun(boundary, small, dir);
    }

    private static void resumeMidRun(TrainConfig config, Task task, Path dir) {
        RlhfLoop.Result whole = RlhfLoop.run(config, task, RlhfLoopTest.model, RlhfLoopTest.policy,
                m -> { });
        CheckpointStore store = CheckpointStore.at(dir);
        AtomicInteger polls = new AtomicInteger();
        List<StepMetrics> rows = new ArrayList<>();
        RlhfLoop.Result first = RlhfLoop.run(config, task, RlhfLoopTest.model, RlhfLoopTest.policy,
                new RlhfLoop.Options(store, Map.of(), null, () -> polls.incrementAndGet() >= 2), rows::add);
        assertEquals(2, first.lastStep());
        assertEquals(List.of(2L), store.publishedSteps());
        Checkpoint ckpt = store.latestValid().checkpoint().orElseThrow();
        RlhfLoop.Result second = RlhfLoop.run(config, task, RlhfLoopTest.model, RlhfLoopTest.policy,
                new RlhfLoop.Options(store, Map.of(), ckpt, () -> false), rows::add);
        assertEquals(4, second.lastStep());
        assertEquals(List.of(2L, 4L), store.publishedSteps().stream().sorted().toList());
        assertEquals(4, rows.size());
        for (int i = 0; i < 4; i++) {
            assertEquals(i + 1, rows.get(i).step());
            assertEquals(stable(whole.rows().get(i)), stable(rows.get(i)));
        }
        assertEquals(whole.initialValReward(), second.initialValReward());
        assertEquals(whole.finalValReward(), second.finalValReward());
        for (String name : whole.actorWeights().keySet()) {
            assertArrayEquals(whole.actorWeights().get(name), second.actorWeights().get(name), name);
        }
    }

    /** Resuming from the last step's checkpoint runs no step and returns the same final state. */
    @Test
    void shouldResumeAtTheEndWithoutSteps(@TempDir Path dir) {
        CheckpointStore store = CheckpointStore.at(dir);
        RlhfLoop.Result whole = RlhfLoop.run(config, RlhfLoopTest.task, RlhfLoopTest.model, RlhfLoopTest.policy,
                new RlhfLoop.Options(store, Map.of(), null, () -> false), m -> { });
        Checkpoint ckpt = store.latestValid().checkpoint().orElseThrow();
        assertEquals(4, ckpt.step());
        RlhfLoop.Result again = RlhfLoop.run(config, RlhfLoopTest.task, RlhfLoopTest.model, RlhfLoopTest.policy,
                new RlhfLoop.Options(store, Map.of(), ckpt, () -> false), m -> { });
        assertTrue(again.rows().isEmpty());
        assertEquals(4, again.lastStep());
        assertEquals(whole.finalValReward(), again.finalValReward());
        for (String name : whole.actorWeights().keySet()) {
            assertArrayEquals(whole.actorWeights().get(name), again.actorWeights().get(name), name);
        }
    }

    private static Map<String, Double> stable(StepMetrics m) {
        Map<String, Double> out = new TreeMap<>(m.values());
        out.keySet().removeIf(k -> k.startsWith(MetricNames.TIMING_PREFIX) || k.equals(MetricNames.THROUGHPUT));
        return out;
    }
}
