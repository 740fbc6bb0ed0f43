package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class AdamWTest {

    @Test
    void shouldFollowTorchAdamWFormulaForTwoSteps() {
        Parameter p = new Parameter("w", new float[] {1f, -2f}, false);
        AdamW opt = AdamW.create(List.of(p), new AdamW.Settings(0.9, 0.99, 1e-8, 0.1));
        double[] w = {1, -2};
        double[] m = new double[2];
        double[] v = new double[2];
        double[][] grads = {{0.5, -1}, {0.25, 2}};
        double lr = 0.01;
        for (int t = 1; t <= 2; t++) {
            p.grad()[0] = (float) grads[t - 1][0];
            p.grad()[1] = (float) grads[t - 1][1];
            opt.step(lr);
            for (int i = 0; i < 2; i++) {
                double g = grads[t - 1][i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.99 * v[i] + 0.01 * g * g;
                w[i] *= 1 - lr * 0.1;
                double mHat = m[i] / (1 - Math.pow(0.9, t));
                double vHat = v[i] / (1 - Math.pow(0.99, t));
                w[i] -= lr * mHat / (Math.sqrt(vHat) + 1e-8);
            }
        }
        assertEquals(w[0], p.data()[0], 1e-6);
        assertEquals(w[1], p.data()[1], 1e-6);
        assertEquals(2, opt.steps());
    }

    @Test
    void shouldRejectStateOfOtherParameters(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        Parameter a = new Parameter("a", new float[3], false);
        AdamW.create(List.of(a), AdamW.Settings.DEFAULT).save(dir.resolve("opt.safetensors"));
        AdamW other = AdamW.create(List.of(new Parameter("a", new float[4], false)), AdamW.Settings.DEFAULT);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> other.load(dir.resolve("opt.safetensors")));
        assertEquals("optimizer state misshaped: name=exp_avg.a, dtype=F32, numel=3, expected F32 x 4, file="
                + dir.resolve("opt.safetensors"), e.getMessage());
        AdamW renamed = AdamW.create(List.of(new Parameter("b", new float[3], false)), AdamW.Settings.DEFAULT);
        e = assertThrows(IllegalArgumentException.class, () -> renamed.load(dir.resolve("opt.safetensors")));
        assertEquals("missing optimizer state: name=exp_avg.b, file=" + dir.resolve("opt.safetensors"),
                e.getMessage());
    }

    @Test
    void shouldRejectNegativeWeightDecay() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AdamW.Settings(0.9, 0.999, 1e-8, -0.5));
        assertEquals("weight decay must be non-negative: weightDecay=-0.5", e.getMessage());
    }

    @Test
    void shouldFollowWarmupThenCosineToTheFloor() {
        LrSchedule s = new LrSchedule.WarmupCosine(1.0, 10, 110, 0.1);
        assertEquals(0.0, s.lr(0), 1e-12);
        assertEquals(0.5, s.lr(5), 1e-12);
        assertEquals(1.0, s.lr(10), 1e-12);
        assertEquals(0.1 + 0.9 * 0.5, s.lr(60), 1e-12);
        assertEquals(0.1, s.lr(110), 1e-12);
        assertEquals(0.1, s.lr(500), 1e-12);
        assertEquals(3e-4, new LrSchedule.Constant(3e-4).lr(77), 0);
    }

    @Test
    void shouldRejectWarmupNotBeforeTotal() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LrSchedule.WarmupCosine(1.0, 10, 10, 0.0));
        assertEquals("need 0 <= warmupSteps < totalSteps: warmupSteps=10, totalSteps=10", e.getMessage());
    }
}
