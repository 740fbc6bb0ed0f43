package io.yatt.trainer.algo;

/**
 * Masked statistics and logit helpers matching verl's {@code verl/utils/torch_functional.py}. Sums accumulate in
 * {@code double} and results are stored as {@code float}; masks hold 0 and 1 only. Stateless and thread-safe.
 */
public final class TensorFunctions {

    /** The epsilon verl adds to the element count in {@code masked_mean} and to the variance in {@code masked_whiten}. */
    public static final double MASK_EPSILON = 1e-8;

    private TensorFunctions() {
    }

    /**
     * Sum of the unmasked elements; masked elements never contribute, even when NaN or infinite. Matches
     * {@code verl_F.masked_sum(values, mask)} ({@code torch.where(mask.bool(), values, 0) * mask}).
     *
     * @throws IllegalArgumentException if the shapes differ or the mask holds a value other than 0 or 1
     */
    public static double maskedSum(BatchTensor values, BatchTensor mask) {
        checkMask(values, mask);
        double s = 0;
        for (int i = 0; i < values.count(); i++) {
            if (mask.at(i) != 0f) {
                s += values.at(i);
            }
        }
        return s;
    }

    /**
     * Per-row sum of the unmasked elements ({@code verl_F.masked_sum(values, mask, axis=-1)}).
     *
     * @throws IllegalArgumentException if the shapes differ or the mask holds a value other than 0 or 1
     */
    public static double[] maskedRowSums(BatchTensor values, BatchTensor mask) {
        checkMask(values, mask);
        double[] s = new double[values.batch()];
        int seq = values.seq();
        for (int i = 0; i < values.count(); i++) {
            if (mask.at(i) != 0f) {
                s[i / seq] += values.at(i);
            }
        }
        return s;
    }

    /**
     * Mean of the unmasked elements: {@code masked_sum / (mask.sum() + 1e-8)}, so an all-masked input gives 0, not
     * NaN. Matches {@code verl_F.masked_mean(values, mask)}.
     *
     * @throws IllegalArgumentException if the shapes differ or the mask holds a value other than 0 or 1
     */
    public static double maskedMean(BatchTensor values, BatchTensor mask) {
        double s = maskedSum(values, mask);
        return s / (count(mask) + MASK_EPSILON);
    }

    /**
     * Per-row masked mean, {@code masked_sum(axis=-1) / (mask.sum(-1) + 1e-8)}: an all-masked row gives 0
     * ({@code verl_F.masked_mean(values, mask, axis=-1)}).
     *
     * @throws IllegalArgumentException if the shapes differ or the mask holds a value other than 0 or 1
     */
    public static double[] maskedRowMeans(BatchTensor values, BatchTensor mask) {
        double[] s = maskedRowSums(values, mask);
        double[] n = rowCounts(mask);
        for (int b = 0; b < s.length; b++) {
            s[b] = s[b] / (n[b] + MASK_EPSILON);
        }
        return s;
    }

    /**
     * Masked variance over all unmasked elements, {@code mean((x - mean)^2)} with verl's masked mean, times the
     * Bessel correction {@code n / (n - 1)} when unbiased. Matches {@code verl_F.masked_var(values, mask, unbiased)}.
     *
     * @throws IllegalArgumentException if unbiased and fewer than two elements are unmasked (verl raises
     *         {@code ValueError} there), if the shapes differ or the mask holds a value other than 0 or 1
     */
    public static double maskedVar(BatchTensor values, BatchTensor mask, boolean unbiased) {
        double mean = maskedMean(values, mask);
        double n = count(mask);
        if (unbiased && n == 0) {
            throw new IllegalArgumentException("masked variance needs an unmasked element: maskSum=0");
        }
        if (unbiased && n == 1) {
            throw new IllegalArgumentException(
                    "unbiased masked variance divides by zero with one unmasked element: maskSum=1");
        }
        double s = 0;
        for (int i = 0; i < values.count(); i++) {
            if (mask.at(i) != 0f) {
                double c = values.at(i) - mean;
                s += c * c;
            }
        }
        double var = s / (n + MASK_EPSILON);
        return unbiased ? var * (n / (n - 1)) : var;
    }

    /**
     * {@code (x - mean) / sqrt(var + 1e-8)} on every element (masked ones too), with the masked mean and the unbiased
     * masked variance; with {@code shiftMean == false} the mean is added back. Matches
     * {@code verl_F.masked_whiten(values, mask, shift_mean)}; the sums are those of
     * {@link #maskedWhiten(BatchTensor, BatchTensor, boolean, BatchShard)} over one rank.
     *
     * @throws IllegalArgumentException if fewer than two elements are unmasked, the shapes differ or the mask holds a
     *         value other than 0 or 1
     */
    public static BatchTensor maskedWhiten(BatchTensor values, BatchTensor mask, boolean shiftMean) {
        return maskedWhiten(values, mask, shiftMean, BatchShard.whole(values.batch()));
    }

