package io.yatt.ffi.blas.raw;

import io.yatt.ffi.LibrarySpec;
import io.yatt.ffi.internal.Downcalls;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Raw downcalls into a CBLAS library ({@code libopenblas.so.0} or {@code libblas.so.3}), one static method per C
 * function with the C name, primitives and {@link MemorySegment} only, each symbol linked lazily on first use. The
 * matrix calls are linked {@link Linker.Option#critical(boolean) critical} with heap access, so segments over Java
 * arrays ({@link MemorySegment#ofArray(float[])}) are passed without a copy. Nothing is checked here: a matrix that
 * does not fit its segment corrupts memory; {@code io.yatt.ffi.blas} checks. Thread-safe (stateless).
 */
public final class CblasLib {
    /** {@code CblasRowMajor} of {@code enum CBLAS_ORDER}. */
    public static final int CblasRowMajor = 101;
    /** {@code CblasColMajor} of {@code enum CBLAS_ORDER}. */
    public static final int CblasColMajor = 102;
    /** {@code CblasNoTrans} of {@code enum CBLAS_TRANSPOSE}. */
    public static final int CblasNoTrans = 111;
    /** {@code CblasTrans} of {@code enum CBLAS_TRANSPOSE}. */
    public static final int CblasTrans = 112;

    private CblasLib() {
    }

    private static final class cblas_sgemm {
        static final FunctionDescriptor DESC = FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.BLAS, "cblas_sgemm", DESC,
                Linker.Option.critical(true));
    }
    /**
     * {@code void cblas_sgemm(CBLAS_ORDER Order, CBLAS_TRANSPOSE TransA, CBLAS_TRANSPOSE TransB, blasint M,
     * blasint N, blasint K, float alpha, const float *A, blasint lda, const float *B, blasint ldb, float beta,
     * float *C, blasint ldc)}; linked critical with heap access (the call cannot be interrupted by a safepoint).
     */
    public static void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
                                   MemorySegment a, int lda, MemorySegment b, int ldb, float beta,
                                   MemorySegment c, int ldc) {
        try {
            cblas_sgemm.HANDLE.invokeExact(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class openblas_set_num_threads {
        static final FunctionDescriptor DESC = FunctionDescriptor.ofVoid(JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.BLAS, "openblas_set_num_threads", DESC);
    }
    /**
     * {@code void openblas_set_num_threads(int num_threads)} (OpenBLAS only): threads of later calls, process-wide.
     */
    public static void openblas_set_num_threads(int numThreads) {
        try {
            openblas_set_num_threads.HANDLE.invokeExact(numThreads);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class openblas_get_num_threads {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.BLAS, "openblas_get_num_threads", DESC);
    }
    /**
     * {@code int openblas_get_num_threads(void)} (OpenBLAS only).
     */
    public static int openblas_get_num_threads() {
        try {
            return (int) openblas_get_num_threads.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class openblas_get_config {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.BLAS, "openblas_get_config", DESC);
    }
    /**
     * {@code char *openblas_get_config(void)} (OpenBLAS only): build options and version, a static
     * NUL-terminated string (returned as a zero-length segment; reinterpret to read it).
     */
    public static MemorySegment openblas_get_config() {
        try {
            return (MemorySegment) openblas_get_config.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class openblas_get_corename {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.BLAS, "openblas_get_corename", DESC);
    }
    /**
     * {@code char *openblas_get_corename(void)} (OpenBLAS only): the CPU kernel set in use, e.g. {@code Haswell}
     * (returned as a zero-length segment; reinterpret to read it).
     */
    public static MemorySegment openblas_get_corename() {
        try {
            return (MemorySegment) openblas_get_corename.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }
}
