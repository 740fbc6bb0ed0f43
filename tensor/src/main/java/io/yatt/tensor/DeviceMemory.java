package io.yatt.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Device and pinned memory for tensors. Placeholder until io.yatt.ffi exposes its CUDA API: every call reports
 * that CUDA memory is not available.
 */
final class DeviceMemory {
    private DeviceMemory() {
    }

    static Storage allocate(Allocator allocator, Device device, long byteSize, String description) {
        throw unavailable("device=" + device);
    }

    static Storage allocatePinned(Allocator allocator, long byteSize, String description) {
        throw unavailable("pinned=true");
    }

    static void copy(MemorySegment dst, MemorySegment src, long byteSize) {
        throw unavailable("copy=" + byteSize);
    }

    private static IllegalStateException unavailable(String context) {
        return new IllegalStateException("CUDA memory not available in this build: " + context);
    }
}
