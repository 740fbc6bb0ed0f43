package io.yatt.trainer.algo;

import static io.yatt.trainer.algo.TensorFunctionsTest.r;
import static io.yatt.trainer.algo.TensorFunctionsTest.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

class PolicyLossesTest {

    private static final PolicyLossConfig CFG = PolicyLossConfig.DEFAULTS;
    private static final float LN = (float) Math.log(1.5);

    private static float ln(double x) {
        return (float) Math.log(x);
    }

    @Test
    void shouldClipAndDualClipVanillaPpo() {
        // clip 0.2, c = 3, old = 0 so lp = log ratio. Tokens:
        // t0 A=+1 r=1.5: max(-1.5, -1.2) = -1.2, clipped, no gradient.
        // t1 A=+1 r=1.1: -1.1 both sides, gradient -A r = -1.1.
        // t2 A=-1 r=0.5: max(0.5, 0.8) = 0.8, clipped; min(3, 0.8) = 0.8, no gradient.
        // t3 A=-1 r=4: max(4, 1.2) = 4 > -A c = 3 -> dual clip to 3, no gradient.
        // t4 masked.
        PolicyLossInput in = PolicyLossInput.of(t(r(0, 0, 0, 0, 0)), t(r(LN, ln(1.1), ln(0.5), ln(4), 2)),
                t(r(1, 1, -1, -1, 5)), t(r(1, 1, 1, 1, 0)));
        PolicyLossResult res = PolicyLosses.vanilla(in, LossAggMode.TOKEN_MEAN, CFG);
        assertEquals((-1.2 - 1.1 + 0.8 + 3) / 4, res.pgLoss(), 1e-6);
        assertEquals(0.5, res.pgClipfrac(), 1e-7);
        assertEquals(0.25, res.pgClipfracLower(), 1e-7);
        assertEquals(-Math.log(1.5 * 1.1 * 0.5 * 4) / 4, res.ppoKl(), 1e-6);
        assertArrayEquals(new float[] {0, -1.1f / 4, 0, 0, 0}, res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldUseAsymmetricClipRatios() {
        // clip-higher: low 0.2, high 0.28; r = 1.25 with A=+1 is inside [0.8, 1.28]: unclipped -1.25.
        PolicyLossInput in = PolicyLossInput.of(t(r(0)), t(r(ln(1.25))), t(r(1)), t(r(1)));
        PolicyLossResult res = PolicyLosses.vanilla(in, LossAggMode.TOKEN_MEAN, CFG.withClipRatios(0.2, 0.28));
        assertEquals(-1.25, res.pgLoss(), 1e-6);
        assertEquals(0.0, res.pgClipfrac(), 0.0);
    }

    // DPPO tokens (p_old -> p, A): 0.5 -> 0.6 (+1), 0.3 -> 0.6 (+1), 0.5 -> 0.2 (-1), 0.1 -> 0.4 (-2).
    private static final PolicyLossInput DPPO = PolicyLossInput.of(t(r(ln(0.5), ln(0.3), ln(0.5), ln(0.1))),
            t(r(ln(0.6), ln(0.6), ln(0.2), ln(0.4))), t(r(1, 1, -1, -2)), t(r(1, 1, 1, 1)));

    @Test
    void shouldDropTokensOutsideTheTotalVariationRegionForDppoTv() {
        // p - p_old = 0.1 (valid), 0.3 > 0.2 (out), -0.3 < -0.2 (out), 0.3 >= -0.2 (valid).
        // t0: r = 1.2, L = -1 * 1.2 * ln 0.6, dL/dlp = -1.2. t3: r = 4 truncated to c = 3, L = 6 ln 0.4, dL = 6.
        PolicyLossResult res = PolicyLosses.dppoTv(DPPO, LossAggMode.TOKEN_MEAN, CFG);
        assertEquals((-1.2 * Math.log(0.6) + 6 * Math.log(0.4)) / 4, res.pgLoss(), 1e-6);
        assertEquals(0.5, res.pgClipfrac(), 1e-7);
        assertEquals(0.25, res.pgClipfracLower(), 1e-7);
        assertArrayEquals(new float[] {-0.3f, 0, 0, 1.5f}, res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldUseBinaryKlRegionForDppoKl() {
        // t1: kl = 0.3 ln(0.3/0.6) + 0.7 ln(0.7/0.4) = 0.1838 <= 0.2 -> valid now: L = -2 ln 0.6, dL = -2.
        // t2: kl = 0.5 ln(0.5/0.2) + 0.5 ln(0.5/0.8) = 0.2231 > 0.2 and p < p_old -> still out.
        PolicyLossResult res = PolicyLosses.dppoKl(DPPO, LossAggMode.TOKEN_MEAN, CFG);
        assertEquals((-1.2 * Math.log(0.6) - 2 * Math.log(0.6) + 6 * Math.log(0.4)) / 4, res.pgLoss(), 1e-6);
        assertEquals(0.25, res.pgClipfrac(), 1e-7);
        assertArrayEquals(new float[] {-0.3f, -0.5f, 0, 1.5f}, res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldUseSequenceRatioAndSeqMeanTokenMeanForGspo() {
        // Row 0: log ratios 0.1 0.3 -> s = e^0.2 = 1.2214 > 1.2, A=+1: max(-1.2214, -1.2) = -1.2 (clipped, no grad).
        // Row 1: log ratios 0.1 [5 masked] -> s = e^0.1, A=-1: L = e^0.1 on both tokens, unclipped.
        // seq-mean-token-mean even though token-mean is passed: (-1.2 + e^0.1) / 2.
        PolicyLossInput in = PolicyLossInput.of(t(r(0, 0), r(0, 0)), t(r(0.1f, 0.3f), r(0.1f, 5)),
                t(r(1, 1), r(-1, -1)), t(r(1, 1), r(1, 0)));
        PolicyLossResult res = PolicyLosses.gspo(in, LossAggMode.TOKEN_MEAN, CFG);
        double s1 = Math.exp(0.1);
        assertEquals((-1.2 + s1) / 2, res.pgLoss(), 1e-6);
        assertEquals(2.0 / 3, res.pgClipfrac(), 1e-7);
        assertEquals(-0.5 / 3, res.ppoKl(), 1e-6);
        // d/dlp of row 1 token 0: -A * s * (1/2 rows) * (1/1 token).
        assertArrayEquals(new float[] {0, 0, (float) (s1 / 2), 0}, res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldGateSapoBySigmoidWithSignDependentTemperature() {
        // r = 1: sigmoid(0) = 1/2. A=+1, tau 1: gate 2, L = -2. A=-1, tau 1.05: L = 2 / 1.05.
        // dL/dlp = -A * 4 * sigma (1 - sigma) * r = -A; seq-mean-token-mean over one row of two: / 2.
        PolicyLossInput in = PolicyLossInput.of(t(r(-1, -1)), t(r(-1, -1)), t(r(1, -1)), t(r(1, 1)));
        PolicyLossResult res = PolicyLosses.sapo(in, LossAggMode.TOKEN_MEAN, CFG);
        assertEquals((-2 + 2 / 1.05) / 2, res.pgLoss(), 1e-6);
        assertArrayEquals(new float[] {-0.5f, 0.5f}, res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldWeightLogProbByAdvantageForGpgAndReinforce() {
        // GPG: L = -lp A = 1, -2 -> token-mean -0.5, gradient -A / 2.
        PolicyLossInput in = PolicyLossInput.of(t(r(-1.5f, -2)), t(r(-1, -2)), t(r(1, -1)), t(r(1, 1)));
        PolicyLossResult gpg = PolicyLosses.gpg(in, LossAggMode.TOKEN_MEAN, CFG);
        assertEquals(-0.5, gpg.pgLoss(), 1e-7);
        assertArrayEquals(new float[] {-0.5f, 0.5f}, gpg.gradLogProb().toArray(), 1e-7f);
        // REINFORCE with A = 2 1, lp = -1 -3: L = 2 3, seq-mean-token-sum of one row = 5; ppo_kl = mean(old - lp).
        PolicyLossInput rin = PolicyLossInput.of(t(r(-1.5f, -3)), t(r(-1, -3)), t(r(2, 1)), t(r(1, 1)));
        PolicyLossResult re = PolicyLosses.reinforce(rin, LossAggMode.SEQ_MEAN_TOKEN_SUM, CFG);
        assertEquals(5.0, re.pgLoss(), 1e-6);
        assertEquals(-0.25, re.ppoKl(), 1e-7);
        assertArrayEquals(new float[] {-2, -1}, re.gradLogProb().toArray(), 1e-7f);
        // Rollout weights 0.5 1 scale loss and gradient per token: 1 + 3 = 4.
        PolicyLossResult weighted = PolicyLosses.reinforce(rin.withRolloutIsWeights(t(r(0.5f, 1))),
                LossAggMode.SEQ_MEAN_TOKEN_SUM, CFG);
        assertEquals(4.0, weighted.pgLoss(), 1e-6);
        assertArrayEquals(new float[] {-1, -1}, weighted.gradLogProb().toArray(), 1e-7f);
    }

    @Test
    void shouldStopGradientThroughClippedRatioForCispo() {
        // t0: r = 2 -> clip 1.2, lp = -0.5, A = 1: L = -1.2 * 1 * -0.5 = 0.6, dL/dlp = -1.2.
        // t1: r = 1, lp = -2, A = 2: L = 4, dL/dlp = -2. token-mean 2.3.
        PolicyLossInput in = PolicyLossInput.of(t(r(-0.5f - ln(2), -2)), t(r(-0.5f, -2)), t(r(1, 2)), t(r(1, 1)));
        PolicyLossResult res = PolicyLosses.cispo(in, LossAggMode.TOKEN_MEAN, CFG);
        assertEquals(2.3, res.pgLoss(), 1e-6);
        assertEquals(0.5, res.pgClipfrac(), 1e-7);
        assertArrayEquals(new float[] {-0.6f, -1.0f}, res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldAverageClippedLogRatiosGeometricallyForGeoMean() {
        // Row 0: A=+1, x = 0.1 0.5 -> min(x, clamp(x)) = 0.1 0.2 -> ratio e^0.15, L = -e^0.15.
        // Row 1: A=-1, x = -0.5 0.1 -> -min(-x, -clamp(x)) = -0.2 0.1 -> ratio e^-0.05, adv -1, L = e^-0.05.
        // Loss = plain mean over rows. Only unclamped tokens carry gradient: -adv * ratio / len / rows.
        PolicyLossInput in = PolicyLossInput.of(t(r(0, 0), r(0, 0)), t(r(0.1f, 0.5f), r(-0.5f, 0.1f)),
                t(r(1, 1), r(-1, -1)), t(r(1, 1), r(1, 1)));
        PolicyLossResult res = PolicyLosses.geoMean(in, LossAggMode.TOKEN_MEAN, CFG);
        assertEquals((-Math.exp(0.15) + Math.exp(-0.05)) / 2, res.pgLoss(), 1e-6);
        assertEquals(0.25, res.pgClipfrac(), 1e-7);
        assertEquals(0.25, res.pgClipfracLower(), 1e-7);
        assertArrayEquals(new float[] {(float) (-Math.exp(0.15) / 4), 0, 0, (float) (Math.exp(-0.05) / 4)},
                res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldAddKlTermOnTheLargestCovarianceTokensForKlCov() {
        // A = 1 -1 1, lp = -1 -2 -0.5, old = -1 -1.5 -1 -> x = 0 -0.5 0.5. Means: A 1/3, lp -7/6.
        // cov = 1/9, 10/9, 4/9 -> one token (max(1, floor(3 * 0.0002))) gets + 0.1 |x|: t1.
        PolicyLossInput in = PolicyLossInput.of(t(r(-1, -1.5f, -1)), t(r(-1, -2, -0.5f)), t(r(1, -1, 1)),
                t(r(1, 1, 1)));
        PolicyLossResult res = PolicyLosses.klCov(in, LossAggMode.TOKEN_MEAN, CFG);
        double e = Math.exp(0.5);
        assertEquals((-1 + 1 / e + 0.05 - e) / 3, res.pgLoss(), 1e-6);
        assertEquals(1.0 / 3, res.ppoKl(), 1e-6);
        assertArrayEquals(new float[] {-1f / 3, (float) ((1 / e - 0.1) / 3), (float) (-e / 3)},
                res.gradLogProb().toArray(), 1e-6f);
    }

    @Test
    void shouldCutTokensWithCovarianceInsideTheBandForClipCov() {
        // r = 1 everywhere (no PPO clipping). A = 2 -2 0, lp = -0.5 -1.5 -2.5: means 0 and -1.5, so
        // cov = 2, 0, 0; with the band (0.5, 5) only t0 qualifies and clip_num = 1 cuts it.
        // L = 0 (cut), 2, 0 -> token-mean 2/3; gradient of t1 = -A r / 3.
        PolicyLossInput in = PolicyLossInput.of(t(r(-0.5f, -1.5f, -2.5f)), t(r(-0.5f, -1.5f, -2.5f)),
                t(r(2, -2, 0)), t(r(1, 1, 1)));
        PolicyLossResult res = PolicyLosses.clipCov(in, LossAggMode.TOKEN_MEAN, CFG.withClipCov(0.0002, 0.5, 5, 42));
        assertEquals(2.0 / 3, res.pgLoss(), 1e-6);
        assertEquals(1.0 / 3, res.pgClipfrac(), 1e-7);
        assertArrayEquals(new float[] {0, 2f / 3, 0}, res.gradLogProb().toArray(), 1e-6f);
    }

    private static float[] numericGrad(BatchTensor lp, ToDoubleFunction<BatchTensor> f) {
        float[] x = lp.toArray();
        float[] g = new float[x.length];
        float h = 1e-3f;
        for (int i = 0; i < x.length; i++) {
            float keep = x[i];
            x[i] = keep + h;
            double up = f.applyAsDouble(BatchTensor.of(lp.batch(), lp.seq(), x));
            x[i] = keep - h;
            double down = f.applyAsDouble(BatchTensor.of(lp.batch(), lp.seq(), x));
            x[i] = keep;
            g[i] = (float) ((up - down) / (2 * h));
        }
        return g;
    }

    @Test
    void shouldMatchFiniteDifferencesAwayFromKinks() {
        // Log ratios away from the clip bounds, one masked token, seq-mean-token-mean weights.
        BatchTensor old = t(r(-1, -1, -1), r(-1, -1, -1));
        BatchTensor lp = t(r(-0.9f, -1.5f, -0.7f), r(-1.05f, -0.6f, -1));
        BatchTensor adv = t(r(1.5f, -0.5f, 2), r(-1, 0.7f, 3));
        BatchTensor mask = t(r(1, 1, 1), r(1, 1, 0));
        for (String name : new String[] {"vanilla", "sapo", "gpg", "reinforce", "geo_mean", "kl_cov"}) {
            PolicyLoss loss = AlgorithmRegistry.policyLoss(name);
            ToDoubleFunction<BatchTensor> f = x -> loss.compute(PolicyLossInput.of(old, x, adv, mask),
                    LossAggMode.SEQ_MEAN_TOKEN_MEAN, CFG).pgLoss();
            float[] analytic = loss.compute(PolicyLossInput.of(old, lp, adv, mask), LossAggMode.SEQ_MEAN_TOKEN_MEAN,
                    CFG).gradLogProb().toArray();
            assertArrayEquals(numericGrad(lp, f), analytic, 2e-3f, name);
        }
    }

    @Test
    void shouldRejectUnknownPolicyLossListingValidNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AlgorithmRegistry.policyLoss("ppo"));
        assertEquals("unknown policy loss: name=ppo, valid=[cispo, clip_cov, dppo_kl, dppo_tv, geo_mean, gpg, gspo, "
                + "kl_cov, reinforce, sapo, vanilla]", e.getMessage());
    }

    @Test
    void shouldRejectDualClipBoundNotAboveOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CFG.withClipRatioC(1.0));
        assertEquals("dual-clip bound must be greater than 1: clipRatioC=1.0", e.getMessage());
    }

    @Test
    void shouldRejectMisshapedAdvantages() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PolicyLossInput.of(t(r(0, 0)), t(r(0, 0)), t(r(0)), t(r(1, 1))));
        assertEquals("shape mismatch: advantages=[1, 1], logProb=[1, 2]", e.getMessage());
    }
}