    /**
     * {@link #maskedWhiten(BatchTensor, BatchTensor, boolean)} of a batch spread over ranks: {@code values} and
     * {@code mask} hold this rank's rows, and the mean and variance are those of the whole batch. Each sum is taken
     * per row (in double, along the row) and the row sums are added in batch order, so the result is the same on
     * every rank and for any spread of the rows. Collective over the shard's ranks (two gathers of per-row values).
     *
     * @throws IllegalArgumentException if fewer than two elements of the whole batch are unmasked, the shapes differ,
     *         the mask holds a value other than 0 or 1, or the tensors do not hold the shard's local rows
     */
    public static BatchTensor maskedWhiten(BatchTensor values, BatchTensor mask, boolean shiftMean,
                                           BatchShard shard) {
        double[] totals = maskedTotals(values, mask, shard);
        double sum = totals[0];
        double n = totals[1];
        int rows = values.batch();
        int seq = values.seq();
        if (n == 0) {
            throw new IllegalArgumentException("masked variance needs an unmasked element: maskSum=0");
        }
        if (n == 1) {
            throw new IllegalArgumentException(
                    "unbiased masked variance divides by zero with one unmasked element: maskSum=1");
        }
        double mean = sum / (n + MASK_EPSILON);
        double[] squares = new double[rows];
        for (int b = 0; b < rows; b++) {
            double s = 0;
            for (int i = b * seq; i < (b + 1) * seq; i++) {
                if (mask.at(i) != 0f) {
                    double c = values.at(i) - mean;
                    s += c * c;
                }
            }
            squares[b] = s;
        }
        double[] allSquares = shard.allRows(squares, 1);
        double ss = 0;
        for (double s : allSquares) {
            ss += s;
        }
        double var = ss / (n + MASK_EPSILON) * (n / (n - 1));
        double inv = 1.0 / Math.sqrt(var + MASK_EPSILON);
        float[] out = new float[values.count()];
        for (int i = 0; i < out.length; i++) {
            double w = (values.at(i) - mean) * inv;
            out[i] = (float) (shiftMean ? w : w + mean);
        }
        return BatchTensor.wrap(rows, seq, out);
    }

    /**
     * The masked mean of a batch spread over ranks, {@code masked_sum / (mask.sum() + 1e-8)} with the sums of
     * {@link #maskedTotals}; the same on every rank. Collective over the shard's ranks.
     *
     * @throws IllegalArgumentException if the shapes differ, the mask holds a value other than 0 or 1, or the tensors
     *         do not hold the shard's local rows
     */
    public static double maskedMean(BatchTensor values, BatchTensor mask, BatchShard shard) {
        double[] totals = maskedTotals(values, mask, shard);
        return totals[0] / (totals[1] + MASK_EPSILON);
    }

    /**
     * The whole batch's sum of the unmasked elements and their count, {@code {sum, count}}, of a batch spread over
     * ranks: each row's sum (in double, along the row) and count, gathered, then added in batch order, so the result
     * is the same on every rank and for any spread of the rows. Collective over the shard's ranks.
     *
     * @throws IllegalArgumentException if the shapes differ, the mask holds a value other than 0 or 1, or the tensors
     *         do not hold the shard's local rows
     */
    public static double[] maskedTotals(BatchTensor values, BatchTensor mask, BatchShard shard) {
        checkMask(values, mask);
        shard.requireLocal("values", values);
        int rows = values.batch();
        int seq = values.seq();
        double[] partial = new double[2 * rows];
        for (int b = 0; b < rows; b++) {
            for (int i = b * seq; i < (b + 1) * seq; i++) {
                if (mask.at(i) != 0f) {
                    partial[2 * b] += values.at(i);
                    partial[2 * b + 1] += 1;
                }
            }
        }
        double[] all = shard.allRows(partial, 2);
        double sum = 0;
        double n = 0;
        for (int b = 0; b < shard.batch(); b++) {
            sum += all[2 * b];
            n += all[2 * b + 1];
        }
        return new double[] {sum, n};
    }

    /**
     * Element-wise {@code max(min(x, hi), lo)} ({@code verl_F.clip_by_value}); lo wins when {@code lo > hi}.
     *
     * @throws IllegalArgumentException if the shapes differ
     */
    public static BatchTensor clipByValue(BatchTensor x, BatchTensor lo, BatchTensor hi) {
        x.requireSameShape("x", lo, "lo");
        x.requireSameShape("x", hi, "hi");
        float[] out = new float[x.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.max(Math.min(x.at(i), hi.at(i)), lo.at(i));
        }
        return BatchTensor.wrap(x.batch(), x.seq(), out);
    }

