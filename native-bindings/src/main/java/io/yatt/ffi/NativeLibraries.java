package io.yatt.ffi;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The native libraries the bindings use, each searched once per JVM with {@link LibrarySearch} and
 * cached, failures included (a failed search is reported again, with the same steps, on every call).
 * Thread-safe.
 */
public final class NativeLibraries {
    private static final ConcurrentHashMap<LibrarySpec, Object> CACHE = new ConcurrentHashMap<>();

    private NativeLibraries() {
    }

    /**
     * @return the CUDA runtime
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NativeLibrary cudart() {
        return load(LibrarySpec.CUDART);
    }

    /**
     * @return NCCL
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NativeLibrary nccl() {
        return load(LibrarySpec.NCCL);
    }

    /**
     * @return the CUDA driver library ({@code libcuda.so.1}), present only where an NVIDIA driver is installed
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NativeLibrary cudaDriver() {
        return load(LibrarySpec.CUDA_DRIVER);
    }

    /**
     * @return a CBLAS library (OpenBLAS preferred), present only where one is installed
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NativeLibrary blas() {
        return load(LibrarySpec.BLAS);
    }

    /**
     * Searches a library with this JVM's properties and environment, once; later calls return the
     * cached result or throw a fresh exception with the cached report.
     *
     * @param spec what to search for
     * @return the loaded library
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NativeLibrary load(LibrarySpec spec) {
        Object result = CACHE.computeIfAbsent(spec, NativeLibraries::search);
        if (result instanceof NativeLibrary library) {
            return library;
        }
        LibraryNotFoundException failure = (LibraryNotFoundException) result;
        throw new LibraryNotFoundException(failure.library(), failure.getMessage(), failure.searchReport());
    }

    private static Object search(LibrarySpec spec) {
        try {
            return LibrarySearch.of(spec).load();
        } catch (LibraryNotFoundException e) {
            return e;
        }
    }
}
