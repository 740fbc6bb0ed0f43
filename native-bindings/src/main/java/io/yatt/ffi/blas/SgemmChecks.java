package io.yatt.ffi.blas;

import java.lang.foreign.MemorySegment;

/** Argument checks of {@link Blas#sgemm}: sizes, leading dimensions and bounds. Stateless. */
final class SgemmChecks {
    private SgemmChecks() {
    }

    static void sizes(int m, int n, int k) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("sizes must be non-negative: m=" + m + ", n=" + n + ", k=" + k);
        }
    }

    static void fitsArray(String name, int length, int offset, int ld, int rows, int cols) {
        leadingDimension(name, ld, cols);
        long last = rows == 0 || cols == 0 ? offset : (long) offset + (long) (rows - 1) * ld + cols;
        if (offset < 0 || last > length) {
            throw new IllegalArgumentException(name + " does not fit its array: offset=" + offset + ", rows=" + rows
                    + ", cols=" + cols + ", ld=" + ld + ", length=" + length);
        }
    }

    static void fitsSegment(String name, MemorySegment segment, int ld, int rows, int cols) {
        leadingDimension(name, ld, cols);
        long elements = rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols;
        if (elements * Float.BYTES > segment.byteSize()) {
            throw new IllegalArgumentException(name + " does not fit its segment: rows=" + rows + ", cols=" + cols
                    + ", ld=" + ld + ", requiredBytes=" + elements * Float.BYTES + ", byteSize=" + segment.byteSize());
        }
        if (segment.address() % Float.BYTES != 0) {
            throw new IllegalArgumentException(name + " is not 4-byte aligned: address=" + segment.address());
        }
    }

    private static void leadingDimension(String name, int ld, int cols) {
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException("leading dimension of " + name + " too small: ld=" + ld
                    + ", expected at least " + Math.max(1, cols));
        }
    }
}
