package io.yatt.ffi.cuda.raw;

import io.yatt.ffi.LibrarySpec;
import io.yatt.ffi.internal.Downcalls;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Raw downcalls into the CUDA runtime ({@code libcudart}), one static method per C function with the
 * C name, primitives and {@link MemorySegment} only, each symbol linked lazily on first use. Methods
 * return the raw {@code cudaError_t}; the idiomatic layer ({@code io.yatt.ffi.cuda}) turns codes into
 * exceptions. Only calls whose ABI is the same in CUDA 12 and 13 are bound. Thread-safe (stateless);
 * the CUDA runtime's own rules apply (the current device is per host thread).
 */
public final class CudaRuntime {
    /** {@code CUDA_IPC_HANDLE_SIZE}. */
    public static final int CUDA_IPC_HANDLE_SIZE = 64;

    /** {@code cudaIpcMemHandle_t}: {@code struct { char reserved[64]; }}, passed by value to {@code cudaIpcOpenMemHandle}. */
    public static final StructLayout CUDA_IPC_MEM_HANDLE = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(CUDA_IPC_HANDLE_SIZE, JAVA_BYTE).withName("reserved")).withName("cudaIpcMemHandle_st");

    /**
     * The leading fields of {@code struct cudaPointerAttributes} (CUDA 11+: type, device, devicePointer,
     * hostPointer; CUDA 13 appends {@code long reserved[8]}): allocate {@link #POINTER_ATTRIBUTES_SCRATCH_BYTES}.
     */
    public static final StructLayout POINTER_ATTRIBUTES = MemoryLayout.structLayout(
            JAVA_INT.withName("type"), JAVA_INT.withName("device"),
            ADDRESS.withName("devicePointer"), ADDRESS.withName("hostPointer")).withName("cudaPointerAttributes");

    /** Bytes to allocate for {@code struct cudaPointerAttributes}: covers CUDA 12 (24) and 13 (88). */
    public static final long POINTER_ATTRIBUTES_SCRATCH_BYTES = 128;

    /** Bytes to allocate for {@code struct cudaDeviceProp} (about 1 KiB in CUDA 12 and 13); {@code char name[256]} is at offset 0 in both. */
    public static final long DEVICE_PROP_SCRATCH_BYTES = 4096;

    /** Length of {@code cudaDeviceProp.name}. */
    public static final int DEVICE_NAME_BYTES = 256;

    /** {@code cudaSuccess}. */
    public static final int cudaSuccess = 0;
    /** {@code cudaErrorNotReady}: returned by the query calls while work is pending. */
    public static final int cudaErrorNotReady = 600;

    /** {@code cudaMemcpyHostToHost}. */
    public static final int cudaMemcpyHostToHost = 0;
    /** {@code cudaMemcpyHostToDevice}. */
    public static final int cudaMemcpyHostToDevice = 1;
    /** {@code cudaMemcpyDeviceToHost}. */
    public static final int cudaMemcpyDeviceToHost = 2;
    /** {@code cudaMemcpyDeviceToDevice}. */
    public static final int cudaMemcpyDeviceToDevice = 3;
    /** {@code cudaMemcpyDefault}: direction inferred from the pointers (unified virtual addressing). */
    public static final int cudaMemcpyDefault = 4;

    /** {@code cudaHostAllocDefault}. */
    public static final int cudaHostAllocDefault = 0x00;
    /** {@code cudaHostAllocPortable}: pinned for every CUDA context. */
    public static final int cudaHostAllocPortable = 0x01;
    /** {@code cudaHostRegisterDefault}. */
    public static final int cudaHostRegisterDefault = 0x00;
    /** {@code cudaHostRegisterPortable}. */
    public static final int cudaHostRegisterPortable = 0x01;
    /** {@code cudaStreamDefault}. */
    public static final int cudaStreamDefault = 0x00;
    /** {@code cudaStreamNonBlocking}: does not synchronize with the legacy default stream. */
    public static final int cudaStreamNonBlocking = 0x01;
    /** {@code cudaEventDefault}. */
    public static final int cudaEventDefault = 0x00;
    /** {@code cudaEventBlockingSync}. */
    public static final int cudaEventBlockingSync = 0x01;
    /** {@code cudaEventDisableTiming}. */
    public static final int cudaEventDisableTiming = 0x02;
    /** {@code cudaIpcMemLazyEnablePeerAccess}. */
    public static final int cudaIpcMemLazyEnablePeerAccess = 0x01;

    /** {@code cudaDevAttrMultiProcessorCount}. */
    public static final int cudaDevAttrMultiProcessorCount = 16;
    /** {@code cudaDevAttrPciBusId}. */
    public static final int cudaDevAttrPciBusId = 33;
    /** {@code cudaDevAttrPciDeviceId}. */
    public static final int cudaDevAttrPciDeviceId = 34;
    /** {@code cudaDevAttrPciDomainId}. */
    public static final int cudaDevAttrPciDomainId = 50;
    /** {@code cudaDevAttrComputeCapabilityMajor}. */
    public static final int cudaDevAttrComputeCapabilityMajor = 75;
    /** {@code cudaDevAttrComputeCapabilityMinor}. */
    public static final int cudaDevAttrComputeCapabilityMinor = 76;

    private CudaRuntime() {
    }

    private static final class cudaRuntimeGetVersion {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaRuntimeGetVersion", DESC);
    }
    /**
     * {@code cudaError_t cudaRuntimeGetVersion(int *runtimeVersion)}; works without a driver.
     */
    public static int cudaRuntimeGetVersion(MemorySegment runtimeVersion) {
        try {
            return (int) cudaRuntimeGetVersion.HANDLE.invokeExact(runtimeVersion);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaDriverGetVersion {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaDriverGetVersion", DESC);
    }
    /**
     * {@code cudaError_t cudaDriverGetVersion(int *driverVersion)}; writes 0 without a driver.
     */
    public static int cudaDriverGetVersion(MemorySegment driverVersion) {
        try {
            return (int) cudaDriverGetVersion.HANDLE.invokeExact(driverVersion);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaGetDeviceCount {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaGetDeviceCount", DESC);
    }
    /**
     * {@code cudaError_t cudaGetDeviceCount(int *count)}.
     */
    public static int cudaGetDeviceCount(MemorySegment count) {
        try {
            return (int) cudaGetDeviceCount.HANDLE.invokeExact(count);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaGetDeviceCountCritical {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaGetDeviceCount", DESC, Linker.Option.critical(true));
    }
    /**
     * {@code cudaGetDeviceCount} linked with {@code Linker.Option.critical(true)}: no thread-state transition, heap segments allowed; for the downcall benchmark.
     */
    public static int cudaGetDeviceCountCritical(MemorySegment count) {
        try {
            return (int) cudaGetDeviceCountCritical.HANDLE.invokeExact(count);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaSetDevice {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaSetDevice", DESC);
    }
    /**
     * {@code cudaError_t cudaSetDevice(int device)}.
     */
    public static int cudaSetDevice(int device) {
        try {
            return (int) cudaSetDevice.HANDLE.invokeExact(device);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaGetDevice {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaGetDevice", DESC);
    }
    /**
     * {@code cudaError_t cudaGetDevice(int *device)}.
     */
    public static int cudaGetDevice(MemorySegment device) {
        try {
            return (int) cudaGetDevice.HANDLE.invokeExact(device);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaDeviceGetAttribute {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaDeviceGetAttribute", DESC);
    }
    /**
     * {@code cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device)}.
     */
    public static int cudaDeviceGetAttribute(MemorySegment value, int attr, int device) {
        try {
            return (int) cudaDeviceGetAttribute.HANDLE.invokeExact(value, attr, device);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaDeviceGetPCIBusId {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaDeviceGetPCIBusId", DESC);
    }
    /**
     * {@code cudaError_t cudaDeviceGetPCIBusId(char *pciBusId, int len, int device)}.
     */
    public static int cudaDeviceGetPCIBusId(MemorySegment pciBusId, int len, int device) {
        try {
            return (int) cudaDeviceGetPCIBusId.HANDLE.invokeExact(pciBusId, len, device);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaGetDeviceProperties {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaGetDeviceProperties", DESC);
    }
    /**
     * {@code cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)}; the struct differs between CUDA 12 and 13: pass at least {@link #DEVICE_PROP_SCRATCH_BYTES} bytes and read only {@code name} at offset 0.
     */
    public static int cudaGetDeviceProperties(MemorySegment prop, int device) {
        try {
            return (int) cudaGetDeviceProperties.HANDLE.invokeExact(prop, device);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaMemGetInfo {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaMemGetInfo", DESC);
    }
    /**
     * {@code cudaError_t cudaMemGetInfo(size_t *free, size_t *total)} for the current device.
     */
    public static int cudaMemGetInfo(MemorySegment free, MemorySegment total) {
        try {
            return (int) cudaMemGetInfo.HANDLE.invokeExact(free, total);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaMalloc {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaMalloc", DESC);
    }
    /**
     * {@code cudaError_t cudaMalloc(void **devPtr, size_t size)}.
     */
    public static int cudaMalloc(MemorySegment devPtr, long size) {
        try {
            return (int) cudaMalloc.HANDLE.invokeExact(devPtr, size);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaFree {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaFree", DESC);
    }
    /**
     * {@code cudaError_t cudaFree(void *devPtr)}.
     */
    public static int cudaFree(MemorySegment devPtr) {
        try {
            return (int) cudaFree.HANDLE.invokeExact(devPtr);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaHostAlloc {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaHostAlloc", DESC);
    }
    /**
     * {@code cudaError_t cudaHostAlloc(void **pHost, size_t size, unsigned int flags)}.
     */
    public static int cudaHostAlloc(MemorySegment pHost, long size, int flags) {
        try {
            return (int) cudaHostAlloc.HANDLE.invokeExact(pHost, size, flags);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaFreeHost {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaFreeHost", DESC);
    }
    /**
     * {@code cudaError_t cudaFreeHost(void *ptr)}.
     */
    public static int cudaFreeHost(MemorySegment ptr) {
        try {
            return (int) cudaFreeHost.HANDLE.invokeExact(ptr);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaHostRegister {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaHostRegister", DESC);
    }
    /**
     * {@code cudaError_t cudaHostRegister(void *ptr, size_t size, unsigned int flags)}.
     */
    public static int cudaHostRegister(MemorySegment ptr, long size, int flags) {
        try {
            return (int) cudaHostRegister.HANDLE.invokeExact(ptr, size, flags);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaHostUnregister {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaHostUnregister", DESC);
    }
    /**
     * {@code cudaError_t cudaHostUnregister(void *ptr)}.
     */
    public static int cudaHostUnregister(MemorySegment ptr) {
        try {
            return (int) cudaHostUnregister.HANDLE.invokeExact(ptr);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaMemcpy {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaMemcpy", DESC);
    }
    /**
     * {@code cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind)}.
     */
    public static int cudaMemcpy(MemorySegment dst, MemorySegment src, long count, int kind) {
        try {
            return (int) cudaMemcpy.HANDLE.invokeExact(dst, src, count, kind);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaMemcpyAsync {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaMemcpyAsync", DESC);
    }
    /**
     * {@code cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream)}.
     */
    public static int cudaMemcpyAsync(MemorySegment dst, MemorySegment src, long count, int kind, MemorySegment stream) {
        try {
            return (int) cudaMemcpyAsync.HANDLE.invokeExact(dst, src, count, kind, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaMemcpy2DAsync {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaMemcpy2DAsync", DESC);
    }
    /**
     * {@code cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height, enum cudaMemcpyKind kind, cudaStream_t stream)}.
     */
    public static int cudaMemcpy2DAsync(MemorySegment dst, long dpitch, MemorySegment src, long spitch, long width, long height, int kind, MemorySegment stream) {
        try {
            return (int) cudaMemcpy2DAsync.HANDLE.invokeExact(dst, dpitch, src, spitch, width, height, kind, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaMemcpyPeerAsync {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaMemcpyPeerAsync", DESC);
    }
    /**
     * {@code cudaError_t cudaMemcpyPeerAsync(void *dst, int dstDevice, const void *src, int srcDevice, size_t count, cudaStream_t stream)}.
     */
    public static int cudaMemcpyPeerAsync(MemorySegment dst, int dstDevice, MemorySegment src, int srcDevice, long count, MemorySegment stream) {
        try {
            return (int) cudaMemcpyPeerAsync.HANDLE.invokeExact(dst, dstDevice, src, srcDevice, count, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaMemsetAsync {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaMemsetAsync", DESC);
    }
    /**
     * {@code cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)}.
     */
    public static int cudaMemsetAsync(MemorySegment devPtr, int value, long count, MemorySegment stream) {
        try {
            return (int) cudaMemsetAsync.HANDLE.invokeExact(devPtr, value, count, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaStreamCreateWithFlags {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaStreamCreateWithFlags", DESC);
    }
    /**
     * {@code cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)}.
     */
    public static int cudaStreamCreateWithFlags(MemorySegment pStream, int flags) {
        try {
            return (int) cudaStreamCreateWithFlags.HANDLE.invokeExact(pStream, flags);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaStreamDestroy {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaStreamDestroy", DESC);
    }
    /**
     * {@code cudaError_t cudaStreamDestroy(cudaStream_t stream)}.
     */
    public static int cudaStreamDestroy(MemorySegment stream) {
        try {
            return (int) cudaStreamDestroy.HANDLE.invokeExact(stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaStreamSynchronize {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaStreamSynchronize", DESC);
    }
    /**
     * {@code cudaError_t cudaStreamSynchronize(cudaStream_t stream)}.
     */
    public static int cudaStreamSynchronize(MemorySegment stream) {
        try {
            return (int) cudaStreamSynchronize.HANDLE.invokeExact(stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaStreamQuery {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaStreamQuery", DESC);
    }
    /**
     * {@code cudaError_t cudaStreamQuery(cudaStream_t stream)}: {@code cudaSuccess} when idle, {@code cudaErrorNotReady} while busy.
     */
    public static int cudaStreamQuery(MemorySegment stream) {
        try {
            return (int) cudaStreamQuery.HANDLE.invokeExact(stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaStreamWaitEvent {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaStreamWaitEvent", DESC);
    }
    /**
     * {@code cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags)}.
     */
    public static int cudaStreamWaitEvent(MemorySegment stream, MemorySegment event, int flags) {
        try {
            return (int) cudaStreamWaitEvent.HANDLE.invokeExact(stream, event, flags);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaEventCreateWithFlags {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaEventCreateWithFlags", DESC);
    }
    /**
     * {@code cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)}.
     */
    public static int cudaEventCreateWithFlags(MemorySegment event, int flags) {
        try {
            return (int) cudaEventCreateWithFlags.HANDLE.invokeExact(event, flags);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaEventRecord {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaEventRecord", DESC);
    }
    /**
     * {@code cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)}.
     */
    public static int cudaEventRecord(MemorySegment event, MemorySegment stream) {
        try {
            return (int) cudaEventRecord.HANDLE.invokeExact(event, stream);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaEventSynchronize {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaEventSynchronize", DESC);
    }
    /**
     * {@code cudaError_t cudaEventSynchronize(cudaEvent_t event)}.
     */
    public static int cudaEventSynchronize(MemorySegment event) {
        try {
            return (int) cudaEventSynchronize.HANDLE.invokeExact(event);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaEventQuery {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaEventQuery", DESC);
    }
    /**
     * {@code cudaError_t cudaEventQuery(cudaEvent_t event)}: {@code cudaSuccess} when complete, {@code cudaErrorNotReady} before.
     */
    public static int cudaEventQuery(MemorySegment event) {
        try {
            return (int) cudaEventQuery.HANDLE.invokeExact(event);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaEventElapsedTime {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaEventElapsedTime", DESC);
    }
    /**
     * {@code cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)}.
     */
    public static int cudaEventElapsedTime(MemorySegment ms, MemorySegment start, MemorySegment end) {
        try {
            return (int) cudaEventElapsedTime.HANDLE.invokeExact(ms, start, end);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaEventDestroy {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaEventDestroy", DESC);
    }
    /**
     * {@code cudaError_t cudaEventDestroy(cudaEvent_t event)}.
     */
    public static int cudaEventDestroy(MemorySegment event) {
        try {
            return (int) cudaEventDestroy.HANDLE.invokeExact(event);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaDeviceSynchronize {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaDeviceSynchronize", DESC);
    }
    /**
     * {@code cudaError_t cudaDeviceSynchronize(void)}.
     */
    public static int cudaDeviceSynchronize() {
        try {
            return (int) cudaDeviceSynchronize.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaIpcGetMemHandle {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaIpcGetMemHandle", DESC);
    }
    /**
     * {@code cudaError_t cudaIpcGetMemHandle(cudaIpcMemHandle_t *handle, void *devPtr)}.
     */
    public static int cudaIpcGetMemHandle(MemorySegment handle, MemorySegment devPtr) {
        try {
            return (int) cudaIpcGetMemHandle.HANDLE.invokeExact(handle, devPtr);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaIpcOpenMemHandle {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, CUDA_IPC_MEM_HANDLE, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaIpcOpenMemHandle", DESC);
    }
    /**
     * {@code cudaError_t cudaIpcOpenMemHandle(void **devPtr, cudaIpcMemHandle_t handle, unsigned int flags)}; the handle is passed by value (a {@link #CUDA_IPC_MEM_HANDLE} segment).
     */
    public static int cudaIpcOpenMemHandle(MemorySegment devPtr, MemorySegment handle, int flags) {
        try {
            return (int) cudaIpcOpenMemHandle.HANDLE.invokeExact(devPtr, handle, flags);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaIpcCloseMemHandle {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaIpcCloseMemHandle", DESC);
    }
    /**
     * {@code cudaError_t cudaIpcCloseMemHandle(void *devPtr)}.
     */
    public static int cudaIpcCloseMemHandle(MemorySegment devPtr) {
        try {
            return (int) cudaIpcCloseMemHandle.HANDLE.invokeExact(devPtr);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaPointerGetAttributes {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaPointerGetAttributes", DESC);
    }
    /**
     * {@code cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *attributes, const void *ptr)}; see {@link #POINTER_ATTRIBUTES}.
     */
    public static int cudaPointerGetAttributes(MemorySegment attributes, MemorySegment ptr) {
        try {
            return (int) cudaPointerGetAttributes.HANDLE.invokeExact(attributes, ptr);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaGetLastError {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaGetLastError", DESC);
    }
    /**
     * {@code cudaError_t cudaGetLastError(void)}: returns and clears the calling thread's last error.
     */
    public static int cudaGetLastError() {
        try {
            return (int) cudaGetLastError.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaPeekAtLastError {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaPeekAtLastError", DESC);
    }
    /**
     * {@code cudaError_t cudaPeekAtLastError(void)}: returns the calling thread's last error without clearing it.
     */
    public static int cudaPeekAtLastError() {
        try {
            return (int) cudaPeekAtLastError.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaGetErrorName {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaGetErrorName", DESC);
    }
    /**
     * {@code const char* cudaGetErrorName(cudaError_t error)}: a static string (reinterpret to read it).
     */
    public static MemorySegment cudaGetErrorName(int error) {
        try {
            return (MemorySegment) cudaGetErrorName.HANDLE.invokeExact(error);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

    private static final class cudaGetErrorString {
        static final FunctionDescriptor DESC = FunctionDescriptor.of(ADDRESS, JAVA_INT);
        static final MethodHandle HANDLE = Downcalls.link(LibrarySpec.CUDART, "cudaGetErrorString", DESC);
    }
    /**
     * {@code const char* cudaGetErrorString(cudaError_t error)}: a static string (reinterpret to read it).
     */
    public static MemorySegment cudaGetErrorString(int error) {
        try {
            return (MemorySegment) cudaGetErrorString.HANDLE.invokeExact(error);
        } catch (Throwable t) {
            throw Downcalls.rethrow(t);
        }
    }

}
