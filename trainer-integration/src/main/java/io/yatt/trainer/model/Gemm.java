package io.yatt.trainer.model;

import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.blas.Blas;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.BooleanSupplier;

/**
 * Single-precision matrix multiply on row-major {@code float[]} matrices: {@code C = alpha * op(A) * op(B) + beta
 * * C}, with {@code op(X)} either X or its transpose, in the shape and argument order of BLAS {@code cblas_sgemm}
 * (row-major). Offsets and leading dimensions are in elements. Stateless and thread-safe.
 *
 * <p>Two backends compute it: {@link Backend#BLAS}, a CBLAS library (OpenBLAS) called through FFM on the arrays
 * themselves (no copy), and {@link Backend#JAVA}, a cache-blocked kernel in plain Java that C2 vectorizes. The
 * system property {@value #BACKEND_PROPERTY} ({@code auto}, the default; {@code java}; {@code blas}) is read once:
 * {@code auto} takes BLAS when a library is found and then still multiplies products smaller than
 * {@value #BLAS_MIN_WORK} multiply-adds in Java, where the downcall costs more than it saves. The two agree within
 * {@code (k + 2) * 2^-23 * (|alpha| * sum|a||b| + |beta * c|)} per element (both sum in f32, in different orders).
 * The Java kernel runs on the calling thread; OpenBLAS runs on its own threads (all cores unless
 * {@link Blas#threads(int)} says otherwise, which callers that multiply on several threads at once should set to 1).
 */
public final class Gemm {

    /** Which implementation multiplies. */
    public enum Backend {
        /** The blocked pure-Java kernel; always available. */
        JAVA,
        /** A CBLAS library through FFM ({@link Blas}); throws {@link LibraryNotFoundException} when none is found. */
        BLAS
    }

    /** System property choosing the backend: {@code auto} (default), {@code java} or {@code blas}. */
    public static final String BACKEND_PROPERTY = "yatt.gemm";
    /** Below this many multiply-adds ({@code m * n * k}), {@code auto} multiplies in Java even when BLAS is there. */
    public static final long BLAS_MIN_WORK = 256;

    /** Rows of op(B) (the k extent) packed per block: the packed block stays in L2. */
    private static final int KC = 256;
    /** Columns of op(B) and C per block: one C row segment ({@code NC} floats) stays in L1 over a block. */
    private static final int NC = 256;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final Object SELECTED = selectOnce();

    private Gemm() {
    }

