package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.StepMetrics;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RlhfLoopTest {
    static TrainConfig config;
    static Task task;
    static LlamaConfig model;
    static Map<String, float[]> policy;

    @BeforeAll
    static synchronized void warmStart() {
        if (policy != null) {
            return;
        }
        config = TrainConfig.defaults().withOverrides(List.of(
                "actor_rollout_ref.model.hidden_size=32", "actor_rollout_ref.model.intermediate_size=64",
                "actor_rollout_ref.model.num_hidden_layers=1",
                "data.train_size=512", "data.val_size=32", "data.train_batch_size=8",
                "actor_rollout_ref.actor.ppo_mini_batch_size=4", "actor_rollout_ref.actor.ppo_micro_batch_size=4",
                "trainer.total_training_steps=3", "trainer.test_freq=-1"));
        task = Task.fromConfig(config, RlhfLoopTest.class.getClassLoader());
        model = Sft.modelConfig(config, task);
        policy = Sft.train(model, task, new Sft.Settings(20, 16, 3e-3, 1), null).weights();
    }

    /** The same config and policy give bit-identical metrics (timings aside) and weights. */
    @Test
    void shouldRepeatARunBitForBit() {
        RlhfLoop.Result a = RlhfLoop.run(config, task, model, policy, m -> { });
        RlhfLoop.Result b = RlhfLoop.run(config, task, model, policy, m -> { });
        assertEquals(3, a.rows().size());
        for (int i = 0; i < 3; i++) {
            assertEquals(withoutTimings(a.rows().get(i)), withoutTimings(b.rows().get(i)));
        }
        for (String name : a.actorWeights().keySet()) {
            assertArrayEquals(a.actorWeights().get(name), b.actorWeights().get(name), name);
        }
        assertEquals(a.initialValReward(), Sft.evaluate(model, policy, 1, task, task.heldOutPrompts(), 4), 1e-12);
    }

    /** Every step reports verl's metric names, and the policy moved away from the start. */
    @Test
    void shouldRecordVerlMetricsAndUpdateTheActor() {
        List<StepMetrics> seen = new ArrayList<>();
        RlhfLoop.Result r = RlhfLoop.run(config, task, model, policy, seen::add);
        assertEquals(List.of(1L, 2L, 3L), seen.stream().map(StepMetrics::step).toList());
        for (String name : List.of(MetricNames.SCORE_MEAN, MetricNames.PG_LOSS, MetricNames.PG_CLIPFRAC,
                MetricNames.PPO_KL, MetricNames.ENTROPY, MetricNames.VF_LOSS, MetricNames.RESPONSE_LENGTH_MEAN,
                MetricNames.TIMING_GEN, MetricNames.TIMING_RESHARD, MetricNames.TIMING_UPDATE_ACTOR,
                MetricNames.THROUGHPUT)) {
            assertTrue(seen.get(0).values().containsKey(name), name);
        }
        assertTrue(seen.get(2).values().containsKey(MetricNames.VAL_SCORE_MEAN));
        for (StepMetrics m : seen) {
            // generation-layout weights through the hybrid engine score like the training layout (TP 2 vs TP 1)
            assertTrue(m.value(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX) < 1e-4, "diff " + m.value(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX));
        }
        boolean changed = false;
        float[] before = policy.get("layers.0.mlp.down_proj.weight");
        float[] after = r.actorWeights().get("layers.0.mlp.down_proj.weight");
        for (int i = 0; i < before.length; i++) {
            changed |= before[i] != after[i];
        }
        assertTrue(changed);
    }

    /** use_kl_loss adds coef * agg(kl(lp, ref)) to the actor loss: the weights move differently, verl's names report it. */
    @Test
    void shouldAddTheKlLossToTheActorWhenEnabled() {
        TrainConfig on = config.withOverrides(List.of("actor_rollout_ref.actor.use_kl_loss=true",
                "actor_rollout_ref.actor.kl_loss_coef=0.5", "actor_rollout_ref.actor.kl_loss_type=low_var_kl"));
        RlhfLoop.Result withKl = RlhfLoop.run(on, task, model, policy, m -> { });
        RlhfLoop.Result without = RlhfLoop.run(config, task, model, policy, m -> { });
        for (StepMetrics m : withKl.rows()) {
            assertTrue(m.value(MetricNames.KL_LOSS) >= 0, "kl_loss " + m.value(MetricNames.KL_LOSS));
            assertEquals(0.5, m.value(MetricNames.KL_COEF));
        }
        // after two steps of updates the actor has left the reference, so the low-variance KL is positive
        assertTrue(withKl.rows().get(2).value(MetricNames.KL_LOSS) > 0);
        assertEquals("actor/kl_loss", MetricNames.KL_LOSS);
        assertEquals("actor/kl_coef", MetricNames.KL_COEF);
        for (StepMetrics m : without.rows()) {
            assertTrue(!m.values().containsKey(MetricNames.KL_LOSS));
            assertTrue(!m.values().containsKey(MetricNames.KL_COEF));
        }
        boolean differs = false;
        for (String name : without.actorWeights().keySet()) {
            float[] a = withKl.actorWeights().get(name);
            float[] b = without.actorWeights().get(name);
            for (int i = 0; i < a.length; i++) {
                differs |= a[i] != b[i];
            }
        }
        assertTrue(differs);
    }

    @Test
    void shouldRunGrpoWithGroups() {
        TrainConfig grpo = config.withOverrides(List.of("algorithm.adv_estimator=grpo",
                "actor_rollout_ref.rollout.n=2", "trainer.total_training_steps=1"));
        RlhfLoop.Result r = RlhfLoop.run(grpo, task, model, policy, m -> { });
        assertEquals(1, r.rows().size());
        assertTrue(!r.rows().getFirst().values().containsKey(MetricNames.VF_LOSS));
    }

    /** Every estimator runs a step end to end; safe_rlhf also reports its cost and multiplier. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"remax", "rloo", "reinforce_plus_plus",
        "reinforce_plus_plus_baseline", "safe_rlhf"})
    void shouldRunEveryEstimator(String estimator) {
        TrainConfig c = config.withOverrides(List.of("algorithm.adv_estimator=" + estimator,
                "actor_rollout_ref.rollout.n=2", "trainer.total_training_steps=1"));
        RlhfLoop.Result r = RlhfLoop.run(c, task, model, policy, m -> { });
        Map<String, Double> v = r.rows().getFirst().values();
        assertTrue(Double.isFinite(v.get(MetricNames.PG_LOSS)), estimator);
        assertEquals(estimator.equals("safe_rlhf"), v.containsKey(MetricNames.LAGRANGE_MULTIPLIER), estimator);
        assertEquals(estimator.equals("safe_rlhf"), v.containsKey(MetricNames.VF_LOSS), estimator);
        assertEquals(estimator.equals("safe_rlhf"), v.containsKey(RlhfLoop.COST_VF_LOSS), estimator);
    }

    /**
     * Safe-RLHF trains a cost critic: its values start from a seeded value head (not zero), its loss is positive and
     * it moves, so the cost returns differ from the values after an update.
     */
    @Test
    void shouldTrainTheCostCriticUnderSafeRlhf() {
        TrainConfig c = config.withOverrides(List.of("algorithm.adv_estimator=safe_rlhf", "trainer.total_training_steps=2"));
        RlhfLoop.Result r = RlhfLoop.run(c, task, model, policy, m -> { });
        for (StepMetrics m : r.rows()) {
            assertTrue(m.value(RlhfLoop.COST_VF_LOSS) > 0, "cost vf loss " + m.value(RlhfLoop.COST_VF_LOSS));
            assertTrue(m.value(RlhfLoop.COST_VALUES_MEAN) != 0, "cost values " + m.value(RlhfLoop.COST_VALUES_MEAN));
            assertTrue(Double.isFinite(m.value(RlhfLoop.COST_RETURNS_MEAN)));
        }
        assertTrue(r.rows().get(0).value(RlhfLoop.COST_VALUES_MEAN) != r.rows().get(1).value(RlhfLoop.COST_VALUES_MEAN));
    }

    @Test
    void shouldDeriveSampleSeedsFromSeedStepAndIndex() {
        assertTrue(RlhfLoop.sampleSeed(1, 1, 0) != RlhfLoop.sampleSeed(1, 1, 1));
        assertTrue(RlhfLoop.sampleSeed(1, 1, 0) != RlhfLoop.sampleSeed(1, 2, 0));
        assertEquals(RlhfLoop.sampleSeed(7, 3, 2), RlhfLoop.sampleSeed(7, 3, 2));
    }

    @Test
    void shouldRejectSamplesThatDoNotSplitOverReplicas() {
        TrainConfig odd = config.withOverrides(List.of("data.train_batch_size=6",
                "actor_rollout_ref.actor.ppo_mini_batch_size=2", "actor_rollout_ref.actor.ppo_micro_batch_size=2"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RlhfLoop.run(odd, task, model, policy, m -> { }));
        assertEquals("samples per step must divide over the generation replicas: samples=6, replicas=4",
                e.getMessage());
    }

    private static Map<String, Double> withoutTimings(StepMetrics m) {
        Map<String, Double> out = new java.util.TreeMap<>(m.values());
        out.keySet().removeIf(k -> k.startsWith(MetricNames.TIMING_PREFIX) || k.startsWith("perf/throughput"));
        return out;
    }
}
