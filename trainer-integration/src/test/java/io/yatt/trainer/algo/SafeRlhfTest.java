package io.yatt.trainer.algo;

import static io.yatt.trainer.algo.TensorFunctionsTest.r;
import static io.yatt.trainer.algo.TensorFunctionsTest.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SafeRlhfTest {

    @Test
    void shouldRunGaeOnCostsWithoutWhitening() {
        // gamma = lam = 1, costs 0 1, cost values 0.5 0.25:
        // t1: delta = 1 - 0.25 = 0.75 -> A = 0.75; t0: delta = 0.25 - 0.5 = -0.25 -> A = -0.25 + 0.75 = 0.5.
        // returns = A + V = 1.0 1.0.
        AdvantageResult res = SafeRlhf.costAdvantages(t(r(0, 1)), t(r(0.5f, 0.25f)), t(r(1, 1)), 1, 1, false);
        assertArrayEquals(new float[] {0.5f, 0.75f}, res.advantages().toArray(), 1e-6f);
        assertArrayEquals(new float[] {1, 1}, res.returns().toArray(), 1e-6f);
        // Whitened: mean 0.625, unbiased var ((-0.125)^2 + 0.125^2) / 1 = 0.03125.
        AdvantageResult w = SafeRlhf.costAdvantages(t(r(0, 1)), t(r(0.5f, 0.25f)), t(r(1, 1)), 1, 1, true);
        float sd = (float) Math.sqrt(0.03125 + 1e-8);
        assertArrayEquals(new float[] {-0.125f / sd, 0.125f / sd}, w.advantages().toArray(), 1e-5f);
    }

    @Test
    void shouldCombineRewardAndCostAdvantagesByLambda() {
        // (A_r - lambda A_c) / (1 + lambda) with lambda 1: (1 - 0.5) / 2, (0 - 2) / 2.
        BatchTensor a = SafeRlhf.combinedAdvantages(t(r(1, 0)), t(r(0.5f, 2)), 1.0);
        assertArrayEquals(new float[] {0.25f, -1}, a.toArray(), 1e-7f);
    }

    @Test
    void shouldRaiseLambdaWhenCostExceedsThresholdAndCapIt() {
        // log lambda 0, lr 0.1, threshold 0.5: cost 1.5 -> log lambda += 0.1 * 1.0 * e^0 -> lambda = e^0.1.
        LagrangeMultiplier m = LagrangeMultiplier.create(1.0, 0.1, 0.5, Double.POSITIVE_INFINITY);
        assertEquals(Math.exp(0.1), m.update(new double[] {1, 2}), 1e-12);
        // Cost at the threshold: no change. Cost 0: log lambda -= 0.1 * 0.5 * e^0.1.
        assertEquals(Math.exp(0.1), m.update(0.5), 1e-12);
        assertEquals(Math.exp(0.1 - 0.05 * Math.exp(0.1)), m.update(0.0), 1e-12);
        LagrangeMultiplier capped = LagrangeMultiplier.create(1.0, 1.0, 0.0, 1.05);
        assertEquals(1.05, capped.update(10.0), 1e-12);
    }

    @Test
    void shouldRejectNonPositiveInitialLambdaAndNonFiniteCost() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LagrangeMultiplier.create(0, 0.1, 0.5, 10));
        assertEquals("initial lambda must be positive and finite: initLambda=0.0", e.getMessage());
        LagrangeMultiplier m = LagrangeMultiplier.create(2.0, 0.1, 0.5, 10);
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class, () -> m.update(Double.NaN));
        assertEquals("mean episode cost must be finite: meanEpisodeCost=NaN", nan.getMessage());
        assertEquals(2.0, m.lambda(), 1e-12);
    }

    @Test
    void shouldRestoreLogLambdaBitForBitAndContinueLikeTheOriginal() {
        LagrangeMultiplier a = LagrangeMultiplier.create(1.0, 0.05, 0.1, Double.MAX_VALUE);
        a.update(0.35);
        a.update(0.2);
        LagrangeMultiplier b = LagrangeMultiplier.restore(a.logLambda(), 0.05, 0.1, Double.MAX_VALUE);
        assertEquals(Double.doubleToRawLongBits(a.logLambda()), Double.doubleToRawLongBits(b.logLambda()));
        // by hand: log 1 = 0; + 0.05 * 0.25 * 1 = 0.0125; + 0.05 * 0.1 * exp(0.0125)
        assertEquals(0.0125 + 0.005 * Math.exp(0.0125), a.logLambda(), 1e-15);
        assertEquals(Double.doubleToRawLongBits(a.update(0.05)), Double.doubleToRawLongBits(b.update(0.05)));
    }

    @Test
    void shouldRejectASavedLogLambdaAboveTheCapOrNotFinite() {
        assertEquals("saved log lambda is above log(lambdaMax): logLambda=1.0, lambdaMax=2.0",
                assertThrows(IllegalArgumentException.class,
                        () -> LagrangeMultiplier.restore(1.0, 0.05, 0.1, 2.0)).getMessage());
        assertEquals("saved log lambda must be finite: logLambda=NaN", assertThrows(IllegalArgumentException.class,
                () -> LagrangeMultiplier.restore(Double.NaN, 0.05, 0.1, 2.0)).getMessage());
    }
}
