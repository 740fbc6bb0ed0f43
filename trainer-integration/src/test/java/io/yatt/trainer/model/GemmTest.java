package io.yatt.trainer.model;

import io.yatt.ffi.blas.Blas;
import io.yatt.trainer.model.Gemm.Backend;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Both backends against hand-derived products and an f64 reference; BLAS cases skip without a CBLAS library. The
 * stated tolerance: an f32 sum of k products differs from the exact value by at most {@code (k + 1) * 2^-24 *
 * S} with {@code S = |alpha| * sum_p |a_ip * b_pj| + |beta * c_ij|}, so one backend is within that of the f64
 * reference and the two backends within twice that, {@code (k + 1) * 2^-23 * S}, of each other; the tests use
 * {@code (k + 2) * 2^-23 * S}, the bound in {@link Gemm}'s documentation.
 */
class GemmTest {
    // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]: A*B = [[58,64],[139,154]] (1*7+2*9+3*11 = 58, ...)
    private static final float[] A = {1, 2, 3, 4, 5, 6};
    private static final float[] A_T = {1, 4, 2, 5, 3, 6};
    private static final float[] B = {7, 8, 9, 10, 11, 12};
    private static final float[] B_T = {7, 9, 11, 8, 10, 12};
    private static final float[] AB = {58, 64, 139, 154};
    private static final String NO_BLAS = "no CBLAS library (install Debian's libopenblas0 or set YATT_BLAS_LIBRARY)";