    /**
     * Log-probability of each label, {@code logits[label] - logsumexp(logits)}, for rows of a row-major
     * {@code [n, vocab]} logits array. Matches {@code verl_F.logprobs_from_logits}.
     *
     * @throws IllegalArgumentException if the logits do not hold {@code labels.length} rows of {@code vocab} or a
     *         label is outside {@code [0, vocab)}
     */
    public static float[] logprobsFromLogits(float[] logits, int vocab, int[] labels) {
        checkLogits(logits, vocab, labels.length);
        float[] out = new float[labels.length];
        for (int r = 0; r < labels.length; r++) {
            int label = labels[r];
            if (label < 0 || label >= vocab) {
                throw new IllegalArgumentException("label out of range: label=" + label + ", vocab=" + vocab
                        + ", row=" + r);
            }
            int o = r * vocab;
            out[r] = (float) (logits[o + label] - logSumExp(logits, o, vocab));
        }
        return out;
    }

    /**
     * {@link #logprobsFromLogits(float[], int, int[])} for a batch: logits {@code [batch, seq, vocab]} row-major and
     * labels {@code [batch][seq]}, giving a {@code [batch, seq]} tensor.
     *
     * @throws IllegalArgumentException if the labels are ragged, the logits do not match or a label is out of range
     */
    public static BatchTensor logprobsFromLogits(float[] logits, int vocab, int[][] labels) {
        int batch = labels.length;
        int seq = batch == 0 ? 0 : labels[0].length;
        int[] flat = new int[batch * seq];
        for (int b = 0; b < batch; b++) {
            if (labels[b].length != seq) {
                throw new IllegalArgumentException("ragged labels: row=" + b + ", length=" + labels[b].length
                        + ", expected=" + seq);
            }
            System.arraycopy(labels[b], 0, flat, b * seq, seq);
        }
        return BatchTensor.wrap(batch, seq, logprobsFromLogits(logits, vocab, flat));
    }

    /**
     * Entropy of the softmax of each row, {@code logsumexp(z) - sum(softmax(z) * z)}, for a row-major
     * {@code [n, vocab]} logits array. Matches {@code verl_F.entropy_from_logits}.
     *
     * @throws IllegalArgumentException if the logits length is not {@code n * vocab}
     */
    public static float[] entropyFromLogits(float[] logits, int vocab, int n) {
        checkLogits(logits, vocab, n);
        float[] out = new float[n];
        for (int r = 0; r < n; r++) {
            int o = r * vocab;
            double lse = logSumExp(logits, o, vocab);
            double pz = 0;
            for (int v = 0; v < vocab; v++) {
                pz += Math.exp(logits[o + v] - lse) * logits[o + v];
            }
            out[r] = (float) (lse - pz);
        }
        return out;
    }

    /**
     * The response mask from token ids: 1 up to and including the first end-of-sequence token of each row, 0 after
     * it; rows without one are all 1. Matches {@code verl_F.get_response_mask(response_id, eos_token)}.
     *
     * @throws IllegalArgumentException if the rows are ragged or no end-of-sequence token is given
     */
    public static BatchTensor responseMask(int[][] responseIds, int... eosTokens) {
        if (eosTokens.length == 0) {
            throw new IllegalArgumentException("no end-of-sequence token given: eosTokens=[]");
        }
        int batch = responseIds.length;
        int seq = batch == 0 ? 0 : responseIds[0].length;
        float[] out = new float[batch * seq];
        for (int b = 0; b < batch; b++) {
            if (responseIds[b].length != seq) {
                throw new IllegalArgumentException("ragged response ids: row=" + b + ", length="
                        + responseIds[b].length + ", expected=" + seq);
            }
            boolean ended = false;
            for (int t = 0; t < seq; t++) {
                out[b * seq + t] = ended ? 0f : 1f;
                int id = responseIds[b][t];
                for (int e : eosTokens) {
                    ended |= id == e;
                }
            }
        }
        return BatchTensor.wrap(batch, seq, out);
    }

    static double logSumExp(float[] x, int offset, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[offset + i]);
        }
        if (Double.isInfinite(max)) {
            return max;
        }
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += Math.exp(x[offset + i] - max);
        }
        return max + Math.log(s);
    }

    private static void checkLogits(float[] logits, int vocab, int rows) {
        if (vocab <= 0) {
            throw new IllegalArgumentException("vocab must be positive: vocab=" + vocab);
        }
        if ((long) rows * vocab != logits.length) {
            throw new IllegalArgumentException("logits length does not match rows * vocab: length=" + logits.length
                    + ", rows=" + rows + ", vocab=" + vocab);
        }
    }

    static void checkMask(BatchTensor values, BatchTensor mask) {
        values.requireSameShape("values", mask, "mask");
        mask.requireMask("mask");
    }

    /** Number of unmasked elements. */
    static double count(BatchTensor mask) {
        double n = 0;
        for (int i = 0; i < mask.count(); i++) {
            n += mask.at(i);
        }
        return n;
    }

    /** Number of unmasked elements per row. */
    static double[] rowCounts(BatchTensor mask) {
        double[] n = new double[mask.batch()];
        int seq = mask.seq();
        for (int i = 0; i < mask.count(); i++) {
            n[i / seq] += mask.at(i);
        }
        return n;
    }
}
