package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.run.Checkpoint;
import io.yatt.trainer.run.CheckpointStore;
import io.yatt.trainer.run.StepMetrics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Parallel controllers ({@code trainer.controllers}): C controllers, each driving the workers of its training DP
 * slice, give bit-identical metrics and weights for C = 1, 2 and 4, and a run stopped with one controller resumes
 * with two and ends bit-identical.
 */
class RlhfLoopControllersTest {
    static TrainConfig dp4;

    @BeforeAll
    static void setUp() {
        RlhfLoopTest.warmStart();
        dp4 = RlhfLoopTest.config.withOverrides(List.of("parallel.training=1-1-4", "parallel.generation=1-1-1-4",
                "trainer.total_training_steps=2", "trainer.test_freq=-1", "trainer.save_freq=-1"));
    }

    /** PPO with GAE (whitened advantages over the whole batch) on training 1-1-4: C = 1, 2, 4 agree bit for bit. */
    @Test
    void shouldGiveBitIdenticalRunsForOneTwoAndFourControllers() {
        RlhfLoop.Result one = run(dp4, 1);
        for (int c : new int[] {2, 4}) {
            RlhfLoop.Result many = run(dp4, c);
            assertSame(one, many, "controllers=" + c);
        }
    }

    /** GRPO's groups (n = 2) stay within a controller's slice; C = 2 equals C = 1. */
    @Test
    void shouldKeepGrpoGroupsExactAcrossControllers() {
        TrainConfig grpo = dp4.withOverrides(List.of("algorithm.adv_estimator=grpo", "actor_rollout_ref.rollout.n=2"));
        assertSame(run(grpo, 1), run(grpo, 2), "grpo");
    }

    /** A run stopped after step 2 with one controller and resumed with two ends bit-identical to an uninterrupted one. */
    @Test
    void shouldResumeWithADifferentControllerCountBitIdentical(@TempDir Path dir) {
        TrainConfig four = dp4.withOverrides(List.of("trainer.total_training_steps=4", "trainer.test_freq=2"));
        RlhfLoop.Result whole = run(four, 1);
        CheckpointStore store = CheckpointStore.at(dir);
        AtomicInteger polls = new AtomicInteger();
        List<StepMetrics> rows = new ArrayList<>();
        RlhfLoop.Result first = RlhfLoop.run(controllers(four, 1), RlhfLoopTest.task, RlhfLoopTest.model,
                RlhfLoopTest.policy, new RlhfLoop.Options(store, Map.of(), null, () -> polls.incrementAndGet() >= 2),
                rows::add);
        assertEquals(2, first.lastStep());
        Checkpoint ckpt = store.latestValid().checkpoint().orElseThrow();
        RlhfLoop.Result second = RlhfLoop.run(controllers(four, 2), RlhfLoopTest.task, RlhfLoopTest.model,
                RlhfLoopTest.policy, new RlhfLoop.Options(store, Map.of(), ckpt, () -> false), rows::add);
        assertEquals(4, second.lastStep());
        for (int i = 0; i < 4; i++) {
            assertEquals(RlhfLoopGoldenTest.stable(whole.rows().get(i)), RlhfLoopGoldenTest.stable(rows.get(i)));
        }
        assertEquals(whole.finalValReward(), second.finalValReward());
        for (String name : whole.actorWeights().keySet()) {
            assertArrayEquals(whole.actorWeights().get(name), second.actorWeights().get(name), name);
        }
    }

    @Test
    void shouldRejectControllersThatDoNotDivideTheDpSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(dp4, 8));
        assertEquals("trainer.controllers must divide the training DP size: trainer.controllers=8, dp=4",
                e.getMessage());
    }

    private static TrainConfig controllers(TrainConfig config, int c) {
        return config.withOverrides(List.of("trainer.controllers=" + c));
    }

    private static RlhfLoop.Result run(TrainConfig config, int c) {
        return RlhfLoop.run(controllers(config, c), RlhfLoopTest.task, RlhfLoopTest.model, RlhfLoopTest.policy,
                m -> { });
    }

    private static void assertSame(RlhfLoop.Result a, RlhfLoop.Result b, String what) {
        assertEquals(a.rows().size(), b.rows().size(), what);
        for (int i = 0; i < a.rows().size(); i++) {
            assertEquals(RlhfLoopGoldenTest.stable(a.rows().get(i)), RlhfLoopGoldenTest.stable(b.rows().get(i)),
                    what + " step " + (i + 1));
        }
        assertEquals(a.initialValReward(), b.initialValReward(), what);
        assertEquals(a.finalValReward(), b.finalValReward(), what);
        for (String name : a.actorWeights().keySet()) {
            assertArrayEquals(a.actorWeights().get(name), b.actorWeights().get(name), what + " " + name);
        }
    }
}
