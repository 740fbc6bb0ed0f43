package io.yatt.trainer.algo;

import io.yatt.tensor.Tensor;
import java.util.Arrays;

/**
 * An immutable {@code [batch, seq]} tensor of {@code float}, stored row-major: the value at {@code (b, t)} sits at
 * index {@code b * seq + t}. Responses, log-probabilities, rewards, advantages and masks all take this shape; a mask
 * holds only 0 and 1. Immutable and thread-safe; factories copy their input.
 */
public final class BatchTensor {

    private final int batch;
    private final int seq;
    private final float[] values;

    private BatchTensor(int batch, int seq, float[] values) {
        this.batch = batch;
        this.seq = seq;
        this.values = values;
    }

    /**
     * A copy of a row-major array.
     *
     * @throws IllegalArgumentException if a size is negative or {@code values.length != batch * seq}
     */
    public static BatchTensor of(int batch, int seq, float[] values) {
        checkShape(batch, seq, values.length);
        return new BatchTensor(batch, seq, values.clone());
    }

    /**
     * A copy of rows of equal length (one row per sequence).
     *
     * @throws IllegalArgumentException if there are no rows or the rows differ in length
     */
    public static BatchTensor of(float[][] rows) {
        if (rows.length == 0) {
            throw new IllegalArgumentException("no rows: batch=0; use of(0, seq, new float[0]) for an empty batch");
        }
        int seq = rows[0].length;
        float[] v = new float[rows.length * seq];
        for (int b = 0; b < rows.length; b++) {
            if (rows[b].length != seq) {
                throw new IllegalArgumentException("ragged rows: row=" + b + ", length=" + rows[b].length
                        + ", expected=" + seq);
            }
            System.arraycopy(rows[b], 0, v, b * seq, seq);
        }
        return new BatchTensor(rows.length, seq, v);
    }

    /** A copy of rows of equal length, narrowed from {@code double} to {@code float}. */
    public static BatchTensor of(double[][] rows) {
        float[][] f = new float[rows.length][];
        for (int b = 0; b < rows.length; b++) {
            f[b] = new float[rows[b].length];
            for (int t = 0; t < rows[b].length; t++) {
                f[b][t] = (float) rows[b][t];
            }
        }
        return of(f);
    }

    /**
     * A tensor of zeros.
     *
     * @throws IllegalArgumentException if a size is negative
     */
    public static BatchTensor zeros(int batch, int seq) {
        checkShape(batch, seq, (long) batch * seq);
        return new BatchTensor(batch, seq, new float[batch * seq]);
    }

    /**
     * A tensor with every element equal to {@code value} (a mask of ones, for instance).
     *
     * @throws IllegalArgumentException if a size is negative
     */
    public static BatchTensor filled(int batch, int seq, float value) {
        checkShape(batch, seq, (long) batch * seq);
        float[] v = new float[batch * seq];
        Arrays.fill(v, value);
        return new BatchTensor(batch, seq, v);
    }

    /**
     * A copy of a rank-2 {@link Tensor} {@code [batch, seq]} of any dtype and layout, converted to float element by
     * element (a CUDA tensor is read element by element too: move it to the host first when it is large).
     *
     * @throws IllegalArgumentException if the tensor is not rank 2 or a dimension exceeds {@code Integer.MAX_VALUE}
     * @throws IllegalStateException if the tensor is closed
     */
    public static BatchTensor fromTensor(Tensor tensor) {
        long[] dims = tensor.shape().dims();
        if (dims.length != 2 || dims[0] > Integer.MAX_VALUE || dims[1] > Integer.MAX_VALUE
                || dims[0] * dims[1] > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor must be [batch, seq] with fewer than 2^31 elements: shape="
                    + tensor.shape());
        }
        int batch = (int) dims[0];
        int seq = (int) dims[1];
        float[] v = new float[batch * seq];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                v[b * seq + t] = (float) tensor.getDouble(b, t);
            }
        }
        return new BatchTensor(batch, seq, v);
    }

    /**
     * Writes this tensor into {@code target} ({@code [batch, seq]}, any dtype and layout), converting each element
     * as {@link Tensor#setDouble} does.
     *
     * @throws IllegalArgumentException if the target's shape is not {@code [batch, seq]}
     * @throws UnsupportedOperationException if the target is read-only
     * @throws IllegalStateException if the target is closed
     */
    public void copyTo(Tensor target) {
        long[] dims = target.shape().dims();
        if (dims.length != 2 || dims[0] != batch || dims[1] != seq) {
            throw new IllegalArgumentException("target shape does not match: shape=" + target.shape() + ", expected=["
                    + batch + ", " + seq + "]");
        }
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                target.setDouble(values[b * seq + t], b, t);
            }
        }
    }

    /** Wraps an array this package has just filled and will not touch again (no copy). */
    static BatchTensor wrap(int batch, int seq, float[] values) {
        return new BatchTensor(batch, seq, values);
    }

    private static void checkShape(int batch, int seq, long length) {
        if (batch < 0 || seq < 0) {
            throw new IllegalArgumentException("negative size: batch=" + batch + ", seq=" + seq);
        }
        if (length != (long) batch * seq) {
            throw new IllegalArgumentException("length does not match shape: length=" + length + ", batch=" + batch
                    + ", seq=" + seq);
        }
    }

    /** Number of sequences. */
    public int batch() {
        return batch;
    }

    /** Number of positions per sequence. */
    public int seq() {
        return seq;
    }

    /** Number of elements, {@code batch * seq}. */
    public int count() {
        return values.length;
    }

    /**
     * The value at {@code (b, t)}.
     *
     * @throws IndexOutOfBoundsException if b or t is outside the shape
     */
    public float get(int b, int t) {
        if (b < 0 || b >= batch || t < 0 || t >= seq) {
            throw new IndexOutOfBoundsException("index outside shape: b=" + b + ", t=" + t + ", batch=" + batch
                    + ", seq=" + seq);
        }
        return values[b * seq + t];
    }

    /** A copy of row b. */
    public float[] row(int b) {
        return Arrays.copyOfRange(values, b * seq, (b + 1) * seq);
    }

    /** A copy of the row-major values. */
    public float[] toArray() {
        return values.clone();
    }

    /** A copy as rows. */
    public float[][] toRows() {
        float[][] r = new float[batch][];
        for (int b = 0; b < batch; b++) {
            r[b] = row(b);
        }
        return r;
    }

    /** Direct read access for this package's loops (never written). */
    float at(int i) {
        return values[i];
    }

    /** Whether {@code other} has the same shape. */
    public boolean sameShape(BatchTensor other) {
        return batch == other.batch && seq == other.seq;
    }

    void requireSameShape(String name, BatchTensor other, String otherName) {
        if (!sameShape(other)) {
            throw new IllegalArgumentException("shape mismatch: " + otherName + "=[" + other.batch + ", "
                    + other.seq + "], " + name + "=[" + batch + ", " + seq + "]");
        }
    }

    /**
     * Checks that this tensor is a mask: every element 0 or 1.
     *
     * @throws IllegalArgumentException naming the first element that is neither
     */
    BatchTensor requireMask(String name) {
        for (int i = 0; i < values.length; i++) {
            float v = values[i];
            if (v != 0f && v != 1f) {
                throw new IllegalArgumentException("mask value not 0 or 1: " + name + "[" + (i / seq) + "]["
                        + (i % seq) + "]=" + v);
            }
        }
        return this;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchTensor other && sameShape(other) && Arrays.equals(values, other.values);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * batch + seq) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "BatchTensor[batch=" + batch + ", seq=" + seq + "]" + Arrays.deepToString(toRows());
    }
}