    /**
     * {@code C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n]}. {@code op(A)} is A ({@code [m,k]}, row
     * stride lda) or, with transA, the transpose of A stored {@code [k,m]}; likewise B. With {@code beta == 0}, C is
     * overwritten (NaNs in it included); with {@code alpha == 0} or {@code k == 0}, A and B are not read.
     *
     * @throws IllegalArgumentException if a size is negative, a leading dimension too small or a matrix does not fit
     *         in its array
     * @throws IllegalStateException if the system property {@value #BACKEND_PROPERTY} has an unknown value
     * @throws LibraryNotFoundException if {@value #BACKEND_PROPERTY} is {@code blas} and no BLAS library was found
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb,
                             float beta, float[] c, int cOffset, int ldc) {
        Backend backend = backend();
        if (backend == Backend.BLAS && autoSelected() && (long) m * n * k < BLAS_MIN_WORK) {
            backend = Backend.JAVA;
        }
        sgemm(backend, transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc);
    }

    /**
     * {@link #sgemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int,
     * int) sgemm} on a chosen backend, whatever the size (for tests and benchmarks).
     *
     * @param backend the implementation to use
     * @throws IllegalArgumentException if a size is negative, a leading dimension too small or a matrix does not fit
     *         in its array
     * @throws LibraryNotFoundException if {@code backend} is {@link Backend#BLAS} and no BLAS library was found
     */
    public static void sgemm(Backend backend, boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb,
                             float beta, float[] c, int cOffset, int ldc) {
        check(m, n, k, transA, a, aOffset, lda, transB, b, bOffset, ldb, c, cOffset, ldc);
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            // both backends: C = beta * C, A and B unread (OpenBLAS would still multiply NaNs in them by zero)
            scale(beta, m, n, c, cOffset, ldc);
            return;
        }
        if (backend == Backend.BLAS) {
            Blas.sgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc);
        } else {
            javaSgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc);
        }
    }

    /**
     * @return the backend chosen once from {@value #BACKEND_PROPERTY} and the presence of a BLAS library
     * @throws IllegalStateException if {@value #BACKEND_PROPERTY} has an unknown value
     */
    public static Backend backend() {
        if (SELECTED instanceof Selection selection) {
            return selection.backend();
        }
        throw new IllegalStateException((String) SELECTED);
    }

    /**
     * Makes OpenBLAS multiply on the calling thread alone (one thread per call, process-wide) when BLAS is the backend;
     * nothing otherwise. For processes whose ranks or model threads multiply at once: OpenBLAS's own threads on top of
     * them oversubscribe the cores (on a loaded 2-core machine a step's barrier once timed out after 60 s), and with
     * some of OpenBLAS's kernel sets (its Haswell sgemm, seen on a 2-vCPU machine) a product's last bits depend on how
     * many threads the call got, which concurrent callers make a matter of timing. With one thread per call, a run's
     * numbers do not depend on how its ranks were launched (threads of one JVM, or one JVM each).
     */
    public static void oneBlasThreadPerCall() {
        if (SELECTED instanceof Selection selection && selection.backend() == Backend.BLAS) {
            Blas.threads(1);
        }
    }

    private static boolean autoSelected() {
        return ((Selection) SELECTED).auto();
    }

    /** The backend chosen, and whether by {@code auto}. */
    record Selection(Backend backend, boolean auto) {
    }

    /**
     * Maps the property's value to a backend.
     *
     * @param value the value of {@value #BACKEND_PROPERTY}, or {@code null} when unset
     * @param blasAvailable whether a BLAS library is found (asked only for {@code auto})
     * @return the selection
     * @throws IllegalArgumentException for an unknown value
     */
    static Selection select(String value, BooleanSupplier blasAvailable) {
        String v = value == null ? "auto" : value.strip().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto" -> new Selection(blasAvailable.getAsBoolean() ? Backend.BLAS : Backend.JAVA, true);
            case "java" -> new Selection(Backend.JAVA, false);
            case "blas" -> new Selection(Backend.BLAS, false);
            default -> throw new IllegalArgumentException("unknown matrix multiply backend: " + BACKEND_PROPERTY + "="
                    + value + ", expected auto, java or blas");
        };
    }

    private static Object selectOnce() {
        try {
            return select(System.getProperty(BACKEND_PROPERTY), Blas::available);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    // ---- the Java kernel

    /** Per-thread buffers: one packed {@code KC x NC} block of op(B), row by row, and two C row segments. */
    private static final class Scratch {
        final float[][] packed = new float[KC][NC];
        final float[] acc0 = new float[NC];
        final float[] acc1 = new float[NC];
    }

    /**
     * Blocked over n ({@link #NC}) and k ({@link #KC}); each block of op(B) is packed into per-thread rows, then
     * every two rows of C, copied into per-thread accumulators, take four rank-1 updates per pass over their
     * {@code NC}-wide segment: each packed element loaded once feeds two fused multiply-adds, and every array in
     * the inner loop is indexed by the loop variable alone, the shape C2 turns into vector FMAs (it does not
     * vectorize a loop over two arrays at different offsets, which might alias).
     */
    private static void javaSgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                  float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb,
                                  float beta, float[] c, int cOffset, int ldc) {
        scale(beta, m, n, c, cOffset, ldc);
        Scratch scratch = SCRATCH.get();
        float[][] packed = scratch.packed;
        float[] acc0 = scratch.acc0;
        float[] acc1 = scratch.acc1;
        // op(A)[i, p] = a[aOffset + i * ai + p * ap]
        int ai = transA ? 1 : lda;
        int ap = transA ? lda : 1;
        for (int j0 = 0; j0 < n; j0 += NC) {
            int nc = Math.min(NC, n - j0);
            for (int p0 = 0; p0 < k; p0 += KC) {
                int kc = Math.min(KC, k - p0);
                pack(transB, b, bOffset, ldb, p0, kc, j0, nc, packed);
                int i = 0;
                for (; i + 2 <= m; i += 2) {
                    int c0 = cOffset + i * ldc + j0;
                    int c1 = c0 + ldc;
                    System.arraycopy(c, c0, acc0, 0, nc);
                    System.arraycopy(c, c1, acc1, 0, nc);
                    int x = aOffset + i * ai + p0 * ap;
                    int y = x + ai;
                    int pp = 0;
                    for (; pp + 4 <= kc; pp += 4, x += 4 * ap, y += 4 * ap) {
                        rank4x2(acc0, acc1, nc, packed[pp], packed[pp + 1], packed[pp + 2], packed[pp + 3],
                                alpha * a[x], alpha * a[x + ap], alpha * a[x + 2 * ap], alpha * a[x + 3 * ap],
                                alpha * a[y], alpha * a[y + ap], alpha * a[y + 2 * ap], alpha * a[y + 3 * ap]);
                    }
                    for (; pp < kc; pp++, x += ap, y += ap) {
                        rank1(acc0, nc, packed[pp], alpha * a[x]);
                        rank1(acc1, nc, packed[pp], alpha * a[y]);
                    }
                    System.arraycopy(acc0, 0, c, c0, nc);
                    System.arraycopy(acc1, 0, c, c1, nc);
                }
                if (i < m) {
                    int c0 = cOffset + i * ldc + j0;
                    System.arraycopy(c, c0, acc0, 0, nc);
                    int x = aOffset + i * ai + p0 * ap;
                    int pp = 0;
                    for (; pp + 4 <= kc; pp += 4, x += 4 * ap) {
                        rank4(acc0, nc, packed[pp], packed[pp + 1], packed[pp + 2], packed[pp + 3],
                                alpha * a[x], alpha * a[x + ap], alpha * a[x + 2 * ap], alpha * a[x + 3 * ap]);
                    }
                    for (; pp < kc; pp++, x += ap) {
                        rank1(acc0, nc, packed[pp], alpha * a[x]);
                    }
                    System.arraycopy(acc0, 0, c, c0, nc);
                }
            }
        }
    }

    /** {@code C = beta * C}; with {@code beta == 0} C is overwritten, NaNs included. */
    private static void scale(float beta, int m, int n, float[] c, int cOffset, int ldc) {
        if (beta == 1f) {
            return;
        }
        for (int i = 0; i < m; i++) {
            int ci = cOffset + i * ldc;
            if (beta == 0f) {
                Arrays.fill(c, ci, ci + n, 0f);
            } else {
                for (int j = 0; j < n; j++) {
                    c[ci + j] *= beta;
                }
            }
        }
    }

    private static void rank4x2(float[] acc0, float[] acc1, int nc, float[] b0, float[] b1, float[] b2, float[] b3,
                                float x0, float x1, float x2, float x3, float y0, float y1, float y2, float y3) {
        for (int j = 0; j < nc; j++) {
            float v0 = b0[j];
            float v1 = b1[j];
            float v2 = b2[j];
            float v3 = b3[j];
            float s = Math.fma(x0, v0, acc0[j]);
            float t = Math.fma(y0, v0, acc1[j]);
            s = Math.fma(x1, v1, s);
            t = Math.fma(y1, v1, t);
            s = Math.fma(x2, v2, s);
            t = Math.fma(y2, v2, t);
            acc0[j] = Math.fma(x3, v3, s);
            acc1[j] = Math.fma(y3, v3, t);
        }
    }

    private static void rank4(float[] acc, int nc, float[] b0, float[] b1, float[] b2, float[] b3,
                              float x0, float x1, float x2, float x3) {
        for (int j = 0; j < nc; j++) {
            float s = Math.fma(x0, b0[j], acc[j]);
            s = Math.fma(x1, b1[j], s);
            s = Math.fma(x2, b2[j], s);
            acc[j] = Math.fma(x3, b3[j], s);
        }
    }

    private static void rank1(float[] acc, int nc, float[] b0, float x0) {
        for (int j = 0; j < nc; j++) {
            acc[j] = Math.fma(x0, b0[j], acc[j]);
        }
    }

    /** {@code packed[pp][j] = op(B)[p0 + pp, j0 + j]} for the block. */
    private static void pack(boolean transB, float[] b, int bOffset, int ldb, int p0, int kc, int j0, int nc,
                             float[][] packed) {
        if (!transB) {
            for (int pp = 0; pp < kc; pp++) {
                System.arraycopy(b, bOffset + (p0 + pp) * ldb + j0, packed[pp], 0, nc);
            }
            return;
        }
        // op(B)[p, j] = B[j, p]: write each packed row once, reading down a column of B (the nc rows of B it
        // touches stay in L1 across consecutive packed rows)
        for (int pp = 0; pp < kc; pp++) {
            float[] row = packed[pp];
            int bp = bOffset + j0 * ldb + p0 + pp;
            for (int j = 0; j < nc; j++) {
                row[j] = b[bp + j * ldb];
            }
        }
    }

    // ---- argument checks

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
