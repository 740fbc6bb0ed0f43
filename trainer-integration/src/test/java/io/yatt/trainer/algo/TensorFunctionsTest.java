package io.yatt.trainer.algo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TensorFunctionsTest {

    static BatchTensor t(float[]... rows) {
        return BatchTensor.of(rows);
    }

    static float[] r(float... v) {
        return v;
    }

    /** Element-wise comparison within 1e-5 (values derived in double, stored as float). */
    static void assertRows(float[][] expected, BatchTensor actual) {
        assertEquals(expected.length, actual.batch(), "batch");
        for (int b = 0; b < expected.length; b++) {
            assertArrayEquals(expected[b], actual.row(b), 1e-5f, "row " + b);
        }
    }

    @Test
    void shouldIgnoreNanAtMaskedPositionsInMaskedSum() {
        // where(mask, values, 0): the NaN at the masked position never enters the sum; 1 + 2 = 3.
        assertEquals(3.0, TensorFunctions.maskedSum(t(r(1, 2, Float.NaN)), t(r(1, 1, 0))), 0.0);
    }

    @Test
    void shouldDivideMaskedSumByCountPlusEpsilon() {
        // unmasked 1, 2, 4 -> 7 / (3 + 1e-8).
        double mean = TensorFunctions.maskedMean(t(r(1, 2, 3), r(4, 5, 6)), t(r(1, 1, 0), r(1, 0, 0)));
        assertEquals(7.0 / (3 + 1e-8), mean, 1e-12);
    }

    @Test
    void shouldGiveZeroNotNanForAllMaskedMean() {
        // 0 / (0 + 1e-8) = 0.
        assertEquals(0.0, TensorFunctions.maskedMean(t(r(5, 7)), t(r(0, 0))), 0.0);
        // Row means: row 0 (1 + 2) / 2, row 1 all masked -> 0.
        double[] rows = TensorFunctions.maskedRowMeans(t(r(1, 2), r(9, 9)), t(r(1, 1), r(0, 0)));
        assertEquals(1.5, rows[0], 1e-7);
        assertEquals(0.0, rows[1], 0.0);
    }

    @Test
    void shouldComputeUnbiasedMaskedVarianceWithBesselCorrection() {
        // x = 1, 2, 4 (10 masked): mean 7/3, squared deviations 16/9 + 1/9 + 25/9 = 42/9; biased 42/9 / 3 = 14/9;
        // unbiased 14/9 * 3/2 = 7/3.
        BatchTensor x = t(r(1, 2, 4, 10));
        BatchTensor m = t(r(1, 1, 1, 0));
        assertEquals(7.0 / 3, TensorFunctions.maskedVar(x, m, true), 1e-7);
        assertEquals(14.0 / 9, TensorFunctions.maskedVar(x, m, false), 1e-7);
    }

    @Test
    void shouldRejectUnbiasedVarianceOfOneElement() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorFunctions.maskedVar(t(r(1, 2)), t(r(1, 0)), true));
        assertEquals("unbiased masked variance divides by zero with one unmasked element: maskSum=1", e.getMessage());
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> TensorFunctions.maskedVar(t(r(1, 2)), t(r(0, 0)), true));
        assertEquals("masked variance needs an unmasked element: maskSum=0", none.getMessage());
    }

    @Test
    void shouldWhitenEveryElementWithMaskedStatistics() {
        // mean 7/3 and unbiased variance 7/3 over the unmasked 1, 2, 4; the masked 10 is whitened too.
        BatchTensor x = t(r(1, 2, 4, 10));
        BatchTensor m = t(r(1, 1, 1, 0));
        BatchTensor w = TensorFunctions.maskedWhiten(x, m, true);
        double sd = Math.sqrt(7.0 / 3 + 1e-8);
        float[] expected = {(float) ((1 - 7.0 / 3) / sd), (float) ((2 - 7.0 / 3) / sd), (float) ((4 - 7.0 / 3) / sd),
            (float) ((10 - 7.0 / 3) / sd)};
        assertArrayEquals(expected, w.toArray(), 1e-6f);
        BatchTensor kept = TensorFunctions.maskedWhiten(x, m, false);
        assertEquals((1 - 7.0 / 3) / sd + 7.0 / 3, kept.get(0, 0), 1e-6);
    }

    @Test
    void shouldClipByValueWithLowerBoundWinning() {
        // max(min(x, hi), lo): 0.5 stays, 3 -> 1, -2 -> 0; with lo 2 > hi 1, 5 -> max(1, 2) = 2.
        BatchTensor c = TensorFunctions.clipByValue(t(r(0.5f, 3, -2, 5)), t(r(0, 0, 0, 2)), t(r(1, 1, 1, 1)));
        assertArrayEquals(new float[] {0.5f, 1, 0, 2}, c.toArray(), 0f);
    }

    @Test
    void shouldComputeLogprobsAsLogitMinusLogSumExp() {
        // logits 0, ln 2, ln 3: exp sums to 6; label 2 -> ln 3 - ln 6 = -ln 2, label 0 -> -ln 6.
        float[] logits = {0, (float) Math.log(2), (float) Math.log(3), 0, (float) Math.log(2), (float) Math.log(3)};
        float[] lp = TensorFunctions.logprobsFromLogits(logits, 3, new int[] {2, 0});
        assertArrayEquals(new float[] {(float) -Math.log(2), (float) -Math.log(6)}, lp, 1e-6f);
        BatchTensor b = TensorFunctions.logprobsFromLogits(logits, 3, new int[][] {{2}, {0}});
        assertEquals(-Math.log(6), b.get(1, 0), 1e-6);
    }

    @Test
    void shouldRejectLabelOutsideVocab() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorFunctions.logprobsFromLogits(new float[] {0, 0, 0, 0}, 2, new int[] {1, 2}));
        assertEquals("label out of range: label=2, vocab=2, row=1", e.getMessage());
    }

    @Test
    void shouldComputeEntropyOfSoftmax() {
        // uniform over 4 -> ln 4; logits 0, ln 3 -> p = 1/4, 3/4 -> H = ln 4 - (3/4) ln 3.
        float[] h = TensorFunctions.entropyFromLogits(new float[] {7, 7, 7, 7, 0, (float) Math.log(3), -1000, -1000},
                4, 2);
        assertEquals(Math.log(4), h[0], 1e-6);
        assertEquals(Math.log(4) - 0.75 * Math.log(3), h[1], 1e-6);
    }

    @Test
    void shouldMaskAfterFirstEndOfSequenceToken() {
        // verl's get_response_mask docstring example: ones up to and including the first EOS.
        int[][] ids = {{20, 10, 34, 1, 0, 0, 0}, {78, 0, 76, 2, 1, 0, 0}, {23, 98, 1, 0, 0, 0, 0},
            {33, 3, 98, 45, 1, 0, 0}};
        BatchTensor one = TensorFunctions.responseMask(ids, 1);
        assertArrayEquals(new float[][] {{1, 1, 1, 1, 0, 0, 0}, {1, 1, 1, 1, 1, 0, 0}, {1, 1, 1, 0, 0, 0, 0},
            {1, 1, 1, 1, 1, 0, 0}}, one.toRows());
        BatchTensor two = TensorFunctions.responseMask(ids, 1, 2);
        assertArrayEquals(new float[] {1, 1, 1, 1, 0, 0, 0}, two.row(1));
        assertArrayEquals(new float[] {1, 1}, TensorFunctions.responseMask(new int[][] {{5, 6}}, 1).row(0));
    }

    @Test
    void shouldRejectMaskValuesOtherThanZeroOrOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorFunctions.maskedSum(t(r(1, 2)), t(r(1, 0.5f))));
        assertEquals("mask value not 0 or 1: mask[0][1]=0.5", e.getMessage());
    }

    @Test
    void shouldRejectShapeMismatch() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorFunctions.maskedSum(t(r(1, 2)), t(r(1, 0, 1))));
        assertEquals("shape mismatch: mask=[1, 3], values=[1, 2]", e.getMessage());
    }
}
