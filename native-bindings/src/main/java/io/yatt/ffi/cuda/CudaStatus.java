package io.yatt.ffi.cuda;

import java.util.List;

/**
 * What this machine offers to CUDA, as found by {@link Cuda#status()}: whether a device is usable and,
 * when not, why. Immutable.
 *
 * @param available whether at least one device is usable
 * @param deviceCount number of devices ({@code 0} without a driver or library)
 * @param error the runtime's error from {@code cudaGetDeviceCount}, or {@code null} when it succeeded or the library is missing
 * @param message one line for people: what was found, or why CUDA is unusable and what to do
 * @param runtimeVersion {@code cudaRuntimeGetVersion}, e.g. {@code 13000}; {@code 0} without the library
 * @param driverVersion {@code cudaDriverGetVersion}, e.g. {@code 13000}; {@code 0} without a driver
 * @param libraryPath the loaded {@code libcudart} file, or {@code null} when it was not found
 * @param searchReport the library search, one line per step
 */
public record CudaStatus(boolean available, int deviceCount, CudaError error, String message, int runtimeVersion,
        int driverVersion, String libraryPath, List<String> searchReport) {

    /** Copies the report. */
    public CudaStatus {
        searchReport = List.copyOf(searchReport);
    }

    /**
     * @param version a CUDA version code such as {@code 13000} or {@code 12080}
     * @return {@code major.minor}, e.g. {@code 13.0} or {@code 12.8}
     */
    public static String formatVersion(int version) {
        return (version / 1000) + "." + (version % 1000 / 10);
    }
}
