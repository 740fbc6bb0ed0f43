package io.yatt.trainer.algo;

import static io.yatt.trainer.algo.TensorFunctionsTest.r;
import static io.yatt.trainer.algo.TensorFunctionsTest.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LossesTest {

    @Test
    void shouldTakeTheLargerOfClippedAndUnclippedValueErrors() {
        // cliprange 0.2. t0: v = 1.5 clipped to 1.2 around old 1.0; (1.5 - 2)^2 = 0.25 < (1.2 - 2)^2 = 0.64 -> 0.64,
        // clipped, no gradient (clip_by_value passes none outside the band).
        // t1: v = 0.1 inside [-0.2, 0.2]: both 0.81, gradient 2 (0.1 - 1) = -1.8.
        // vf_loss = 0.5 * (0.64 + 0.81) / 2; d/dv t1 = 0.5 * 1/2 * -1.8.
        ValueLossResult res = Losses.valueLoss(t(r(1.5f, 0.1f)), t(r(2, 1)), t(r(1, 0)), t(r(1, 1)), 0.2,
                LossAggMode.TOKEN_MEAN, AggOptions.LOCAL);
        assertEquals(0.5 * (0.64 + 0.81) / 2, res.vfLoss(), 1e-6);
        assertEquals(0.5, res.vfClipfrac(), 1e-7);
        assertArrayEquals(new float[] {0, -0.45f}, res.gradValuePreds().toArray(), 1e-6f);
    }

    @Test
    void shouldMatchFiniteDifferencesForValueLoss() {
        BatchTensor v = t(r(0.3f, 1.7f, -0.4f), r(0.9f, 0.2f, 5));
        BatchTensor ret = t(r(1, 1, 0), r(0.5f, 0.6f, 0));
        BatchTensor old = t(r(0.35f, 1.0f, -0.1f), r(0.8f, 0.7f, 0));
        BatchTensor mask = t(r(1, 1, 1), r(1, 1, 0));
        float[] analytic = Losses.valueLoss(v, ret, old, mask, 0.2, LossAggMode.SEQ_MEAN_TOKEN_SUM, AggOptions.LOCAL)
                .gradValuePreds().toArray();
        float[] x = v.toArray();
        float h = 1e-3f;
        for (int i = 0; i < x.length; i++) {
            float keep = x[i];
            x[i] = keep + h;
            double up = Losses.valueLoss(BatchTensor.of(2, 3, x), ret, old, mask, 0.2,
                    LossAggMode.SEQ_MEAN_TOKEN_SUM, AggOptions.LOCAL).vfLoss();
            x[i] = keep - h;
            double down = Losses.valueLoss(BatchTensor.of(2, 3, x), ret, old, mask, 0.2,
                    LossAggMode.SEQ_MEAN_TOKEN_SUM, AggOptions.LOCAL).vfLoss();
            x[i] = keep;
            assertEquals((up - down) / (2 * h), analytic[i], 2e-3, "element " + i);
        }
    }

    @Test
    void shouldAggregateEntropyAndDifferentiateItThroughTheSoftmax() {
        // One token, logits 0, ln 3: p = 1/4, 3/4, H = ln 4 - 3/4 ln 3;
        // dH/dz_j = -p_j (z_j - E[z]) with E[z] = 3/4 ln 3: +3/16 ln 3, -3/16 ln 3.
        float[] logits = {0, (float) Math.log(3)};
        float[] grad = new float[2];
        double h = Losses.entropyLossFromLogits(logits, 2, t(r(1)), LossAggMode.TOKEN_MEAN, AggOptions.LOCAL, grad);
        assertEquals(Math.log(4) - 0.75 * Math.log(3), h, 1e-6);
        assertArrayEquals(new float[] {(float) (3.0 / 16 * Math.log(3)), (float) (-3.0 / 16 * Math.log(3))}, grad,
                1e-6f);
        AggregatedLoss fromEntropies = Losses.entropyLoss(t(r(1, 3)), t(r(1, 1)), LossAggMode.TOKEN_MEAN,
                AggOptions.LOCAL);
        assertEquals(2.0, fromEntropies.value(), 1e-7);
    }

    @Test
    void shouldMatchFiniteDifferencesForEntropyLogitGradient() {
        // Two tokens of vocab 3 (the second masked, so its gradient is 0), seq-mean-token-mean.
        float[] logits = {0.3f, -1.2f, 2.0f, 5, 5, 5};
        BatchTensor mask = TensorFunctionsTest.t(TensorFunctionsTest.r(1, 0));
        float[] grad = new float[6];
        Losses.entropyLossFromLogits(logits, 3, mask, LossAggMode.SEQ_MEAN_TOKEN_MEAN, AggOptions.LOCAL, grad);
        float h = 1e-3f;
        for (int i = 0; i < logits.length; i++) {
            float keep = logits[i];
            logits[i] = keep + h;
            double up = Losses.entropyLossFromLogits(logits, 3, mask, LossAggMode.SEQ_MEAN_TOKEN_MEAN,
                    AggOptions.LOCAL, new float[6]);
            logits[i] = keep - h;
            double down = Losses.entropyLossFromLogits(logits, 3, mask, LossAggMode.SEQ_MEAN_TOKEN_MEAN,
                    AggOptions.LOCAL, new float[6]);
            logits[i] = keep;
            assertEquals((up - down) / (2 * h), grad[i], 1e-3, "logit " + i);
        }
    }

    @Test
    void shouldRejectNegativeValueClipRange() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Losses.valueLoss(t(r(0)),
                t(r(0)), t(r(0)), t(r(1)), -0.1, LossAggMode.TOKEN_MEAN, AggOptions.LOCAL));
        assertEquals("cliprange_value must be non-negative: cliprangeValue=-0.1", e.getMessage());
    }
}
