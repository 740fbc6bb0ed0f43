package io.yatt.trainer.algo;

/**
 * Global-batch normalisers for loss aggregation, verl's {@code global_batch_info}: with data parallelism each rank
 * divides its micro-batch sum by the global count and multiplies by {@code dpSize}, so that averaging gradients over
 * ranks gives the global-batch loss. {@link #UNSET} ({@code -1}) means "count it from this micro batch", which
 * verl allows only when {@code dpSize == 1}.
 *
 * @param dpSize data-parallel size, at least 1
 * @param batchNumTokens unmasked tokens in the global batch (token-mean), or {@link #UNSET}
 * @param globalBatchSize sequences with at least one unmasked token in the global batch (seq-mean modes), or
 *        {@link #UNSET}
 * @param lossScaleFactor divisor of seq-mean-token-sum-norm, or {@link #UNSET} for the micro batch's {@code seq}
 */
public record AggOptions(int dpSize, long batchNumTokens, long globalBatchSize, long lossScaleFactor) {

    /** Sentinel: take the value from the micro batch. */
    public static final long UNSET = -1;

    /** Single rank, everything counted from the micro batch (verl's defaults). */
    public static final AggOptions LOCAL = new AggOptions(1, UNSET, UNSET, UNSET);

    /**
     * Validates the options.
     *
     * @throws IllegalArgumentException if dpSize is below 1, or a count is negative other than {@link #UNSET}, or
     *         lossScaleFactor is 0
     */
    public AggOptions {
        if (dpSize < 1) {
            throw new IllegalArgumentException("dpSize must be at least 1: dpSize=" + dpSize);
        }
        requireCount("batchNumTokens", batchNumTokens);
        requireCount("globalBatchSize", globalBatchSize);
        requireCount("lossScaleFactor", lossScaleFactor);
        if (lossScaleFactor == 0) {
            throw new IllegalArgumentException("lossScaleFactor must be positive or UNSET: lossScaleFactor=0");
        }
    }

    private static void requireCount(String name, long v) {
        if (v < 0 && v != UNSET) {
            throw new IllegalArgumentException(name + " must be non-negative or UNSET(-1): " + name + "=" + v);
        }
    }
}
