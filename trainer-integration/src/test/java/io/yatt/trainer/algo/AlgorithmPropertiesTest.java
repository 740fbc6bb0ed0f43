package io.yatt.trainer.algo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Identities that follow from the formulas, checked on random batches with random padding. */
class AlgorithmPropertiesTest {

    /** A batch of values in [-5, 5] with a 0/1 mask that keeps at least two tokens unmasked. */
    record Batch(BatchTensor values, BatchTensor mask) {
    }

    @Provide
    Arbitrary<Batch> batches() {
        Arbitrary<Integer> batch = Arbitraries.integers().between(1, 5);
        Arbitrary<Integer> seq = Arbitraries.integers().between(2, 6);
        return Combinators.combine(batch, seq, Arbitraries.longs()).as((b, s, seed) -> {
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
            float[] v = new float[b * s];
            float[] m = new float[b * s];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (random.nextDouble() * 10 - 5);
                m[i] = random.nextInt(3) == 0 ? 0f : 1f;
            }
            m[0] = 1f;
            m[v.length - 1] = 1f;
            return new Batch(BatchTensor.of(b, s, v), BatchTensor.of(b, s, m));
        });
    }

    @Property(tries = 200)
    void whitenedValuesHaveZeroMaskedMeanAndVarianceVarOverVarPlusEpsilon(@ForAll("batches") Batch x) {
        // (x - mu) / sqrt(var + 1e-8) has masked mean 0 and unbiased masked variance var / (var + 1e-8).
        double var = TensorFunctions.maskedVar(x.values(), x.mask(), true);
        BatchTensor w = TensorFunctions.maskedWhiten(x.values(), x.mask(), true);
        assertEquals(0.0, TensorFunctions.maskedMean(w, x.mask()), 1e-5);
        assertEquals(var / (var + 1e-8), TensorFunctions.maskedVar(w, x.mask(), true), 1e-4);
    }

    @Property(tries = 200)
    void everyAggregationIsTheGradientWeightedSumOfTheLossMatrix(@ForAll("batches") Batch x) {
        // Each mode is linear in L, so value = sum_i (d value / d L_i) * L_i.
        for (LossAggMode mode : LossAggMode.values()) {
            AggregatedLoss a = mode.aggregate(x.values(), x.mask());
            double weighted = 0;
            for (int b = 0; b < x.values().batch(); b++) {
                for (int t = 0; t < x.values().seq(); t++) {
                    weighted += (double) a.gradient().get(b, t) * x.values().get(b, t);
                }
            }
            assertEquals(a.value(), weighted, 1e-4 * (1 + Math.abs(a.value())), mode.configName());
        }
    }

    @Property(tries = 200)
    void grpoAdvantagesOfAGroupSumToZeroAndHaveStdBelowOne(@ForAll("batches") Batch x,
                                                          @ForAll("groupCounts") int groups) {
        int batch = x.values().batch();
        int[] ids = new int[batch];
        for (int b = 0; b < batch; b++) {
            ids[b] = b % groups;
        }
        AdvantageInput in = AdvantageInput.builder(x.values(), BatchTensor.filled(batch, x.values().seq(), 1f))
                .groupIds(ids).build();
        BatchTensor centred = AdvantageEstimators.grpo(in, AdvantageConfig.DEFAULTS.withNormAdvByStd(false))
                .advantages();
        BatchTensor scaled = AdvantageEstimators.grpo(in, AdvantageConfig.DEFAULTS).advantages();
        for (Map.Entry<Integer, List<Integer>> g : AdvantageEstimators.groups(ids).entrySet()) {
            List<Integer> rows = g.getValue();
            if (rows.size() < 2) {
                continue;
            }
            double sum = 0;
            List<Double> a = new ArrayList<>();
            for (int b : rows) {
                sum += centred.get(b, 0);
                a.add((double) scaled.get(b, 0));
            }
            assertEquals(0.0, sum, 1e-4);
            // std of (s - mu) / (sigma + eps) is sigma / (sigma + eps) <= 1.
            double mean = a.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double ss = a.stream().mapToDouble(v -> (v - mean) * (v - mean)).sum();
            assertEquals(0.0, mean, 1e-5);
            double std = Math.sqrt(ss / (a.size() - 1));
            assertTrue(std <= 1 + 1e-5, "std=" + std);
        }
    }

    @Provide
    Arbitrary<Integer> groupCounts() {
        return Arbitraries.integers().between(1, 3);
    }
}
