package io.yatt.tensor;

import java.util.Arrays;

/**
 * The dimensions of a tensor, outermost first. An immutable value (equals and hashCode by dimensions); thread-safe.
 * Rank 0 is a scalar with one element.
 */
public final class Shape {
    private static final Shape SCALAR = new Shape(new long[0], 1);

    private final long[] dims;
    private final long numel;

    private Shape(long[] dims, long numel) {
        this.dims = dims;
        this.numel = numel;
    }

    /**
     * A shape with the given dimensions.
     *
     * @throws IllegalArgumentException if a dimension is negative or the element count overflows a long
     */
    public static Shape of(long... dims) {
        if (dims.length == 0) {
            return SCALAR;
        }
        long[] copy = dims.clone();
        long numel = 1;
        for (long dim : copy) {
            if (dim < 0) {
                throw new IllegalArgumentException("negative dimension: shape=" + Arrays.toString(copy));
            }
        }
        for (long dim : copy) {
            try {
                numel = Math.multiplyExact(numel, dim);
            } catch (ArithmeticException overflow) {
                throw new IllegalArgumentException("element count overflows a long: shape=" + Arrays.toString(copy));
            }
        }
        return new Shape(copy, numel);
    }

    /** Number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /**
     * Size of dimension {@code i}.
     *
     * @throws IndexOutOfBoundsException if {@code i} is not in {@code [0, rank)}
     */
    public long dim(int i) {
        if (i < 0 || i >= dims.length) {
            throw new IndexOutOfBoundsException("dimension out of range: dim=" + i + ", rank=" + dims.length);
        }
        return dims[i];
    }

    /** Number of elements: the product of the dimensions (1 for a scalar). */
    public long numel() {
        return numel;
    }

    /** A copy of the dimensions. */
    public long[] dims() {
        return dims.clone();
    }

    /** Row-major (C order) strides in elements. */
    long[] contiguousStrides() {
        long[] strides = new long[dims.length];
        long stride = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            strides[i] = stride;
            stride *= Math.max(dims[i], 1);
        }
        return strides;
    }

    long[] dimsUnsafe() {
        return dims;
    }

    Shape withDim(int i, long size) {
        long[] copy = dims.clone();
        copy[i] = size;
        return of(copy);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Shape shape && Arrays.equals(dims, shape.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** Dimensions as {@code [4, 4096]}. */
    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
