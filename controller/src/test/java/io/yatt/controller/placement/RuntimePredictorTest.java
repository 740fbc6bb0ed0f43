package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.hybrid.ParallelLayout;
import org.junit.jupiter.api.Test;

class RuntimePredictorTest {
    static final Cluster A100_16 = Cluster.of(16, 8, DeviceProfile.builtIn("a100"));
    static final Workload PPO_7B = Workload.of(Algorithm.PPO, LlamaSize.L7B);
    static final ParallelLayout TRAIN = ParallelLayout.of(1, 4, 2);

    /**
     * Training 1-4-2 on GPUs 0-7, generation TP 4. Colocated: the generation layout is the training layout's TP group
     * (d_g = 1), so nothing is resharded. Split over 8 more GPUs (a second node): each rollout rank receives its
     * bf16 generation shard over the network, {@code bytes / (25 GB/s * 0.8) + 25 us}.
     */
    @Test
    void shouldPredictTheTransitionOfEachPlacement() {
        DynamicPlacement.Predictions p = RuntimePredictor.predict(PPO_7B, A100_16, TRAIN, 1, 4, 8);
        assertEquals(0.0, p.colocate().transitionS());
        ModelStats actor = new ModelStats(PPO_7B.models().get(Role.ACTOR));
        long bytes = actor.rankParameters(1, 4) * 2;
        assertEquals(bytes / (25e9 * 0.8) + 25e-6, p.split().transitionS(), 1e-12);
    }

    /** Preparation is four forward passes and training two updates, the same wherever the rollout runs. */
    @Test
    void shouldPredictTheSamePreparationAndTrainingInBothPlacements() {
        DynamicPlacement.Predictions p = RuntimePredictor.predict(PPO_7B, A100_16, TRAIN, 1, 4, 8);
        ModelStats m = new ModelStats(PPO_7B.models().get(Role.ACTOR));
        assertEquals(4 * CostModel.inferSeconds(m, TRAIN, PPO_7B, A100_16), p.colocate().preparationS(), 1e-9);
        assertEquals(2 * CostModel.trainSeconds(m, TRAIN, PPO_7B, A100_16), p.colocate().trainingS(), 1e-9);
        assertEquals(p.colocate().preparationS(), p.split().preparationS());
        assertEquals(p.colocate().trainingS(), p.split().trainingS());
    }

    @Test
    void shouldRejectRolloutGpusThatAreNotWholeReplicasOrTooMany() {
        assertEquals("rollout GPUs must be a positive multiple of p_g*t_g: rolloutGpus=6, p_g=1, t_g=4",
                assertThrows(IllegalArgumentException.class,
                        () -> RuntimePredictor.predict(PPO_7B, A100_16, TRAIN, 1, 4, 6)).getMessage());
        assertEquals("training and rollout GPUs exceed the cluster: training=8, rollout=12, cluster=16",
                assertThrows(IllegalArgumentException.class,
                        () -> RuntimePredictor.predict(PPO_7B, A100_16, TRAIN, 1, 4, 12)).getMessage());
    }
}
