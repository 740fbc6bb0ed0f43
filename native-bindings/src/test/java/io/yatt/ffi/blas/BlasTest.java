package io.yatt.ffi.blas;

import io.yatt.ffi.NativeLibrary;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Needs a CBLAS library (Debian: libopenblas0, installed by scripts/test); skips without one. */
class BlasTest {
    // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]: A*B = [[58,64],[139,154]] (1*7+2*9+3*11 = 58, ...)
    private static final float[] A = {1, 2, 3, 4, 5, 6};
    private static final float[] A_T = {1, 4, 2, 5, 3, 6};
    private static final float[] B = {7, 8, 9, 10, 11, 12};
    private static final float[] B_T = {7, 9, 11, 8, 10, 12};
    private static final float[] AB = {58, 64, 139, 154};

    @BeforeEach
    void requireBlas() {
        assumeTrue(Blas.available(), "no CBLAS library (install Debian's libopenblas0 or set YATT_BLAS_LIBRARY)");
    }

    @Test
    void shouldMultiplyRowMajorMatrices() {
        float[] c = new float[4];
        Blas.sgemm(false, false, 2, 2, 3, 1f, A, 0, 3, B, 0, 2, 0f, c, 0, 2);
        assertArrayEquals(AB, c);
    }

    @Test
    void shouldMultiplyEveryTransposeCombination() {
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                float[] c = new float[4];
                Blas.sgemm(transA, transB, 2, 2, 3, 1f, transA ? A_T : A, 0, transA ? 2 : 3,
                        transB ? B_T : B, 0, transB ? 3 : 2, 0f, c, 0, 2);
                assertArrayEquals(AB, c, "transA=" + transA + ", transB=" + transB);
            }
        }
    }

    @Test
    void shouldScaleByAlphaAndAccumulateBetaTimesC() {
        float[] c = {1, 1, 1, 1};
        Blas.sgemm(false, false, 2, 2, 3, 2f, A, 0, 3, B, 0, 2, 0.5f, c, 0, 2);
        assertArrayEquals(new float[] {116.5f, 128.5f, 278.5f, 308.5f}, c);
    }

    @Test
    void shouldOverwriteNanInCWhenBetaIsZero() {
        float[] c = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
        Blas.sgemm(false, false, 2, 2, 3, 1f, A, 0, 3, B, 0, 2, 0f, c, 0, 2);
        assertArrayEquals(AB, c);
    }

    @Test
    void shouldOnlyScaleCWhenKIsZero() {
        float[] c = {1, 2, 3, 4};
        Blas.sgemm(false, false, 2, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 2, 3f, c, 0, 2);
        assertArrayEquals(new float[] {3, 6, 9, 12}, c);
    }

    @Test
    void shouldReadAndWriteSubMatricesAtOffsetsWithLeadingDimensions() {
        // A at offset 1 with lda 4 (one padding column), B at offset 2 with ldb 3, C at offset 3 with ldc 3
        float[] a = {-1, 1, 2, 3, -1, 4, 5, 6};
        float[] b = {-1, -1, 7, 8, -1, 9, 10, -1, 11, 12};
        float[] c = {-5, -5, -5, 0, 0, -5, 0, 0, -5};
        Blas.sgemm(false, false, 2, 2, 3, 1f, a, 1, 4, b, 2, 3, 0f, c, 3, 3);
        assertArrayEquals(new float[] {-5, -5, -5, 58, 64, -5, 139, 154, -5}, c);
    }

    @Test
    void shouldMultiplyNativeSegments() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocateFrom(ValueLayout.JAVA_FLOAT, A);
            MemorySegment b = arena.allocateFrom(ValueLayout.JAVA_FLOAT, B);
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
            Blas.sgemm(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 2);
            assertArrayEquals(AB, c.toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    @Test
    void shouldRejectNegativeSizes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Blas.sgemm(false, false, 2, -1, 3, 1f, A, 0, 3, B, 0, 2, 0f, new float[4], 0, 2));
        assertEquals("sizes must be non-negative: m=2, n=-1, k=3", e.getMessage());
    }

    @Test
    void shouldRejectALeadingDimensionSmallerThanTheRow() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Blas.sgemm(false, false, 2, 2, 3, 1f, A, 0, 2, B, 0, 2, 0f, new float[4], 0, 2));
        assertEquals("leading dimension of A too small: ld=2, expected at least 3", e.getMessage());
    }

    @Test
    void shouldRejectAMatrixPastTheEndOfItsArray() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Blas.sgemm(false, false, 2, 2, 3, 1f, A, 0, 3, B, 1, 2, 0f, new float[4], 0, 2));
        assertEquals("B does not fit its array: offset=1, rows=3, cols=2, ld=2, length=6", e.getMessage());
    }

    @Test
    void shouldRejectASegmentTooSmallForItsMatrix() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Blas.sgemm(false, false,
                    2, 2, 3, 1f, MemorySegment.ofArray(A), 3, MemorySegment.ofArray(B), 2, 0f, c, 2));
            assertEquals("C does not fit its segment: rows=2, cols=2, ld=2, requiredBytes=16, byteSize=12",
                    e.getMessage());
        }
    }

    @Test
    void shouldRejectAReadOnlyC() {
        MemorySegment c = MemorySegment.ofArray(new float[4]).asReadOnly();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Blas.sgemm(false, false,
                2, 2, 3, 1f, MemorySegment.ofArray(A), 3, MemorySegment.ofArray(B), 2, 0f, c, 2));
        assertEquals("C is read-only: byteSize=16", e.getMessage());
    }

    @Test
    void shouldRejectFewerThanOneThread() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Blas.threads(0));
        assertEquals("threads must be at least 1: threads=0", e.getMessage());
    }

    @Test
    void shouldSetAndReadOpenBlasThreads() {
        assumeTrue(Blas.openBlas(), "the CBLAS library found is not OpenBLAS");
        int before = Blas.threads();
        try {
            Blas.threads(1);
            assertEquals(1, Blas.threads());
        } finally {
            Blas.threads(before);
        }
        assertEquals(before, Blas.threads());
    }

    @Test
    void shouldDescribeOpenBlasBuild() {
        assumeTrue(Blas.openBlas(), "the CBLAS library found is not OpenBLAS");
        assertTrue(Blas.config().orElseThrow().startsWith("OpenBLAS "), Blas.config().orElseThrow());
    }

    @Test
    void shouldNameTheKernelSetItsConfigNamesAndTheOneTheEnvironmentAskedFor() {
        assumeTrue(Blas.openBlas(), "the CBLAS library found is not OpenBLAS");
        String core = Blas.coreName().orElseThrow();
        assertTrue(Blas.config().orElseThrow().contains(core), Blas.config().orElseThrow() + " / " + core);
        String asked = System.getenv("OPENBLAS_CORETYPE");
        if (asked != null && !asked.isBlank()) {
            assertEquals(asked.strip().toLowerCase(Locale.ROOT), core.toLowerCase(Locale.ROOT));
        }
    }

    @Test
    void shouldReportTheLoadedFileAndHowItWasFound() {
        NativeLibrary library = Blas.library();
        String file = library.path().getFileName().toString();
        assertTrue(file.startsWith("libopenblas") || file.startsWith("libblas"), file);
        assertFalse(library.searchReport().isEmpty());
        assertTrue(library.searchReport().getLast().endsWith(": loaded " + library.path()),
                library.searchReport().getLast());
    }
}
