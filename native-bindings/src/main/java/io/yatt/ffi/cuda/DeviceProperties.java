package io.yatt.ffi.cuda;

/**
 * The properties of one CUDA device that {@code yatt info} reports, read through calls whose ABI is the
 * same in CUDA 12 and 13. Immutable.
 *
 * @param ordinal the device ordinal
 * @param name marketing name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param totalMemoryBytes device memory in bytes
 * @param major compute capability major
 * @param minor compute capability minor
 * @param multiProcessorCount number of streaming multiprocessors
 * @param pciBusId PCI bus id, e.g. {@code 0000:3B:00.0}
 */
public record DeviceProperties(int ordinal, String name, long totalMemoryBytes, int major, int minor,
        int multiProcessorCount, String pciBusId) {
}
