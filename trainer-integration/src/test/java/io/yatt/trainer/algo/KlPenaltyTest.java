package io.yatt.trainer.algo;

import static io.yatt.trainer.algo.TensorFunctionsTest.r;
import static io.yatt.trainer.algo.TensorFunctionsTest.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class KlPenaltyTest {

    // lp = -1, ref = -1.5: x = lp - ref = 0.5, d = ref - lp = -0.5.
    private static final BatchTensor LP = t(r(-1));
    private static final BatchTensor REF = t(r(-1.5f));

    private static float value(String name) {
        return KlPenalty.fromName(name).apply(LP, REF).get(0, 0);
    }

    private static float grad(String name) {
        return KlPenalty.fromName(name).gradLogProb(LP, REF).get(0, 0);
    }

    @Test
    void shouldEstimateKlLikeSchulman() {
        double k3 = Math.exp(-0.5) + 0.5 - 1;
        assertEquals(0.5, value("kl"), 1e-7);
        assertEquals(0.5, value("k1"), 1e-7);
        assertEquals(0.5, value("abs"), 1e-7);
        assertEquals(0.125, value("mse"), 1e-7);
        assertEquals(0.125, value("k2"), 1e-7);
        assertEquals(k3, value("low_var_kl"), 1e-7);
        assertEquals(k3, value("k3"), 1e-7);
        // Gradients: 1, sign(x), x, and for k3 d/dlp (e^d - d - 1) = -(e^d - 1).
        assertEquals(1, grad("k1"), 1e-7);
        assertEquals(1, grad("abs"), 1e-7);
        assertEquals(0.5, grad("k2"), 1e-7);
        assertEquals(1 - Math.exp(-0.5), grad("k3"), 1e-7);
    }

    @Test
    void shouldKeepValueAndTakeK2GradientForStraightThroughForms() {
        assertEquals(Math.exp(-0.5) - 0.5, value("k3+"), 1e-7);
        assertEquals(0.5, grad("k3+"), 1e-7);
        assertEquals(0.5, value("k1+"), 1e-7);
        assertEquals(0.5, grad("k1+"), 1e-7);
        assertEquals(new KlPenalty(KlPenalty.Kind.K2, false), KlPenalty.fromName("k2+"));
    }

    @Test
    void shouldClampLowVarKl() {
        // ref - lp = 30 is clamped to 20, e^20 - 21 is clamped to 10; no gradient past either clamp.
        KlPenalty k3 = KlPenalty.fromName("low_var_kl");
        assertEquals(10f, k3.apply(t(r(0)), t(r(30))).get(0, 0));
        assertEquals(0f, k3.gradLogProb(t(r(0)), t(r(30))).get(0, 0));
    }

    @Test
    void shouldRejectUnknownAndFullKl() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KlPenalty.fromName("full"));
        assertEquals("unknown kl_penalty: name=full, valid=[kl, k1, abs, mse, k2, low_var_kl, k3, kl+, k1+, abs+, "
                + "mse+, k2+, low_var_kl+, k3+]", e.getMessage());
    }

    @Test
    void shouldSubtractScaledMaskedKlFromScoresAndUpdateController() {
        // kld = (old - ref) * mask = [0.5 0] and [1 0]; beta 0.1: rewards 0 - 0.05, 1 - 0; 0 - 0.1, 2 - 0.
        // current_kl = mean of row means (0.5 / 2, 1 / 1) = 0.625.
        BatchTensor scores = t(r(0, 1), r(0, 2));
        BatchTensor old = t(r(-1, -1), r(-1, -1));
        BatchTensor ref = t(r(-1.5f, -1), r(-2, -3));
        BatchTensor mask = t(r(1, 1), r(1, 0));
        KlController fixed = KlController.fixed(0.1);
        KlRewardResult res = KlRewards.applyKlPenalty(scores, old, ref, mask, fixed, KlPenalty.fromName("kl"));
        assertArrayEquals(new float[] {-0.05f, 1, -0.1f, 2}, res.tokenLevelRewards().toArray(), 1e-7f);
        assertEquals(0.625, res.currentKl(), 1e-6);
        assertEquals(0.1, res.beta(), 0.0);
        assertEquals(0.1, fixed.value(), 0.0);
        // Adaptive, target 0.5, horizon 10: error clip(0.625 / 0.5 - 1, +-0.2) = 0.2 -> 0.1 * (1 + 0.2 * 2 / 10).
        KlController adaptive = KlController.adaptive(0.1, 0.5, 10);
        KlRewardResult a = KlRewards.applyKlPenalty(scores, old, ref, mask, adaptive, KlPenalty.fromName("kl"));
        assertEquals(0.1, a.beta(), 0.0);
        assertEquals(0.104, adaptive.value(), 1e-12);
    }

    @Test
    void shouldPenaliseEveryPositionByK1TimesRatioInComputeRewards() {
        // 1 - (-1 + 1.5) * 0.1 = 0.95; 0 - (-2 + 1) * 0.1 = 0.1.
        BatchTensor r = KlRewards.computeRewards(t(r(1, 0)), t(r(-1, -2)), t(r(-1.5f, -1)), 0.1);
        assertArrayEquals(new float[] {0.95f, 0.1f}, r.toArray(), 1e-7f);
    }

    @Test
    void shouldClipAdaptiveControllerErrorFromBelow() {
        // KL 0 against target 1: error -1 clipped to -0.2; 64 steps over horizon 100: 2 * (1 - 0.128).
        KlController c = KlController.adaptive(2, 1, 100);
        c.update(0, 64);
        assertEquals(2 * (1 - 0.2 * 64 / 100), c.value(), 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KlController.adaptive(0.1, 0.5, 0));
        assertEquals("horizon must be larger than 0: horizon=0.0", e.getMessage());
    }

    @Test
    void shouldAggregateKlLossWithItsGradient() {
        // k3 at x = 0.5 on the one unmasked token: value e^-0.5 - 0.5, gradient 1 - e^-0.5; masked token 0.
        AggregatedLoss l = Losses.klLoss(t(r(-1, -2)), t(r(-1.5f, -9)), t(r(1, 0)), KlPenalty.fromName("low_var_kl"),
                LossAggMode.TOKEN_MEAN, AggOptions.LOCAL);
        assertEquals(Math.exp(-0.5) - 0.5, l.value(), 1e-6);
        assertArrayEquals(new float[] {(float) (1 - Math.exp(-0.5)), 0}, l.gradient().toArray(), 1e-6f);
    }
}