    private static void requireBackend(Backend backend) {
        if (backend == Backend.BLAS) {
            assumeTrue(Blas.available(), NO_BLAS);
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldMultiplyEveryTransposeCombination(Backend backend) {
        requireBackend(backend);
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                float[] c = new float[4];
                Gemm.sgemm(backend, transA, transB, 2, 2, 3, 1f, transA ? A_T : A, 0, transA ? 2 : 3,
                        transB ? B_T : B, 0, transB ? 3 : 2, 0f, c, 0, 2);
                assertArrayEquals(AB, c, "transA=" + transA + ", transB=" + transB);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldScaleByAlphaAndAccumulateBetaTimesC(Backend backend) {
        requireBackend(backend);
        float[] c = {1, 1, 1, 1};
        Gemm.sgemm(backend, false, false, 2, 2, 3, 2f, A, 0, 3, B, 0, 2, 0.5f, c, 0, 2);
        assertArrayEquals(new float[] {116.5f, 128.5f, 278.5f, 308.5f}, c);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldAddToCWhenBetaIsOne(Backend backend) {
        requireBackend(backend);
        float[] c = {1, 2, 3, 4};
        Gemm.sgemm(backend, false, false, 2, 2, 3, 1f, A, 0, 3, B, 0, 2, 1f, c, 0, 2);
        assertArrayEquals(new float[] {59, 66, 142, 158}, c);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldOverwriteNanInCWhenBetaIsZero(Backend backend) {
        requireBackend(backend);
        float[] c = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
        Gemm.sgemm(backend, false, false, 2, 2, 3, 1f, A, 0, 3, B, 0, 2, 0f, c, 0, 2);
        assertArrayEquals(AB, c);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldOnlyScaleCWhenKIsZero(Backend backend) {
        requireBackend(backend);
        float[] c = {1, 2, 3, 4};
        Gemm.sgemm(backend, false, false, 2, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 2, -2f, c, 0, 2);
        assertArrayEquals(new float[] {-2, -4, -6, -8}, c);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldNotReadAOrBWhenAlphaIsZero(Backend backend) {
        requireBackend(backend);
        float[] a = {Float.NaN, 2, 3, 4, 5, 6};
        float[] c = {1, 2, 3, 4};
        Gemm.sgemm(backend, false, false, 2, 2, 3, 0f, a, 0, 3, B, 0, 2, 3f, c, 0, 2);
        assertArrayEquals(new float[] {3, 6, 9, 12}, c);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldLeaveCUntouchedWhenMOrNIsZero(Backend backend) {
        requireBackend(backend);
        float[] c = {Float.NaN};
        Gemm.sgemm(backend, false, false, 0, 1, 3, 1f, A, 0, 3, B, 0, 2, 0f, c, 0, 1);
        Gemm.sgemm(backend, false, false, 1, 0, 3, 1f, A, 0, 3, B, 0, 2, 0f, c, 0, 1);
        assertTrue(Float.isNaN(c[0]));
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldReadAndWriteSubMatricesAtOffsetsWithLeadingDimensions(Backend backend) {
        requireBackend(backend);
        // A at offset 1 with lda 4 (one padding column), B at offset 2 with ldb 3, C at offset 3 with ldc 3
        float[] a = {-1, 1, 2, 3, -1, 4, 5, 6};
        float[] b = {-1, -1, 7, 8, -1, 9, 10, -1, 11, 12};
        float[] c = {-5, -5, -5, 0, 0, -5, 0, 0, -5};
        Gemm.sgemm(backend, false, false, 2, 2, 3, 1f, a, 1, 4, b, 2, 3, 0f, c, 3, 3);
        assertArrayEquals(new float[] {-5, -5, -5, 58, 64, -5, 139, 154, -5}, c);
    }

    @Test
    void shouldMatchTheF64ReferenceOnRandomShapesInJava() {
        Random random = new Random(20261201L);
        for (int trial = 0; trial < 300; trial++) {
            Case x = Case.random(random, trial);
            float[] c = x.c.clone();
            x.run(Backend.JAVA, c);
            x.assertWithin(x.reference(), c, 1, "java vs f64");
        }
    }

    @Test
    void shouldMatchTheF64ReferenceOnRandomShapesInBlas() {
        assumeTrue(Blas.available(), NO_BLAS);
        Random random = new Random(20261202L);
        for (int trial = 0; trial < 300; trial++) {
            Case x = Case.random(random, trial);
            float[] c = x.c.clone();
            x.run(Backend.BLAS, c);
            x.assertWithin(x.reference(), c, 1, "blas vs f64");
        }
    }

    @Test
    void shouldLeaveOpenBlasOneThreadPerCallWhenItMultiplies() {
        assumeTrue(Blas.available() && Blas.openBlas(), NO_BLAS);
        assumeTrue(Gemm.backend() == Backend.BLAS, "the backend chosen is " + Gemm.backend());
        int before = Blas.threads();
        try {
            Blas.threads(2);
            Gemm.oneBlasThreadPerCall();
            assertEquals(1, Blas.threads());
        } finally {
            Blas.threads(before);
        }
    }

    @Test
    void shouldAgreeWithBlasOnRandomShapes() {
        assumeTrue(Blas.available(), NO_BLAS);
        Random random = new Random(20261203L);
        for (int trial = 0; trial < 300; trial++) {
            Case x = Case.random(random, trial);
            float[] java = x.c.clone();
            float[] blas = x.c.clone();
            x.run(Backend.JAVA, java);
            x.run(Backend.BLAS, blas);
            double[] blasAsReference = new double[blas.length];
            for (int i = 0; i < blas.length; i++) {
                blasAsReference[i] = blas[i];
            }
            x.assertWithin(blasAsReference, java, 2, "java vs blas");
        }
    }

    @Test
    void shouldAgreeWithBlasOnTheModelShapes() {
        assumeTrue(Blas.available(), NO_BLAS);
        Random random = new Random(7);
        // [tokens, hidden] x [out, hidden]^T for a 512-wide model, and its two backward products
        int tokens = 96;
        int hidden = 512;
        int out = 1376;
        int[][] shapes = {{tokens, out, hidden, 0, 1}, {tokens, hidden, out, 0, 0}, {out, hidden, tokens, 1, 0}};
        for (int[] s : shapes) {
            Case x = Case.of(random, s[0], s[1], s[2], s[3] == 1, s[4] == 1, 1f, 0f, 0, 0, 0, 0, 0, 0);
            float[] java = x.c.clone();
            float[] blas = x.c.clone();
            x.run(Backend.JAVA, java);
            x.run(Backend.BLAS, blas);
            x.assertWithin(x.reference(), java, 1, "java vs f64, " + x);
            x.assertWithin(x.reference(), blas, 1, "blas vs f64, " + x);
        }
    }

    @Test
    void shouldUseTheSelectedBackendForLargeProductsAndJavaForSmallOnes() {
        Random random = new Random(11);
        Case small = Case.of(random, 2, 4, 8, false, true, 1f, 0f, 0, 0, 0, 0, 0, 0);
        Case large = Case.of(random, 32, 40, 48, false, true, 1f, 0f, 0, 0, 0, 0, 0, 0);
        assertTrue(2L * 4 * 8 < Gemm.BLAS_MIN_WORK);
        assertFalse(32L * 40 * 48 < Gemm.BLAS_MIN_WORK);
        float[] viaDefault = small.c.clone();
        float[] viaJava = small.c.clone();
        small.runDefault(viaDefault);
        small.run(Backend.JAVA, viaJava);
        assertArrayEquals(viaJava, viaDefault);
        float[] viaDefaultLarge = large.c.clone();
        float[] viaSelected = large.c.clone();
        large.runDefault(viaDefaultLarge);
        large.run(Gemm.backend(), viaSelected);
        assertArrayEquals(viaSelected, viaDefaultLarge);
    }

    @Test
    void shouldGiveEveryThreadItsOwnProductWhenThreadsMultiplyAtOnce() throws Exception {
        Random random = new Random(13);
        int threads = 4;
        Case[] cases = new Case[threads];
        float[][][] expected = new float[threads][2][];
        for (int t = 0; t < threads; t++) {
            cases[t] = Case.of(random, 33 + t, 70, 300, t % 2 == 0, t % 3 == 0, 1f, 0.5f, t, 1, 2, 0, 1, 3);
            for (Backend backend : Backend.values()) {
                if (backend == Backend.BLAS && !Blas.available()) {
                    continue;
                }
                expected[t][backend.ordinal()] = cases[t].c.clone();
                cases[t].run(backend, expected[t][backend.ordinal()]);
            }
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            java.util.List<java.util.concurrent.Future<?>> futures = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                futures.add(pool.submit(() -> {
                    for (int round = 0; round < 20; round++) {
                        for (Backend backend : Backend.values()) {
                            if (expected[id][backend.ordinal()] == null) {
                                continue;
                            }
                            float[] c = cases[id].c.clone();
                            cases[id].run(backend, c);
                            assertArrayEquals(expected[id][backend.ordinal()], c, backend + ", thread " + id);
                        }
                    }
                }));
            }
            for (java.util.concurrent.Future<?> future : futures) {
                future.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void shouldSelectBlasWhenFoundAndJavaOtherwise() {
        assertEquals(new Gemm.Selection(Backend.BLAS, true), Gemm.select(null, () -> true));
        assertEquals(new Gemm.Selection(Backend.JAVA, true), Gemm.select(null, () -> false));
        assertEquals(new Gemm.Selection(Backend.BLAS, true), Gemm.select("auto", () -> true));
    }

    @Test
    void shouldPickBlasForThisJvmExactlyWhenALibraryIsFound() {
        assumeTrue(System.getProperty(Gemm.BACKEND_PROPERTY) == null, "yatt.gemm is set for this run");
        assertEquals(Blas.available() ? Backend.BLAS : Backend.JAVA, Gemm.backend());
    }

    @Test
    void shouldForceABackendWithoutLookingForBlas() {
        assertEquals(new Gemm.Selection(Backend.JAVA, false),
                Gemm.select("java", () -> fail("java must not search BLAS")));
        assertEquals(new Gemm.Selection(Backend.BLAS, false),
                Gemm.select(" BLAS ", () -> fail("blas must not search BLAS")));
    }

    @Test
    void shouldRejectAnUnknownBackendName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.select("mkl", () -> true));
        assertEquals("unknown matrix multiply backend: yatt.gemm=mkl, expected auto, java or blas", e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldRejectNegativeSizes(Backend backend) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(backend, false, false, -1, 2, 3, 1f, A, 0, 3, B, 0, 2, 0f, new float[4], 0, 2));
        assertEquals("sizes must be non-negative: m=-1, n=2, k=3", e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldRejectALeadingDimensionSmallerThanTheRow(Backend backend) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(backend, true, false, 2, 2, 3, 1f, A_T, 0, 1, B, 0, 2, 0f, new float[4], 0, 2));
        assertEquals("leading dimension of A too small: ld=1, expected at least 2", e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldRejectAMatrixPastTheEndOfItsArray(Backend backend) {
        float[] c = {7, 7, 7, 7};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(backend, false, false, 2, 2, 3, 1f, A, 0, 3, B, 0, 2, 0f, c, 1, 2));
        assertEquals("C does not fit its array: offset=1, rows=2, cols=2, ld=2, length=4", e.getMessage());
        assertArrayEquals(new float[] {7, 7, 7, 7}, c);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void shouldRejectANegativeOffset(Backend backend) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(backend, false, true, 2, 2, 3, 1f, A, 0, 3, B_T, -1, 3, 0f, new float[4], 0, 2));
        assertEquals("B does not fit its array: offset=-1, rows=2, cols=3, ld=3, length=6", e.getMessage());
    }

    /** One random problem: shapes, transposes, alpha, beta, offsets and padded leading dimensions. */
    private record Case(boolean transA, boolean transB, int m, int n, int k, float alpha, float beta,
                        float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb, float[] c, int cOffset,
                        int ldc) {

        static Case random(Random random, int trial) {
            int m;
            int n;
            int k;
            if (trial % 25 == 0) {
                // past the Java kernel's blocks (256 x 256) in n and k, odd everywhere
                m = 1 + random.nextInt(5);
                n = 257 + random.nextInt(300);
                k = 257 + random.nextInt(300);
            } else {
                m = random.nextInt(trial % 7 == 0 ? 3 : 40);
                n = random.nextInt(trial % 11 == 0 ? 3 : 40);
                k = trial % 13 == 0 ? 0 : random.nextInt(70);
            }
            float[] alphas = {1f, -1f, 0.75f, 2.5f};
            float[] betas = {0f, 1f, -0.5f, 3f};
            return of(random, m, n, k, random.nextBoolean(), random.nextBoolean(), alphas[random.nextInt(4)],
                    betas[random.nextInt(4)], random.nextInt(3), random.nextInt(4), random.nextInt(3),
                    random.nextInt(4), random.nextInt(3), random.nextInt(4));
        }

        static Case of(Random random, int m, int n, int k, boolean transA, boolean transB, float alpha, float beta,
                       int aOffset, int aPad, int bOffset, int bPad, int cOffset, int cPad) {
            int aRows = transA ? k : m;
            int aCols = transA ? m : k;
            int bRows = transB ? n : k;
            int bCols = transB ? k : n;
            int lda = Math.max(1, aCols) + aPad;
            int ldb = Math.max(1, bCols) + bPad;
            int ldc = Math.max(1, n) + cPad;
            float[] a = filled(random, aOffset + aRows * lda + 2);
            float[] b = filled(random, bOffset + bRows * ldb + 2);
            float[] c = filled(random, cOffset + m * ldc + 2);
            return new Case(transA, transB, m, n, k, alpha, beta, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc);
        }

        private static float[] filled(Random random, int length) {
            float[] x = new float[length];
            for (int i = 0; i < length; i++) {
                x[i] = (float) (random.nextGaussian());
            }
            return x;
        }

        void run(Backend backend, float[] out) {
            Gemm.sgemm(backend, transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, out,
                    cOffset, ldc);
        }

        void runDefault(float[] out) {
            Gemm.sgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, out, cOffset, ldc);
        }

        float opA(int i, int p) {
            return transA ? a[aOffset + p * lda + i] : a[aOffset + i * lda + p];
        }

        float opB(int p, int j) {
            return transB ? b[bOffset + j * ldb + p] : b[bOffset + p * ldb + j];
        }

        /** The exact product in f64 over the whole array (elements outside the C matrix keep their values). */
        double[] reference() {
            double[] r = new double[c.length];
            for (int i = 0; i < c.length; i++) {
                r[i] = c[i];
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int p = 0; p < k; p++) {
                        sum += (double) opA(i, p) * opB(p, j);
                    }
                    int at = cOffset + i * ldc + j;
                    r[at] = (double) alpha * sum + (beta == 0f ? 0 : (double) beta * c[at]);
                }
            }
            return r;
        }

        /** Element-wise: within {@code factor * (k + 2) * 2^-24 * S} inside C, bit-equal outside it. */
        void assertWithin(double[] expected, float[] actual, int factor, String what) {
            for (int idx = 0; idx < c.length; idx++) {
                int rel = idx - cOffset;
                boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
                if (!inside) {
                    assertEquals(Float.floatToRawIntBits(c[idx]), Float.floatToRawIntBits(actual[idx]),
                            what + ": element " + idx + " outside C changed, " + this);
                    continue;
                }
                int i = rel / ldc;
                int j = rel % ldc;
                double s = beta == 0f ? 0 : Math.abs((double) beta * c[idx]);
                for (int p = 0; p < k; p++) {
                    s += Math.abs((double) alpha * opA(i, p) * opB(p, j));
                }
                double bound = factor * (k + 2) * Math.scalb(1.0, -24) * s;
                double error = Math.abs(expected[idx] - actual[idx]);
                if (!(error <= bound)) {
                    fail(what + ": C[" + i + "," + j + "] = " + actual[idx] + ", expected " + expected[idx]
                            + " within " + bound + ", " + this);
                }
            }
        }

        @Override
        public String toString() {
            return "m=" + m + ", n=" + n + ", k=" + k + ", transA=" + transA + ", transB=" + transB + ", alpha="
                    + alpha + ", beta=" + beta + ", lda=" + lda + ", ldb=" + ldb + ", ldc=" + ldc + ", offsets="
                    + Arrays.toString(new int[] {aOffset, bOffset, cOffset});
        }
    }
}
