package io.yatt.ffi;

import java.util.List;
import java.util.Objects;

/**
 * What to look for when searching a native library: its short name, the system property and
 * environment variable that may name the file, the file names to try in order, and a symbol that
 * proves the right library was loaded. Immutable.
 *
 * @param name short name used in messages, e.g. {@code nccl}
 * @param propertyName system property naming the file, e.g. {@code yatt.nccl.library}
 * @param environmentName environment variable naming the file, e.g. {@code YATT_NCCL_LIBRARY}
 * @param fileNames file names to try in each directory, in order
 * @param markerSymbol a symbol the library must export, e.g. {@code ncclGetVersion}
 * @param cudaToolkit whether the library ships with the CUDA toolkit (its folders are searched)
 */
public record LibrarySpec(String name, String propertyName, String environmentName, List<String> fileNames,
        String markerSymbol, boolean cudaToolkit) {

    /** The CUDA runtime, {@code libcudart}. */
    public static final LibrarySpec CUDART = new LibrarySpec("cudart", "yatt.cudart.library", "YATT_CUDART_LIBRARY",
            List.of("libcudart.so", "libcudart.so.13", "libcudart.so.12"), "cudaRuntimeGetVersion", true);

    /** NCCL, {@code libnccl}. */
    public static final LibrarySpec NCCL = new LibrarySpec("nccl", "yatt.nccl.library", "YATT_NCCL_LIBRARY",
            List.of("libnccl.so.2", "libnccl.so"), "ncclGetVersion", true);

    /** The CUDA driver, {@code libcuda}, installed with the NVIDIA kernel driver (optional: only for device names). */
    public static final LibrarySpec CUDA_DRIVER = new LibrarySpec("cuda", "yatt.cuda.library", "YATT_CUDA_LIBRARY",
            List.of("libcuda.so.1", "libcuda.so"), "cuInit", false);

    /**
     * A CBLAS library: OpenBLAS ({@code libopenblas.so.0}, Debian's {@code libopenblas0}) first, then the
     * distribution's {@code libblas.so.3} alternative (optional: matrix multiply falls back to Java without it).
     */
    public static final LibrarySpec BLAS = new LibrarySpec("blas", "yatt.blas.library", "YATT_BLAS_LIBRARY",
            List.of("libopenblas.so.0", "libopenblas.so", "libblas.so.3"), "cblas_sgemm", false);

    /** Validates the fields. */
    public LibrarySpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(propertyName, "propertyName");
        Objects.requireNonNull(environmentName, "environmentName");
        Objects.requireNonNull(markerSymbol, "markerSymbol");
        fileNames = List.copyOf(fileNames);
        if (fileNames.isEmpty()) {
            throw new IllegalArgumentException("fileNames must not be empty: name=" + name);
        }
    }
}
