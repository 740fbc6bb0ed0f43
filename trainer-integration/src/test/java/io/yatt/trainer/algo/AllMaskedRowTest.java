package io.yatt.trainer.algo;

import static io.yatt.trainer.algo.TensorFunctionsTest.r;
import static io.yatt.trainer.algo.TensorFunctionsTest.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * A response that is wholly masked (an empty or dropped sample) must neither produce NaN nor change what the other
 * responses get: verl excludes such rows from sequence counts and divides masked means by {@code n + 1e-8}.
 */
class AllMaskedRowTest {

    // Three live responses (two groups) and, in the "padded" batch, a fourth all-masked one in its own group.
    private static final float[][] LP = {{-0.9f, -1.5f, -0.7f}, {-1.05f, -0.6f, -1}, {-0.3f, -2, -1.2f}};
    private static final float[][] OLD = {{-1, -1, -1}, {-1, -1, -1}, {-0.5f, -1.8f, -1}};
    private static final float[][] ADV = {{1.5f, -0.5f, 2}, {-1, 0.7f, 3}, {0.4f, 0.4f, -2}};
    private static final float[][] MASK = {{1, 1, 1}, {1, 1, 0}, {1, 0, 0}};

    private static BatchTensor live(float[][] x) {
        return BatchTensor.of(x);
    }

    private static BatchTensor padded(float[][] x, float fill) {
        float[][] p = new float[x.length + 1][];
        System.arraycopy(x, 0, p, 0, x.length);
        p[x.length] = new float[] {fill, fill, fill};
        return BatchTensor.of(p);
    }

    private static void assertFinite(BatchTensor x, String what) {
        for (float v : x.toArray()) {
            assertTrue(Float.isFinite(v), what + " has a non-finite element: " + x);
        }
    }

    @Test
    void shouldLeavePolicyLossesUnchangedByAnAllMaskedRow() {
        PolicyLossInput small = PolicyLossInput.of(live(OLD), live(LP), live(ADV), live(MASK));
        PolicyLossInput big = PolicyLossInput.of(padded(OLD, -1), padded(LP, -3), padded(ADV, 7),
                padded(MASK, 0));
        for (String name : AlgorithmRegistry.policyLossNames()) {
            for (LossAggMode mode : LossAggMode.values()) {
                PolicyLossResult a = AlgorithmRegistry.policyLoss(name).compute(small, mode, PolicyLossConfig.DEFAULTS);
                PolicyLossResult b = AlgorithmRegistry.policyLoss(name).compute(big, mode, PolicyLossConfig.DEFAULTS);
                String what = name + "/" + mode.configName();
                assertFinite(b.gradLogProb(), what);
                // geo_mean averages over all rows, the empty one included (its term is 0): loss scales by 3/4.
                double expected = name.equals("geo_mean") ? a.pgLoss() * 3 / 4 : a.pgLoss();
                assertEquals(expected, b.pgLoss(), 1e-6, what);
                assertArrayEquals(new float[] {0, 0, 0}, b.gradLogProb().row(3), what);
                assertEquals(a.ppoKl(), b.ppoKl(), 1e-6, what);
                assertEquals(a.pgClipfrac(), b.pgClipfrac(), 1e-6, what);
                float scale = name.equals("geo_mean") ? 0.75f : 1f;
                for (int row = 0; row < 3; row++) {
                    float[] expectedRow = a.gradLogProb().row(row);
                    for (int i = 0; i < expectedRow.length; i++) {
                        expectedRow[i] *= scale;
                    }
                    assertArrayEquals(expectedRow, b.gradLogProb().row(row), 1e-6f, what);
                }
            }
        }
    }

    @Test
    void shouldKeepEstimatorsFiniteAndOtherRowsUnchanged() {
        float[][] rewards = {{0, 0, 1}, {0, 0.5f, 0}, {2, 0, 0}};
        float[][] values = {{0.2f, 0.1f, 0.4f}, {0.3f, 0.3f, 0}, {0.1f, 0, 0}};
        float[][] piSq = {{0.4f, 0.5f, 0.6f}, {0.3f, 0.3f, 0.3f}, {0.7f, 0.7f, 0.7f}};
        AdvantageInput small = AdvantageInput.builder(live(rewards), live(MASK)).values(live(values))
                .groupIds(new int[] {0, 0, 1}).rewardBaselines(new float[] {0.5f, 0.5f, 1})
                .oldLogProbs(live(LP)).sumPiSquared(live(piSq)).build();
        AdvantageInput big = AdvantageInput.builder(padded(rewards, 0), padded(MASK, 0)).values(padded(values, 0))
                .groupIds(new int[] {0, 0, 1, 2}).rewardBaselines(new float[] {0.5f, 0.5f, 1, 0})
                .oldLogProbs(padded(LP, -1)).sumPiSquared(padded(piSq, 0.5f)).build();
        for (String name : AlgorithmRegistry.advantageEstimatorNames()) {
            if (name.equals("grpo_passk")) {
                continue; // needs two responses per group; the empty row's group has one
            }
            AdvantageEstimator e = AlgorithmRegistry.advantageEstimator(name);
            AdvantageResult a = e.estimate(small, AdvantageConfig.DEFAULTS);
            AdvantageResult b = e.estimate(big, AdvantageConfig.DEFAULTS);
            assertFinite(b.advantages(), name);
            assertFinite(b.returns(), name);
            // GPG's alpha = batch / #non-zero scores counts the empty row in the batch (verl's bsz): the three live
            // scores (1, 0.5, 2) are non-zero, so alpha goes from 3/3 to 4/3.
            double scale = name.equals("gpg") ? 4.0 / 3 : 1;
            for (int row = 0; row < 3; row++) {
                for (int pos = 0; pos < 3; pos++) {
                    if (MASK[row][pos] != 0f) {
                        assertEquals(a.advantages().get(row, pos) * scale, b.advantages().get(row, pos), 1e-5,
                                name);
                    }
                }
            }
        }
    }

    @Test
    void shouldKeepKlRewardAndValueLossFinite() {
        KlRewardResult kl = KlRewards.applyKlPenalty(padded(ADV, 0), padded(OLD, -1), padded(LP, -1),
                padded(MASK, 0), KlController.fixed(0.1), KlPenalty.fromName("low_var_kl"));
        assertFinite(kl.tokenLevelRewards(), "rewards");
        assertTrue(Double.isFinite(kl.currentKl()));
        ValueLossResult vf = Losses.valueLoss(padded(LP, 0), padded(OLD, 0), padded(ADV, 0), padded(MASK, 0), 0.2,
                LossAggMode.SEQ_MEAN_TOKEN_MEAN, AggOptions.LOCAL);
        ValueLossResult small = Losses.valueLoss(live(LP), live(OLD), live(ADV), live(MASK), 0.2,
                LossAggMode.SEQ_MEAN_TOKEN_MEAN, AggOptions.LOCAL);
        assertEquals(small.vfLoss(), vf.vfLoss(), 1e-7);
        assertArrayEquals(new float[] {0, 0, 0}, vf.gradValuePreds().row(3));
    }
}
