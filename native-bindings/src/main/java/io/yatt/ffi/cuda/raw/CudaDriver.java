package io.yatt.ffi.cuda.raw;

import io.yatt.ffi.LibrarySpec;
import io.yatt.ffi.internal.Downcalls;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Raw downcalls into the CUDA driver API ({@code libcuda.so.1}), only the few calls the runtime lacks
 * with a stable ABI (the device name). Each symbol links lazily; methods return the raw {@code CUresult}.
 * Thread-safe (stateless).
 */
public final class CudaDriver {
    /** {@code CUDA_SUCCESS}. */
    public static final int CUDA_SUCCESS = 0;

    private CudaDriver() {
    }

    private static final class cuInit {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDA_DRIVER, "cuInit", DESC);
    }
    /**
     * {@code CUresult cuInit(unsigned int Flags)}.
     */
    public static int cuInit(int flags) {
        try {
            return (int) cuInit.HANDLE.invokeExact(flags);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cuDeviceGet {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDA_DRIVER, "cuDeviceGet", DESC);
    }
    /**
     * {@code CUresult cuDeviceGet(CUdevice *device, int ordinal)}.
     */
    public static int cuDeviceGet(MemorySegment device, int ordinal) {
        try {
            return (int) cuDeviceGet.HANDLE.invokeExact(device, ordinal);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cuDeviceTotalMem_v2 {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDA_DRIVER, "cuDeviceTotalMem_v2", DESC);
    }
    /**
     * {@code CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)} ({@code cuDeviceTotalMem} in {@code cuda.h} maps to it).
     */
    public static int cuDeviceTotalMem_v2(MemorySegment bytes, int dev) {
        try {
            return (int) cuDeviceTotalMem_v2.HANDLE.invokeExact(bytes, dev);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cuDeviceGetName {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDA_DRIVER, "cuDeviceGetName", DESC);
    }
    /**
     * {@code CUresult cuDeviceGetName(char *name, int len, CUdevice dev)}.
     */
    public static int cuDeviceGetName(MemorySegment name, int len, int dev) {
        try {
            return (int) cuDeviceGetName.HANDLE.invokeExact(name, len, dev);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }
}
