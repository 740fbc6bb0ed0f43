package io.yatt.trainer.model;

/**
 * A batch of token sequences {@code [B, T]} with an attention mask (1 for a real token, 0 for padding, left or right).
 * Positions count real tokens only ({@code cumsum(mask) - 1}, as Hugging Face does for left-padded prompts), and a
 * token attends to the real tokens at or before it. Padding positions must still hold a valid token id (any; their
 * outputs are not used). Arrays are row-major and not copied; do not change them while a
 * model uses the batch.
 *
 * @param batchSize B
 * @param seqLen T
 * @param tokens {@code [B, T]} token ids
 * @param attentionMask {@code [B, T]} 1 or 0
 */
public record Batch(int batchSize, int seqLen, int[] tokens, int[] attentionMask) {

    /**
     * @throws IllegalArgumentException if a size is not positive or an array length is not {@code B*T}, or a mask
     *         value is not 0 or 1
     */
    public Batch {
        if (batchSize <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("batch sizes must be positive: batchSize=" + batchSize + ", seqLen="
                    + seqLen);
        }
        long n = (long) batchSize * seqLen;
        if (tokens.length != n) {
            throw new IllegalArgumentException("tokens length must be batchSize*seqLen: length=" + tokens.length
                    + ", expected=" + n);
        }
        if (attentionMask.length != n) {
            throw new IllegalArgumentException("attention mask length must be batchSize*seqLen: length="
                    + attentionMask.length + ", expected=" + n);
        }
        for (int i = 0; i < n; i++) {
            if (attentionMask[i] != 0 && attentionMask[i] != 1) {
                throw new IllegalArgumentException("attention mask must be 0 or 1: mask=" + attentionMask[i]
                        + ", index=" + i);
            }
        }
    }

    /** A batch without padding (every mask value 1). */
    public static Batch of(int batchSize, int seqLen, int[] tokens) {
        int[] mask = new int[tokens.length];
        java.util.Arrays.fill(mask, 1);
        return new Batch(batchSize, seqLen, tokens, mask);
    }

    /** One unpadded sequence. */
    public static Batch single(int... tokens) {
        return of(1, tokens.length, tokens);
    }

    /** {@code B*T}. */
    public int rows() {
        return batchSize * seqLen;
    }
}
