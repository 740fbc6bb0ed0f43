package io.yatt.trainer.model;

/**
 * Single-precision matrix multiply on row-major {@code float[]} matrices: {@code C = alpha * op(A) * op(B) + beta
 * * C}, with {@code op(X)} either X or its transpose, in the shape and argument order of BLAS {@code cblas_sgemm}
 * (row-major). Offsets and leading dimensions are in elements. Stateless and thread-safe.
 */
public final class Gemm {

    private Gemm() {
    }

    /**
     * {@code C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n]}. {@code op(A)} is A ({@code [m,k]}, row
     * stride lda) or, with transA, the transpose of A stored {@code [k,m]}; likewise B.
     *
     * @throws IllegalArgumentException if a size is negative, a leading dimension too small or a matrix does not fit
     *         in its array
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb,
                             float beta, float[] c, int cOffset, int ldc) {
        check(m, n, k, transA, a, aOffset, lda, transB, b, bOffset, ldb, c, cOffset, ldc);
        for (int i = 0; i < m; i++) {
            int ci = cOffset + i * ldc;
            if (beta == 0f) {
                java.util.Arrays.fill(c, ci, ci + n, 0f);
            } else if (beta != 1f) {
                for (int j = 0; j < n; j++) {
                    c[ci + j] *= beta;
                }
            }
            for (int p = 0; p < k; p++) {
                float av = alpha * (transA ? a[aOffset + p * lda + i] : a[aOffset + i * lda + p]);
                if (av == 0f) {
                    continue;
                }
                if (!transB) {
                    int bp = bOffset + p * ldb;
                    for (int j = 0; j < n; j++) {
                        c[ci + j] += av * b[bp + j];
                    }
                } else {
                    for (int j = 0; j < n; j++) {
                        c[ci + j] += av * b[bOffset + j * ldb + p];
                    }
                }
            }
        }
    }

    private static void check(int m, int n, int k, boolean transA, float[] a, int aOffset, int lda,
                              boolean transB, float[] b, int bOffset, int ldb, float[] c, int cOffset, int ldc) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("sizes must be non-negative: m=" + m + ", n=" + n + ", k=" + k);
        }
        requireFits("A", a, aOffset, lda, transA ? k : m, transA ? m : k);
        requireFits("B", b, bOffset, ldb, transB ? n : k, transB ? k : n);
        requireFits("C", c, cOffset, ldc, m, n);
    }

    private static void requireFits(String name, float[] x, int offset, int ld, int rows, int cols) {
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException("leading dimension of " + name + " too small: ld=" + ld
                    + ", expected at least " + Math.max(1, cols));
        }
        long last = rows == 0 || cols == 0 ? offset : (long) offset + (long) (rows - 1) * ld + cols;
        if (offset < 0 || last > x.length) {
            throw new IllegalArgumentException(name + " does not fit its array: offset=" + offset + ", rows=" + rows
                    + ", cols=" + cols + ", ld=" + ld + ", length=" + x.length);
        }
    }
}
