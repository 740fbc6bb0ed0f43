package io.yatt.trainer.algo;

import static io.yatt.trainer.algo.TensorFunctionsTest.assertRows;
import static io.yatt.trainer.algo.TensorFunctionsTest.r;
import static io.yatt.trainer.algo.TensorFunctionsTest.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class AdvantageEstimatorsTest {

    private static final float E = 1e-5f;
    private static final double EPS = AdvantageConfig.GRPO_EPSILON;

    // Four responses: three to prompt 0, one to prompt 1. Scores (row sums): 1, 0, 2, 3. Row 1 has one token.
    private static final BatchTensor REWARDS = t(r(0, 1), r(0, 0), r(0, 2), r(3, 0));
    private static final BatchTensor MASK = t(r(1, 1), r(1, 0), r(1, 1), r(1, 1));
    private static final int[] IDS = {0, 0, 0, 1};

    private static AdvantageInput grouped() {
        return AdvantageInput.builder(REWARDS, MASK).groupIds(IDS).build();
    }

    @Test
    void shouldRunGaeBackwardsAndWhitenOverTheMask() {
        // gamma = lam = 0.5, r = 0 0 1, V = 0.5 everywhere:
        // t2: delta = 1 - 0.5 = 0.5 -> A2 = 0.5
        // t1: delta = 0.5 * 0.5 - 0.5 = -0.25 -> A1 = -0.25 + 0.25 * 0.5 = -0.125
        // t0: delta = -0.25 -> A0 = -0.25 + 0.25 * -0.125 = -0.28125; returns = A + 0.5.
        AdvantageInput in = AdvantageInput.builder(t(r(0, 0, 1)), t(r(1, 1, 1))).values(t(r(0.5f, 0.5f, 0.5f)))
                .build();
        AdvantageResult res = AdvantageEstimators.gae(in, AdvantageConfig.DEFAULTS.withGammaLam(0.5, 0.5));
        assertArrayEquals(new float[] {0.21875f, 0.375f, 1.0f}, res.returns().toArray(), E);
        // mean 0.03125, deviations -0.3125 -0.15625 0.46875, squares sum 0.341796875, unbiased var / 2.
        double sd = Math.sqrt(0.341796875 / 2 + 1e-8);
        assertArrayEquals(new float[] {(float) (-0.3125 / sd), (float) (-0.15625 / sd), (float) (0.46875 / sd)},
                res.advantages().toArray(), E);
    }

    @Test
    void shouldSkipMaskedPositionsInGaeAndWhitenThemToo() {
        // gamma = lam = 1, mask 1 0 1 0 (a tool observation at t1, padding at t3):
        // t3 masked: A stays 0, V_next stays 0 -> return 0 + 7.
        // t2: delta = 1 - 0.5 = 0.5 -> A = 0.5, V_next = 0.5.
        // t1 masked: its value 9 is skipped, A and V_next carry 0.5 -> return 0.5 + 9.
        // t0: delta = 0 + 0.5 - 0.5 = 0 -> A = 0 + 0.5 = 0.5.
        AdvantageInput in = AdvantageInput.builder(t(r(0, 0, 1, 5)), t(r(1, 0, 1, 0)))
                .values(t(r(0.5f, 9, 0.5f, 7))).build();
        AdvantageResult res = AdvantageEstimators.gae(in, AdvantageConfig.DEFAULTS);
        assertArrayEquals(new float[] {1, 9.5f, 1, 7}, res.returns().toArray(), E);
        // Unmasked advantages are both 0.5: whitened to ~0; the padded 0 becomes (0 - 0.5) / sqrt(1e-8) = -5000,
        // because verl whitens every element and does not re-apply the mask after GAE.
        assertEquals(0.0, res.advantages().get(0, 0), 1e-3);
        assertEquals(-5000.0, res.advantages().get(0, 3), 0.01);
    }

    @Test
    void shouldNormaliseGrpoByGroupStdWithEpsilonOutsideTheSqrt() {
        // Group 0 scores 1 0 2: mean 1, unbiased std sqrt((0 + 1 + 1) / 2) = 1 -> (s - 1) / (1 + 1e-6).
        // Group 1 has one response: mean 0, std 1 -> 3 / (1 + 1e-6).
        AdvantageResult res = AdvantageEstimators.grpo(grouped(), AdvantageConfig.DEFAULTS);
        float d = (float) (1 + EPS);
        assertRows(new float[][] {{0, 0}, {-1 / d, 0}, {1 / d, 1 / d}, {3 / d, 3 / d}}, res.advantages());
        assertSame(res.advantages(), res.returns());
    }

    @Test
    void shouldOnlyCentreGrpoWithoutStdNormalisation() {
        AdvantageResult res = AdvantageEstimators.grpo(grouped(), AdvantageConfig.DEFAULTS.withNormAdvByStd(false));
        assertRows(new float[][] {{0, 0}, {-1, 0}, {1, 1}, {3, 3}}, res.advantages());
    }

    @Test
    void shouldFloorGroupVarianceAtEpsilonForVectorisedGrpo() {
        // Same as grpo for group variance 1: (s - 1) / (1 + 1e-6), group of one 3 / (1 + 1e-6).
        BatchTensor a = AdvantageEstimators.grpoVectorized(grouped(), AdvantageConfig.DEFAULTS).advantages();
        float d = (float) (1 + EPS);
        assertRows(new float[][] {{0, 0}, {-1 / d, 0}, {1 / d, 1 / d}, {3 / d, 3 / d}}, a);
        // Scores 0 and h = 1e-4: variance h^2 / 2 = 5e-9 < 1e-6, so std = sqrt(1e-6) = 1e-3 in the vectorised form
        // (-> +-(h/2) / (1e-3 + 1e-6)) but sqrt(5e-9) in grpo (-> +-(h/2) / (h/sqrt(2) + 1e-6)).
        float h = 1e-4f;
        AdvantageInput tiny = AdvantageInput.builder(t(r(0), r(h)), t(r(1), r(1))).groupIds(new int[] {0, 0}).build();
        assertEquals(h / 2 / (1e-3 + EPS),
                AdvantageEstimators.grpoVectorized(tiny, AdvantageConfig.DEFAULTS).advantages().get(1, 0), 1e-6);
        assertEquals(h / 2 / (h / Math.sqrt(2) + EPS),
                AdvantageEstimators.grpo(tiny, AdvantageConfig.DEFAULTS).advantages().get(1, 0), 1e-4);
    }

    @Test
    void shouldScoreByRewardSumOverAllPositionsAsVerl() {
        // A reward at a masked position still counts in the score (token_level_rewards.sum(-1)); group of two:
        // scores 0 + 5 = 5 and 1: mean 3, std sqrt(8) -> (5 - 3) / (sqrt(8) + 1e-6), then times the mask.
        AdvantageInput in = AdvantageInput.builder(t(r(0, 5), r(1, 0)), t(r(1, 0), r(1, 1))).groupIds(new int[] {7, 7})
                .build();
        BatchTensor a = AdvantageEstimators.grpo(in, AdvantageConfig.DEFAULTS).advantages();
        assertEquals(2 / (Math.sqrt(8) + EPS), a.get(0, 0), 1e-6);
        assertEquals(0f, a.get(0, 1));
    }

    @Test
    void shouldWhitenTheWeightedSumOfPerComponentGrpoAdvantagesForGdpo() {
        // One group of two, two positions each. Component 1 scores 1, 0: mean 0.5, std sqrt(0.5) -> +-0.7071.
        // Component 2 scores 0, 3: mean 1.5, std sqrt(4.5) -> -+0.7071. Weights 1, 2: row 0 = 0.7071 - 1.4142 =
        // -0.7071, row 1 = +0.7071 on both positions; whitened: mean 0, unbiased var 4 * 0.5 / 3 = 2/3.
        BatchTensor mask = BatchTensor.filled(2, 2, 1f);
        AdvantageInput in = AdvantageInput.builder(BatchTensor.zeros(2, 2), mask).groupIds(new int[] {0, 0}).build();
        BatchTensor a = AdvantageEstimators.gdpo(java.util.List.of(t(r(0, 1), r(0, 0)), t(r(0, 0), r(3, 0))),
                new double[] {1, 2}, in, AdvantageConfig.DEFAULTS).advantages();
        double g = Math.sqrt(0.5) / (Math.sqrt(0.5) + EPS) * (0.5 / Math.sqrt(0.5));
        float w = (float) (g / Math.sqrt(4 * g * g / 3 + 1e-8));
        assertRows(new float[][] {{-w, -w}, {w, w}}, a);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AdvantageEstimators.gdpo(java.util.List.of(mask), new double[] {1, 2}, in,
                        AdvantageConfig.DEFAULTS));
        assertEquals("GDPO needs one weight per reward component: components=1, weights=2", e.getMessage());
    }

    @Test
    void shouldGiveOnlyTheBestResponseTheGapToTheSecondForPassK() {
        // Group 0 scores 1 0 2: best 2 (row 2), second 1, std 1 -> 1 / (1 + 1e-6). Group 1 rows 3, 4 tie at 3:
        // the first gets 3 - 3 = 0.
        AdvantageInput in = AdvantageInput.builder(t(r(1), r(0), r(2), r(3), r(3)), t(r(1), r(1), r(1), r(1), r(1)))
                .groupIds(new int[] {0, 0, 0, 1, 1}).build();
        BatchTensor a = AdvantageEstimators.grpoPassK(in, AdvantageConfig.DEFAULTS).advantages();
        assertArrayEquals(new float[] {0, 0, (float) (1 / (1 + EPS)), 0, 0}, a.toArray(), E);
        BatchTensor raw = AdvantageEstimators.grpoPassK(in, AdvantageConfig.DEFAULTS.withNormAdvByStd(false))
                .advantages();
        assertEquals(1f, raw.get(2, 0));
    }

    @Test
    void shouldRejectPassKGroupOfOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AdvantageEstimators.grpoPassK(grouped(), AdvantageConfig.DEFAULTS));
        assertEquals("pass@k needs at least two responses per group: group=1, responses=1", e.getMessage());
    }

    @Test
    void shouldSubtractLeaveOneOutMeanForRloo() {
        // 1 - mean(0, 2) = 0; 0 - mean(1, 2) = -1.5; 2 - mean(1, 0) = 1.5; a group of one keeps its score 3.
        BatchTensor a = AdvantageEstimators.rloo(grouped(), AdvantageConfig.DEFAULTS).advantages();
        assertRows(new float[][] {{0, 0}, {-1.5f, 0}, {1.5f, 1.5f}, {3, 3}}, a);
        // The vectorised form gives a group of one 0 instead.
        BatchTensor v = AdvantageEstimators.rlooVectorized(grouped(), AdvantageConfig.DEFAULTS).advantages();
        assertRows(new float[][] {{0, 0}, {-1.5f, 0}, {1.5f, 1.5f}, {0, 0}}, v);
    }

    @Test
    void shouldUseLengthWeightedBaselineForOpo() {
        // Lengths 2 1 2, scores 1 0 2: baseline (2 + 0 + 4) / 5 = 1.2; group of one: baseline 0.
        BatchTensor a = AdvantageEstimators.opo(grouped(), AdvantageConfig.DEFAULTS).advantages();
        assertRows(new float[][] {{-0.2f, -0.2f}, {-1.2f, 0}, {0.8f, 0.8f}, {3, 3}}, a);
    }

    @Test
    void shouldScaleGpgByBatchOverNonZeroScores() {
        // 3 of 4 scores are non-zero: alpha = 4 / 3; group 0 centred on 1, group of one on 0.
        BatchTensor a = AdvantageEstimators.gpg(grouped(), AdvantageConfig.DEFAULTS).advantages();
        float k = 4f / 3;
        assertRows(new float[][] {{0, 0}, {-k, 0}, {k, k}, {4, 4}}, a);
    }

    @Test
    void shouldResetReinforcePlusPlusReturnAtMaskedPositions() {
        // gamma 0.5. Row 0 (mask 1 1 0): t2 return 4 then reset; t1 = 2; t0 = 1 + 0.5 * 2 = 2.
        // Row 1 (all 1): t2 = 1, t1 = 1 + 0.5 = 1.5, t0 = 3 + 0.75 = 3.75.
        AdvantageInput in = AdvantageInput.builder(t(r(1, 2, 4), r(3, 1, 1)), t(r(1, 1, 0), r(1, 1, 1))).build();
        AdvantageResult res = AdvantageEstimators.reinforcePlusPlus(in, AdvantageConfig.DEFAULTS.withGammaLam(0.5, 1));
        assertRows(new float[][] {{2, 2, 4}, {3.75f, 1.5f, 1}}, res.returns());
        // Unmasked returns 2 2 3.75 1.5 1: mean 2.05, squared deviations sum 4.3, unbiased var 1.075; masked -> 0.
        float sd = (float) Math.sqrt(1.075 + 1e-8);
        assertRows(new float[][] {{-0.05f / sd, -0.05f / sd, 0}, {1.7f / sd, -0.55f / sd, -1.05f / sd}}, res.advantages());
    }

    @Test
    void shouldWhitenGroupCentredScoresForReinforcePlusPlusBaseline() {
        // Scores 2 0 | 1 with ids 0 0 | 1: centred 1, -1 and 1 (group of one: mean 0), tiled over the mask:
        // unmasked 1 1 -1 -1 1 -> mean 0.2, squared deviations 0.64 * 3 + 1.44 * 2 = 4.8, unbiased var 1.2.
        AdvantageInput in = AdvantageInput.builder(t(r(0, 2), r(0, 0), r(1, 0)), t(r(1, 1), r(1, 1), r(1, 0)))
                .groupIds(new int[] {0, 0, 1}).build();
        BatchTensor a = AdvantageEstimators.reinforcePlusPlusBaseline(in, AdvantageConfig.DEFAULTS).advantages();
        float sd = (float) Math.sqrt(1.2 + 1e-8);
        assertRows(new float[][] {{0.8f / sd, 0.8f / sd}, {-1.2f / sd, -1.2f / sd}, {0.8f / sd, 0}}, a);
    }

    @Test
    void shouldSubtractGreedyBaselineFromRewardToGoForRemax() {
        // Masked reward-to-go of 1 2 [3]: 3 2 0; advantages minus 0.5 on unmasked positions.
        AdvantageInput in = AdvantageInput.builder(t(r(1, 2, 3)), t(r(1, 1, 0))).rewardBaselines(new float[] {0.5f})
                .build();
        AdvantageResult res = AdvantageEstimators.remax(in, AdvantageConfig.DEFAULTS);
        assertArrayEquals(new float[] {3, 2, 0}, res.returns().toArray());
        assertArrayEquals(new float[] {2.5f, 1.5f, 0}, res.advantages().toArray());
    }

    private static AdvantageInput.Builder otb(BatchTensor rewards, BatchTensor mask) {
        // pi = 0.5 and sum pi^2 = 0.5 everywhere: w = 1 - 2 * 0.5 + 0.5 = 0.5 per token.
        int b = rewards.batch();
        int s = rewards.seq();
        return AdvantageInput.builder(rewards, mask).groupIds(new int[b])
                .oldLogProbs(BatchTensor.filled(b, s, (float) Math.log(0.5)))
                .sumPiSquared(BatchTensor.filled(b, s, 0.5f));
    }

    @Test
    void shouldWeightOptimalTokenBaselineByCumulativePathVariance() {
        // G row 0 = 1 1, row 1 (mask 1 0) = 3 0; W row 0 = 0.5 1.0, row 1 = 0.5 0.5.
        // B0 = (1 * 0.5 + 3 * 0.5) / 1 = 2; B1 = (1 * 1.0) / 1.0 = 1 (row 1 masked at t1).
        BatchTensor rewards = t(r(0, 1), r(3, 0));
        BatchTensor mask = t(r(1, 1), r(1, 0));
        AdvantageResult res = AdvantageEstimators.optimalTokenBaseline(otb(rewards, mask).build(), false);
        assertRows(new float[][] {{1, 1}, {3, 0}}, res.returns());
        assertRows(new float[][] {{-1, 0}, {1, 0}}, res.advantages());
        // handle_zero_tail: row 0 is the unique longest (2 > 1), so its baseline past length 1 is 0: A = 1 - 0.
        BatchTensor tail = AdvantageEstimators.optimalTokenBaseline(otb(rewards, mask).build(), true).advantages();
        assertRows(new float[][] {{-1, 1}, {1, 0}}, tail);
    }

    @Test
    void shouldScaleOptimalTokenBaselineWeightsBySquaredRolloutWeights() {
        // IS weight 1 on row 0, 2 on row 1: w row 1 = 0.5 * 4 = 2. B0 = (1 * 0.5 + 3 * 2) / 2.5 = 2.6.
        AdvantageInput in = otb(t(r(0, 1), r(3, 0)), t(r(1, 1), r(1, 0)))
                .rolloutIsWeights(t(r(1, 1), r(2, 2))).build();
        BatchTensor a = AdvantageEstimators.optimalTokenBaseline(in, AdvantageConfig.DEFAULTS).advantages();
        assertEquals(1 - 2.6, a.get(0, 0), 1e-5);
        assertEquals(3 - 2.6, a.get(1, 0), 1e-5);
    }

    @Test
    void shouldAlignMultiTurnBaselineByGeneratedTokenIndex() {
        // Row 0 mask 1 0 1 (tool output at t1), row 1 mask 1 1 0. Returns row 0 = 2 2 2, row 1 = 4 4 0.
        // Packed: row 0 keeps t0, t2 -> W 0.5 1.0, G 2 2; row 1 keeps t0, t1 -> W 0.5 1.0, G 4 4.
        // B_k0 = (2 * 0.5 + 4 * 0.5) / 1 = 3; B_k1 = (2 + 4) / 2 = 3. Equal lengths: no zero tail.
        AdvantageInput in = otb(t(r(0, 0, 2), r(0, 4, 0)), t(r(1, 0, 1), r(1, 1, 0))).build();
        AdvantageResult res = AdvantageEstimators.multiTurnOptimalTokenBaseline(in, AdvantageConfig.DEFAULTS);
        assertRows(new float[][] {{2, 2, 2}, {4, 4, 0}}, res.returns());
        assertRows(new float[][] {{-1, 0, -1}, {1, 1, 0}}, res.advantages());
    }

    @Test
    void shouldNameTheMissingInput() {
        AdvantageInput in = AdvantageInput.builder(REWARDS, MASK).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AlgorithmRegistry.advantageEstimator("gae").estimate(in, AdvantageConfig.DEFAULTS));
        assertEquals("advantage estimator needs values: estimator=gae, values=null", e.getMessage());
        IllegalArgumentException ids = assertThrows(IllegalArgumentException.class,
                () -> AdvantageInput.builder(REWARDS, MASK).groupIds(new int[] {0, 1}));
        assertEquals("groupIds length does not match batch: length=2, batch=4", ids.getMessage());
    }

    @Test
    void shouldFindEstimatorsByConfigNameAndListValidNamesForUnknownOnes() {
        AdvantageResult viaRegistry = AlgorithmRegistry.advantageEstimator("grpo").estimate(grouped(),
                AdvantageConfig.DEFAULTS);
        assertEquals(AdvantageEstimators.grpo(grouped(), AdvantageConfig.DEFAULTS).advantages(),
                viaRegistry.advantages());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AlgorithmRegistry.advantageEstimator("ppo"));
        assertEquals("unknown advantage estimator: name=ppo, valid=[gae, gdpo, gpg, grpo, grpo_passk, grpo_vectorized, opo, "
                + "optimal_token_baseline, reinforce_plus_plus, reinforce_plus_plus_baseline, remax, rloo, "
                + "rloo_vectorized, tir_optimal_token_baseline]", e.getMessage());
    }
}
