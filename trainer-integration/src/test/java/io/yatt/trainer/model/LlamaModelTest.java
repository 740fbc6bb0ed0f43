package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * The f32 model against the f64 {@link Reference}: forward values within 1e-5 absolute, and every gradient element
 * against central differences of the reference (step 1e-6 in f64) within {@code 1e-4 + 1e-3 * |fd|}.
 */
class LlamaModelTest {
    static final LlamaConfig CONFIG = new LlamaConfig(8, 12, 4, 2, 2, 11, 1e-5, 10000.0, 64, false);
    static final int PAD = 4;
    static final double FORWARD_TOLERANCE = 1e-5;
    static final double GRAD_ATOL = 1e-4;
    static final double GRAD_RTOL = 1e-3;
    static final double FD_STEP = 1e-6;

    /** Two sequences of 5: the second left-padded by two. */
    static Batch paddedBatch() {
        return new Batch(2, 5, new int[] {3, 7, 1, 10, 4, 0, 0, 9, 2, 5}, new int[] {1, 1, 1, 1, 1, 0, 0, 1, 1, 1});
    }

    @Test
    void shouldMatchTheDoubleReferenceOnLogProbsAndEntropy() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 7, PAD);
        Reference ref = new Reference(CONFIG, Head.LANGUAGE_MODEL, whole, PAD);
        Batch batch = paddedBatch();
        double[][] expected = ref.logProbsAndEntropy(batch, 0.7);
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, whole, null, PAD)) {
            float[] lp = new float[10];
            float[] ent = new float[10];
            model.logProbs(batch, 0.7f, lp, ent);
            for (int i = 0; i < 10; i++) {
                assertEquals(expected[0][i], lp[i], FORWARD_TOLERANCE, "logprob " + i);
                assertEquals(expected[1][i], ent[i], FORWARD_TOLERANCE, "entropy " + i);
            }
            assertEquals(0f, lp[4]);
            assertEquals(0f, lp[9]);
        }
    }

    @Test
    void shouldMatchFiniteDifferencesOfLogProbsAndEntropyForEveryParameter() {
        checkLogProbGradients(CONFIG, 11);
    }

    @Test
    void shouldMatchFiniteDifferencesWithTiedEmbeddings() {
        LlamaConfig tied = new LlamaConfig(8, 12, 4, 2, 1, 11, 1e-5, 500.0, 64, true);
        checkLogProbGradients(tied, 12);
    }

    private static void checkLogProbGradients(LlamaConfig config, long seed) {
        Map<String, float[]> whole = LlamaWeights.random(config, Head.LANGUAGE_MODEL, seed, PAD);
        scaleUp(whole);
        Batch batch = paddedBatch();
        SplittableRandom rng = new SplittableRandom(seed + 1);
        double[] a = new double[10];
        double[] b = new double[10];
        for (int i = 0; i < 10; i++) {
            a[i] = rng.nextDouble() - 0.5;
            b[i] = rng.nextDouble() - 0.5;
        }
        double temperature = 0.9;
        try (LlamaModel model = LlamaModel.create(config, Head.LANGUAGE_MODEL, whole, null, PAD)) {
            float[] lp = new float[10];
            float[] ent = new float[10];
            model.logProbs(batch, (float) temperature, lp, ent);
            float[] da = new float[10];
            float[] db = new float[10];
            for (int i = 0; i < 10; i++) {
                da[i] = (float) a[i];
                db[i] = (float) b[i];
            }
            model.backwardLogProbs(da, db);
            compareWithFiniteDifferences(model, config, Head.LANGUAGE_MODEL, whole, ref -> {
                double[][] r = ref.logProbsAndEntropy(batch, temperature);
                double loss = 0;
                for (int i = 0; i < 10; i++) {
                    loss += a[i] * r[0][i] + b[i] * r[1][i];
                }
                return loss;
            });
        }
    }

    @Test
    void shouldMatchFiniteDifferencesOfValues() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.VALUE, 21, PAD);
        scaleUp(whole);
        Batch batch = paddedBatch();
        double[] a = new double[10];
        float[] da = new float[10];
        for (int i = 0; i < 10; i++) {
            a[i] = 0.1 * (i - 4);
            da[i] = (float) a[i];
        }
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.VALUE, whole, null, PAD)) {
            float[] v = new float[10];
            model.values(batch, v);
            double[] expected = new Reference(CONFIG, Head.VALUE, whole, PAD).values(batch);
            for (int i = 0; i < 10; i++) {
                assertEquals(expected[i], v[i], FORWARD_TOLERANCE, "value " + i);
            }
            model.backwardValues(da);
            compareWithFiniteDifferences(model, CONFIG, Head.VALUE, whole, ref -> {
                double[] r = ref.values(batch);
                double loss = 0;
                for (int i = 0; i < 10; i++) {
                    loss += a[i] * r[i];
                }
                return loss;
            });
        }
    }

    @Test
    void shouldMatchFiniteDifferencesOfRewardsAtTheLastRealToken() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.REWARD, 31, PAD);
        scaleUp(whole);
        // first sequence right-padded (last real token at t=2), second left-padded (last at t=4)
        Batch batch = new Batch(2, 5, new int[] {3, 7, 1, 0, 0, 0, 0, 9, 2, 5},
                new int[] {1, 1, 1, 0, 0, 0, 0, 1, 1, 1});
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.REWARD, whole, null, PAD)) {
            float[] r = new float[2];
            model.rewards(batch, r);
            double[] values = new Reference(CONFIG, Head.REWARD, whole, PAD).values(batch);
            assertEquals(values[2], r[0], FORWARD_TOLERANCE);
            assertEquals(values[9], r[1], FORWARD_TOLERANCE);
            model.backwardRewards(new float[] {0.5f, -1.5f});
            compareWithFiniteDifferences(model, CONFIG, Head.REWARD, whole, ref -> {
                double[] v = ref.values(batch);
                return 0.5 * v[2] - 1.5 * v[9];
            });
        }
    }

    @Test
    void shouldRejectTokenOutsideVocab() {
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL,
                LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1, PAD), null, PAD)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.logProbs(Batch.single(1, 11), 1f, new float[2], null));
            assertEquals("token id out of range: token=11, vocab=11, index=1", e.getMessage());
        }
    }

    @Test
    void shouldRejectMisshapedParameter() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1, PAD);
        whole.put("layers.1.mlp.down_proj.weight", new float[95]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, whole, null, PAD));
        assertEquals("parameter misshaped: name=layers.1.mlp.down_proj.weight, numel=95, expected=96 [8, 12]",
                e.getMessage());
    }

    @Test
    void shouldRejectMissingParameter() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1, PAD);
        whole.remove("norm.weight");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, whole, null, PAD));
        assertEquals("missing parameter: name=norm.weight", e.getMessage());
    }

    @Test
    void shouldRejectAMisshapedTensorFromTheEngine() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1, PAD);
        try (io.yatt.tensor.Allocator alloc = io.yatt.tensor.Allocator.root("test")) {
            Map<String, io.yatt.tensor.Tensor> tensors = new java.util.LinkedHashMap<>();
            for (Map.Entry<String, float[]> e : whole.entrySet()) {
                tensors.put(e.getKey(), io.yatt.tensor.Tensor.allocate(alloc, io.yatt.tensor.DType.F32,
                        io.yatt.tensor.Shape.of(e.getValue().length), io.yatt.tensor.Device.host()));
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LlamaModel.fromTensors(CONFIG, Head.LANGUAGE_MODEL, tensors, null, PAD));
            assertEquals("parameter misshaped: name=embed_tokens.weight, shape=" + io.yatt.tensor.Shape.of(96)
                    + ", expected=[12, 8]", e.getMessage());
            tensors.values().forEach(io.yatt.tensor.Tensor::close);
        }
    }

    @Test
    void shouldRejectBackwardWithoutForward() {
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL,
                LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1, PAD), null, PAD)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> model.backwardLogProbs(new float[2], null));
            assertEquals("backward without its forward: expected a logProbs call first, last=NONE", e.getMessage());
        }
    }

    /** Larger weights than the 0.02 init, so that every path carries gradient well above f32 rounding. */
    static void scaleUp(Map<String, float[]> whole) {
        for (Map.Entry<String, float[]> e : whole.entrySet()) {
            if (!e.getKey().endsWith("norm.weight")) {
                float[] w = e.getValue();
                for (int i = 0; i < w.length; i++) {
                    w[i] *= 20f;
                }
            }
        }
    }

    static void compareWithFiniteDifferences(LlamaModel model, LlamaConfig config, Head head,
                                             Map<String, float[]> whole, ToDoubleFunction<Reference> loss) {
        Reference ref = new Reference(config, head, whole, PAD);
        int checked = 0;
        for (Parameter p : model.parameters()) {
            double[] w = ref.w.get(p.name());
            for (int i = 0; i < w.length; i++) {
                double saved = w[i];
                w[i] = saved + FD_STEP;
                double up = loss.applyAsDouble(ref);
                w[i] = saved - FD_STEP;
                double downValue = loss.applyAsDouble(ref);
                w[i] = saved;
                double fd = (up - downValue) / (2 * FD_STEP);
                double g = p.grad()[i];
                assertTrue(Math.abs(g - fd) <= GRAD_ATOL + GRAD_RTOL * Math.abs(fd),
                        "gradient of " + p.name() + "[" + i + "]: analytic=" + g + ", finite difference=" + fd);
                checked++;
            }
        }
        assertTrue(checked > 500, "checked " + checked);
    }
}
