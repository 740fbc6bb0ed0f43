package io.yatt.ffi.blas;

import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.LibrarySpec;
import io.yatt.ffi.NativeLibraries;
import io.yatt.ffi.NativeLibrary;
import io.yatt.ffi.blas.raw.CblasLib;
import io.yatt.ffi.internal.Downcalls;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * Static facade over a CBLAS library (OpenBLAS preferred, found by {@link NativeLibraries#blas()}):
 * availability, OpenBLAS's configuration and thread count, and {@code cblas_sgemm} on row-major matrices in
 * Java arrays (passed without a copy) or memory segments, with every argument checked so that a call never
 * touches memory outside its matrices. Without a library every call except {@link #available()} throws
 * {@link LibraryNotFoundException} listing where it looked. Thread-safe.
 */
@SuppressWarnings("restricted")
public final class Blas {
    private static final long MAX_STRING_BYTES = 4096;

    private Blas() {
    }

    /** @return whether a CBLAS library was found and loaded (never throws) */
    public static boolean available() {
        try {
            NativeLibraries.blas();
            return true;
        } catch (LibraryNotFoundException e) {
            return false;
        }
    }

    /**
     * @return the loaded library, with the search that found it
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NativeLibrary library() {
        return NativeLibraries.blas();
    }

    /**
     * @return whether the loaded library is OpenBLAS (exports {@code openblas_get_config})
     * @throws LibraryNotFoundException listing every place tried
     */
    public static boolean openBlas() {
        NativeLibraries.blas();
        return Downcalls.available(LibrarySpec.BLAS, "openblas_get_config");
    }

    /**
     * @return OpenBLAS's build description ({@code openblas_get_config}, e.g. {@code OpenBLAS 0.3.21 DYNAMIC_ARCH
     *         NO_AFFINITY Haswell MAX_THREADS=64}) followed by its kernel set; empty for another CBLAS
     * @throws LibraryNotFoundException listing every place tried
     */
    public static Optional<String> config() {
        if (!openBlas()) {
            return Optional.empty();
        }
        String config = text(CblasLib.openblas_get_config()).strip();
        Optional<String> core = coreName();
        if (core.isPresent() && !config.contains(core.get())) {
            config = config + " (core " + core.get() + ")";
        }
        return Optional.of(config);
    }

    /**
     * @return the CPU kernel set OpenBLAS chose at load ({@code openblas_get_corename}, e.g. {@code Haswell} or
     *         {@code SkylakeX}: a CPU this OpenBLAS does not know gets an older set, which its environment variable
     *         {@code OPENBLAS_CORETYPE}, read when the library loads, overrides); empty for another CBLAS or an OpenBLAS
     *         without that function. Products of different kernel sets may differ in their last bits.
     * @throws LibraryNotFoundException listing every place tried
     */
    public static Optional<String> coreName() {
        if (!openBlas() || !Downcalls.available(LibrarySpec.BLAS, "openblas_get_corename")) {
            return Optional.empty();
        }
        String core = text(CblasLib.openblas_get_corename()).strip();
        return core.isEmpty() ? Optional.empty() : Optional.of(core);
    }

    /**
     * @return the threads OpenBLAS uses per call ({@code openblas_get_num_threads}); 1 for another CBLAS
     * @throws LibraryNotFoundException listing every place tried
     */
    public static int threads() {
        if (!openBlas()) {
            return 1;
        }
        return CblasLib.openblas_get_num_threads();
    }

    /**
     * Sets the threads OpenBLAS uses per call, process-wide ({@code openblas_set_num_threads}).
     *
     * @param threads threads, at least 1
     * @throws IllegalArgumentException if {@code threads} is below 1
     * @throws UnsupportedOperationException if the library is not OpenBLAS and {@code threads} is not 1
     * @throws LibraryNotFoundException listing every place tried
     */
    public static void threads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: threads=" + threads);
        }
        if (!openBlas()) {
            if (threads != 1) {
                throw new UnsupportedOperationException("cannot set BLAS threads: library=" + library().path()
                        + " has no openblas_set_num_threads, threads=" + threads);
            }
            return;
        }
        CblasLib.openblas_set_num_threads(threads);
    }

    /**
     * {@code C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n]} on row-major matrices in arrays
     * ({@code cblas_sgemm} with {@code CblasRowMajor}); the arrays are passed to the library without a copy. Offsets
     * and leading dimensions are in elements. With {@code beta == 0}, C is overwritten (NaNs in it included).
     *
     * @throws IllegalArgumentException if a size is negative, a leading dimension too small or a matrix does not fit
     *         in its array
     * @throws LibraryNotFoundException listing every place tried
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb,
                             float beta, float[] c, int cOffset, int ldc) {
        SgemmChecks.sizes(m, n, k);
        SgemmChecks.fitsArray("A", a.length, aOffset, lda, transA ? k : m, transA ? m : k);
        SgemmChecks.fitsArray("B", b.length, bOffset, ldb, transB ? n : k, transB ? k : n);
        SgemmChecks.fitsArray("C", c.length, cOffset, ldc, m, n);
        if (m == 0 || n == 0) {
            return;
        }
        CblasLib.cblas_sgemm(CblasLib.CblasRowMajor, transA ? CblasLib.CblasTrans : CblasLib.CblasNoTrans,
                transB ? CblasLib.CblasTrans : CblasLib.CblasNoTrans, m, n, k, alpha,
                MemorySegment.ofArray(a).asSlice(aOffset * (long) Float.BYTES), lda,
                MemorySegment.ofArray(b).asSlice(bOffset * (long) Float.BYTES), ldb, beta,
                MemorySegment.ofArray(c).asSlice(cOffset * (long) Float.BYTES), ldc);
    }

    /**
     * {@code C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n]} on row-major f32 matrices that start at the
     * first byte of their segments (native or over {@code float[]}). Leading dimensions are in elements.
     *
     * @throws IllegalArgumentException if a size is negative, a leading dimension too small, a matrix does not fit
     *         in its segment or a segment is not 4-byte aligned
     * @throws LibraryNotFoundException listing every place tried
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, int lda, MemorySegment b, int ldb,
                             float beta, MemorySegment c, int ldc) {
        SgemmChecks.sizes(m, n, k);
        SgemmChecks.fitsSegment("A", a, lda, transA ? k : m, transA ? m : k);
        SgemmChecks.fitsSegment("B", b, ldb, transB ? n : k, transB ? k : n);
        SgemmChecks.fitsSegment("C", c, ldc, m, n);
        if (c.isReadOnly()) {
            throw new IllegalArgumentException("C is read-only: byteSize=" + c.byteSize());
        }
        if (m == 0 || n == 0) {
            return;
        }
        CblasLib.cblas_sgemm(CblasLib.CblasRowMajor, transA ? CblasLib.CblasTrans : CblasLib.CblasNoTrans,
                transB ? CblasLib.CblasTrans : CblasLib.CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static String text(MemorySegment cString) {
        if (cString.equals(MemorySegment.NULL)) {
            return "";
        }
        return cString.reinterpret(MAX_STRING_BYTES).getString(0);
    }
}
