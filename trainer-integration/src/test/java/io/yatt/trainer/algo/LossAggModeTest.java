package io.yatt.trainer.algo;

import static io.yatt.trainer.algo.TensorFunctionsTest.r;
import static io.yatt.trainer.algo.TensorFunctionsTest.t;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LossAggModeTest {

    // Rows: [1 2 | 3] (2 tokens), [4 | 5 6] (1 token), [7 8 9] all masked.
    private static final BatchTensor LOSS = t(r(1, 2, 3), r(4, 5, 6), r(7, 8, 9));
    private static final BatchTensor MASK = t(r(1, 1, 0), r(1, 0, 0), r(0, 0, 0));

    @Test
    void shouldAverageOverUnmaskedTokensForTokenMean() {
        // (1 + 2 + 4) / 3 tokens; d/dL = 1/3 on each unmasked token.
        AggregatedLoss a = LossAggMode.TOKEN_MEAN.aggregate(LOSS, MASK);
        assertEquals(7.0 / 3, a.value(), 1e-7);
        float g = 1f / 3;
        assertArrayEquals(new float[] {g, g, 0, g, 0, 0, 0, 0, 0}, a.gradient().toArray(), 1e-7f);
    }

    @Test
    void shouldAverageRowSumsOverNonEmptyRowsForSeqMeanTokenSum() {
        // row sums 3 and 4; the empty row is excluded: (3 + 4) / 2.
        AggregatedLoss a = LossAggMode.SEQ_MEAN_TOKEN_SUM.aggregate(LOSS, MASK);
        assertEquals(3.5, a.value(), 1e-7);
        assertArrayEquals(new float[] {0.5f, 0.5f, 0, 0.5f, 0, 0, 0, 0, 0}, a.gradient().toArray(), 1e-7f);
    }

    @Test
    void shouldAverageRowMeansForSeqMeanTokenMean() {
        // row means 3/2 and 4/1 -> (1.5 + 4) / 2 = 2.75; d/dL = 1/2 / len.
        AggregatedLoss a = LossAggMode.SEQ_MEAN_TOKEN_MEAN.aggregate(LOSS, MASK);
        assertEquals(2.75, a.value(), 1e-7);
        assertArrayEquals(new float[] {0.25f, 0.25f, 0, 0.5f, 0, 0, 0, 0, 0}, a.gradient().toArray(), 1e-7f);
    }

    @Test
    void shouldDivideBySeqLengthForSeqMeanTokenSumNorm() {
        // (3 + 4) / 2 non-empty rows / 3 positions.
        AggregatedLoss a = LossAggMode.SEQ_MEAN_TOKEN_SUM_NORM.aggregate(LOSS, MASK);
        assertEquals(3.5 / 3, a.value(), 1e-7);
        // loss_scale_factor 7 replaces the padded length: 3.5 / 7.
        AggregatedLoss scaled = LossAggMode.SEQ_MEAN_TOKEN_SUM_NORM.aggregate(LOSS, MASK,
                new AggOptions(1, AggOptions.UNSET, AggOptions.UNSET, 7));
        assertEquals(0.5, scaled.value(), 1e-7);
    }

    @Test
    void shouldSumUnmaskedTokensTimesDpSizeForTokenSum() {
        // 1 + 2 + 4 = 7, times dp 2 = 14; d/dL = dp on unmasked tokens.
        assertEquals(7.0, LossAggMode.TOKEN_SUM.aggregate(LOSS, MASK).value(), 1e-7);
        AggregatedLoss dp = LossAggMode.TOKEN_SUM.aggregate(LOSS, MASK, new AggOptions(2, AggOptions.UNSET,
                AggOptions.UNSET, AggOptions.UNSET));
        assertEquals(14.0, dp.value(), 1e-7);
        assertArrayEquals(new float[] {2, 2, 0, 2, 0, 0, 0, 0, 0}, dp.gradient().toArray());
    }

    @Test
    void shouldUseGlobalCountsTimesDpSize() {
        // token-mean: 7 / 6 global tokens * dp 2; seq-mean-token-sum: 7 / 4 global sequences * 2.
        AggOptions opts = new AggOptions(2, 6, 4, AggOptions.UNSET);
        assertEquals(7.0 / 6 * 2, LossAggMode.TOKEN_MEAN.aggregate(LOSS, MASK, opts).value(), 1e-7);
        assertEquals(7.0 / 4 * 2, LossAggMode.SEQ_MEAN_TOKEN_SUM.aggregate(LOSS, MASK, opts).value(), 1e-7);
        assertEquals(2f / 6, LossAggMode.TOKEN_MEAN.aggregate(LOSS, MASK, opts).gradient().get(0, 0), 1e-7f);
    }

    @Test
    void shouldRequireGlobalCountsWhenDataParallel() {
        AggOptions opts = new AggOptions(2, AggOptions.UNSET, AggOptions.UNSET, AggOptions.UNSET);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LossAggMode.TOKEN_MEAN.aggregate(LOSS, MASK, opts));
        assertEquals("(global) batch_num_tokens is required when dp_size > 1: dpSize=2", e.getMessage());
        IllegalArgumentException s = assertThrows(IllegalArgumentException.class,
                () -> LossAggMode.SEQ_MEAN_TOKEN_MEAN.aggregate(LOSS, MASK, opts));
        assertEquals("global_batch_size is required when dp_size > 1: dpSize=2", s.getMessage());
    }

    @Test
    void shouldIgnoreNanInMaskedTokensForTokenMeanButPropagateItInPartlyMaskedRows() {
        BatchTensor loss = t(r(1, Float.NaN), r(Float.NaN, Float.NaN));
        BatchTensor mask = t(r(1, 0), r(0, 0));
        assertEquals(1.0, LossAggMode.TOKEN_MEAN.aggregate(loss, mask).value(), 0.0);
        // sum(L * m) over row 0 is 1 + NaN * 0 = NaN (verl multiplies, it does not select).
        assertTrue(Double.isNaN(LossAggMode.SEQ_MEAN_TOKEN_SUM.aggregate(loss, mask).value()));
        // A wholly masked NaN row is dropped by the sequence mask: (1 + 2) / 1.
        BatchTensor clean = t(r(1, 2), r(Float.NaN, Float.NaN));
        assertEquals(3.0, LossAggMode.SEQ_MEAN_TOKEN_SUM.aggregate(clean, t(r(1, 1), r(0, 0))).value(), 0.0);
        assertEquals(0f, LossAggMode.SEQ_MEAN_TOKEN_SUM.aggregate(clean, t(r(1, 1), r(0, 0))).gradient().get(1, 0));
    }

    @Test
    void shouldGiveNanForAWhollyMaskedMicroBatchAsVerl() {
        // masked_sum / mask.sum() = 0 / 0.
        assertTrue(Double.isNaN(LossAggMode.TOKEN_MEAN.aggregate(t(r(1, 2)), t(r(0, 0))).value()));
    }

    @Test
    void shouldRejectUnknownModeListingValidOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LossAggMode.fromName("seq-sum"));
        assertEquals("unknown loss_agg_mode: name=seq-sum, valid=[token-mean, seq-mean-token-sum, "
                + "seq-mean-token-mean, seq-mean-token-sum-norm, token-sum]", e.getMessage());
        assertEquals(LossAggMode.SEQ_MEAN_TOKEN_SUM_NORM, LossAggMode.fromName("seq-mean-token-sum-norm"));
    }
}
