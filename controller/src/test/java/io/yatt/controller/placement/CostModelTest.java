package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.yatt.hybrid.ParallelLayout;
import org.junit.jupiter.api.Test;

class CostModelTest {

    /** Llama-2-7B: 32 layers of 202,383,360 parameters, embedding and lm_head of 32000 x 4096, final norm 4096. */
    private static final long LLAMA_7B_PARAMETERS = 6_738_415_616L;
    private static final ModelStats L7B = new ModelStats(LlamaSize.L7B.config());
    private static final Workload SMALL = Workload.of(Algorithm.PPO, LlamaSize.L7B.config(), 8, 1024, 1024);
    private static final Cluster A100 = Cluster.of(8, 8, DeviceProfile.builtIn("a100"));

    @Test
    void shouldCountLlama7bParametersAndStages() {
        assertEquals(LLAMA_7B_PARAMETERS, L7B.parameterCount);
        // stage 1 of 2: 16 layers + final norm + lm_head = 3,238,133,760 + 4,096 + 131,072,000
        assertEquals(3_369_209_856L, L7B.maxStageParameters(2));
        // 2 (k, v) * 32 layers * 32 heads * 128 head dim * 2 bytes
        assertEquals(524_288L, L7B.kvBytesPerToken);
    }

    @Test
    void shouldHoldAWholeKvHeadPerRankWhenTpExceedsTheKvHeads() {
        // Llama-2-70B: 80 layers, hidden 8192, 64 heads of 128, 8 KV heads
        ModelStats l70b = new ModelStats(LlamaSize.L70B.config());
        // 2 (k, v) * 80 layers * 8 KV heads * 128 head dim * 2 bytes
        assertEquals(327_680L, l70b.kvBytesPerToken);
        assertEquals(327_680.0 / 4, l70b.kvBytesPerTokenPerRank(1, 4));
        // t_g=16 > 8 KV heads: each rank caches one whole head, 1/8 of the tokens' KV, not 1/16
        assertEquals(327_680.0 / 8, l70b.kvBytesPerTokenPerRank(1, 16));
        assertEquals(327_680.0 / 2 / 8, l70b.kvBytesPerTokenPerRank(2, 16));
        // k/v rows of the 80 layers: 2 * 80 * 8 * 128 * 8192 = 1,342,177,280; at t=16 a rank holds 1/8 instead of 1/16
        assertEquals(l70b.maxStageParameters(1) / 8, l70b.rankParameters(1, 8));
        assertEquals(l70b.maxStageParameters(1) / 16 + 1_342_177_280L / 8 - 1_342_177_280L / 16,
                l70b.rankParameters(1, 16));
    }

    @Test
    void shouldKeepWeightsGradientsAndShardedOptimizerForTrainedRoles() {
        ParallelLayout layout = ParallelLayout.of(1, 1, 8);
        assertEquals(LLAMA_7B_PARAMETERS * 6 + LLAMA_7B_PARAMETERS * 12 / 8,
                CostModel.residentBytes(Role.ACTOR, L7B, layout));
        assertEquals(LLAMA_7B_PARAMETERS * 2, CostModel.residentBytes(Role.REFERENCE, L7B, layout));
    }

    @Test
    void shouldLoseEfficiencyPerTpDoubling() {
        assertEquals(0.5, CostModel.efficiency(0.5, 1));
        assertEquals(0.5 * 0.85, CostModel.efficiency(0.5, 8), 1e-15);
    }

    @Test
    void shouldPredictComputeBoundInference() {
        // forward FLOPs per token: 2 * P + 2 * 32 layers * 2048 tokens * 4096 hidden; 8 sequences of 2048 tokens
        double flops = (2.0 * LLAMA_7B_PARAMETERS + 2.0 * 32 * 2048 * 4096) * 8 * 2048;
        assertEquals(flops / (312e12 * 0.5), CostModel.inferSeconds(L7B, ParallelLayout.of(1, 1, 1), SMALL, A100),
                1e-12);
    }

    @Test
    void shouldAddTensorParallelAllReducesToTraining() {
        double flops = 4 * (2.0 * LLAMA_7B_PARAMETERS + 2.0 * 32 * 2048 * 4096) * 8 * 2048;
        double compute = flops / (2 * 312e12 * 0.5 * 0.95);
        // 6 all-reduces per layer of 16384 tokens * 4096 hidden * 2 bytes over 2 ranks at 0.8 * 300 GB/s, 10 us each
        double allReduce = 2.0 * 1 / 2 * (16384.0 * 4096 * 2) / 240e9 + 10e-6;
        assertEquals(compute + 6 * 32 * allReduce,
                CostModel.trainSeconds(L7B, ParallelLayout.of(1, 2, 1), SMALL, A100), 1e-9);
    }

    @Test
    void shouldPredictMemoryBoundDecodeWithEveryBatchAtOnce() {
        CostModel.GenerationCost g = CostModel.generation(L7B, ParallelLayout.of(1, 1, 1), 1, 1, SMALL, A100,
                40_000_000_000L);
        double prefill = (2.0 * LLAMA_7B_PARAMETERS + 2.0 * 32 * 1024 * 4096) * 1024 * 8 / (312e12 * 0.5);
        // per step: bf16 weights + 8 sequences * 1536 average context * 524288 KV bytes per token
        double step = (2.0 * LLAMA_7B_PARAMETERS + 8 * 1536.0 * 524_288) / (2039e9 * 0.7);
        assertEquals(8, g.concurrentSequences());
        assertEquals(1, g.waves());
        assertEquals(0, g.extraWeightBytes());
        assertEquals(prefill + 1024 * step, g.seconds(), 1e-9);
    }

    @Test
    void shouldDecodeInWavesWhenFreeMemoryHoldsFewSequences() {
        // one sequence's KV cache: 2048 tokens * 524288 bytes = 1,073,741,824; 3e9 bytes hold 2
        CostModel.GenerationCost g = CostModel.generation(L7B, ParallelLayout.of(1, 1, 1), 1, 1, SMALL, A100,
                3_000_000_000L);
        assertEquals(2, g.concurrentSequences());
        assertEquals(4, g.waves());
        assertNull(CostModel.generation(L7B, ParallelLayout.of(1, 1, 1), 1, 1, SMALL, A100, 1_000_000_000L));
    }

    @Test
    void shouldMoveTransitionBytesOverTheNetworkWhenCrossingNodes() {
        assertEquals(1e9 / 240e9 + 10e-6, CostModel.transitionSeconds(1_000_000_000L, false, A100), 1e-15);
        assertEquals(1e9 / 20e9 + 25e-6, CostModel.transitionSeconds(1_000_000_000L, true, A100), 1e-15);
        assertEquals(0, CostModel.transitionSeconds(0, true, A100));
    }
}
