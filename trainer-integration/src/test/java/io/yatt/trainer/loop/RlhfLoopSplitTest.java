package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.StepMetrics;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code placement.mode=split} through the driver: 4 trainers (1-2-2) and rollout ranks (generation 1-1-2-2) that
 * receive the actor through WeightSync each step. With as many rollout replicas as colocated (4) the metrics
 * (timings, throughput and the transition's bytes aside) and the final weights equal the colocated run's bit for
 * bit: placement does not change the math. With 2 replicas each replica decodes a larger batch, which may change the
 * rounding of the rollout's own log-probs ({@code training/rollout_probs_diff_max}); the training recomputes
 * log-probs in the training layout, so every other metric and the weights stay bit for bit. With
 * {@code placement.async=true} the rollout runs one step off-policy.
 */
class RlhfLoopSplitTest {
    static TrainConfig colocated;
    static Task task;
    static LlamaConfig model;
    static Map<String, float[]> policy;

    @BeforeAll
    static synchronized void warmStart() {
        colocated = TrainConfig.defaults().withOverrides(List.of(
                "actor_rollout_ref.model.hidden_size=32", "actor_rollout_ref.model.intermediate_size=64",
                "actor_rollout_ref.model.num_hidden_layers=1",
                "data.train_size=512", "data.val_size=32", "data.train_batch_size=8",
                "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.ppo_micro_batch_size=4",
                "trainer.total_training_steps=3", "trainer.test_freq=-1"));
        task = Task.fromConfig(colocated, RlhfLoopSplitTest.class.getClassLoader());
        model = Sft.modelConfig(colocated, task);
        policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
    }

    static TrainConfig split(TrainConfig base, String... more) {
        return split(base, 2, more);
    }

    static TrainConfig split(TrainConfig base, int rolloutRanks, String... more) {
        List<String> overrides = new java.util.ArrayList<>(List.of("placement.mode=split",
                "placement.rollout_world_size=" + rolloutRanks, "parallel.world_size=" + (4 + rolloutRanks)));
        overrides.addAll(List.of(more));
        return base.withOverrides(overrides);
    }

    @Test
    void shouldEqualTheColocatedRunBitForBit() {
        assertSameRun(colocated, split(colocated, 4), false);
    }

    /**
     * ReMax's greedy baseline is a second rollout call per step on the same weights (no second sync); two rollout
     * replicas instead of four.
     */
    @Test
    void shouldEqualTheColocatedRunWithAGreedyBaselineOnFewerReplicas() {
        TrainConfig remax = colocated.withOverrides(List.of("algorithm.adv_estimator=remax",
                "trainer.total_training_steps=2"));
        assertSameRun(remax, split(remax), true);
    }

    /**
     * Two prompts over four trainers: each trainer scores a share of one baseline prompt, so trainers 2 and 3 get
     * none (generation TP 2: two colocated replicas, one split replica).
     */
    @Test
    void shouldEqualTheColocatedRunWhenSomeTrainersHoldNoBaselinePrompt() {
        TrainConfig remax = colocated.withOverrides(List.of("algorithm.adv_estimator=remax",
                "parallel.generation=1-2-1-2", "data.train_batch_size=2",
                "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.ppo_micro_batch_size=2",
                "trainer.total_training_steps=2"));
        assertSameRun(remax, split(remax), true, false);
    }

    static void assertSameRun(TrainConfig a, TrainConfig b, boolean fewerReplicas) {
        assertSameRun(a, b, fewerReplicas, true);
    }

    /**
     * As above; {@code wholeSync}: generation TP 1, so each rollout rank receives the whole model every step (with
     * generation TP 2 it receives its shard, vocabulary padding included).
     */
    static void assertSameRun(TrainConfig a, TrainConfig b, boolean fewerReplicas, boolean wholeSync) {
        RlhfLoop.Result c = RlhfLoop.run(a, task, model, policy, m -> { });
        RlhfLoop.Result s = RlhfLoop.run(b, task, model, policy, m -> { });
        assertEquals(c.rows().size(), s.rows().size());
        // generation TP 1: each rollout rank receives the whole model, f32, every step (the colocated reshard less)
        long wholeBytes = 0;
        for (float[] w : c.actorWeights().values()) {
            wholeBytes += 4L * w.length;
        }
        for (int i = 0; i < c.rows().size(); i++) {
            Map<String, Double> expected = withoutTimings(c.rows().get(i));
            Map<String, Double> actual = withoutTimings(s.rows().get(i));
            if (fewerReplicas) {
                assertEquals(expected.get(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX), actual.get(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX),
                        1e-4);
                expected.remove(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX);
                actual.remove(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX);
            }
            assertEquals(expected, actual, "step " + (i + 1));
            if (wholeSync) {
                assertEquals(wholeBytes, s.rows().get(i).value(MetricNames.RESHARD_BYTES));
            }
            assertTrue(c.rows().get(i).value(MetricNames.RESHARD_BYTES) < wholeBytes);
        }
        for (String name : c.actorWeights().keySet()) {
            assertArrayEquals(c.actorWeights().get(name), s.actorWeights().get(name), name);
        }
    }

    /**
     * {@code placement.async=true}: step k generates with version {@code max(0, k - 2)} while step k - 1 trains, so
     * the lag is 0 at step 1 and exactly 1 after; step 1 equals the synchronous split's step 1, step 2 (generated
     * with version 0 instead of 1) does not; 4 steps, 4 rollout ranks.
     */
    @Test
    void shouldRunTheRolloutOneStepOffPolicyWhenAsynchronous() {
        TrainConfig sync = split(colocated, 4, "trainer.total_training_steps=4");
        RlhfLoop.Result s = RlhfLoop.run(sync, task, model, policy, m -> { });
        RlhfLoop.Result a = RlhfLoop.run(sync.withOverrides(List.of("placement.async=true")), task, model, policy,
                m -> { });
        assertEquals(4, a.rows().size());
        double[] lags = new double[4];
        for (int i = 0; i < 4; i++) {
            lags[i] = a.rows().get(i).value(RlhfLoop.ROLLOUT_VERSION_LAG);
        }
        assertArrayEquals(new double[] {0, 1, 1, 1}, lags);
        Map<String, Double> first = withoutTimings(a.rows().get(0));
        first.remove(RlhfLoop.ROLLOUT_VERSION_LAG);
        assertEquals(withoutTimings(s.rows().get(0)), first);
        Map<String, Double> second = withoutTimings(a.rows().get(1));
        second.remove(RlhfLoop.ROLLOUT_VERSION_LAG);
        assertNotEquals(withoutTimings(s.rows().get(1)), second);
        assertTrue(!s.rows().get(1).values().containsKey(RlhfLoop.ROLLOUT_VERSION_LAG));
    }

    @Test
    void shouldRefuseSeveralControllers() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RlhfLoop.run(
                split(colocated, "trainer.controllers=2"), task, model, policy, m -> { }));
        assertEquals("split placement runs with one controller: trainer.controllers=2, "
                + "placement.rollout_world_size=2", e.getMessage());
    }

    private static Map<String, Double> withoutTimings(StepMetrics m) {
        Map<String, Double> out = new TreeMap<>(m.values());
        out.keySet().removeIf(k -> k.startsWith(MetricNames.TIMING_PREFIX) || k.startsWith("perf/throughput")
                || k.equals(MetricNames.RESHARD_BYTES));
        return out;
    }
}
