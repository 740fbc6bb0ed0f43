package io.yatt.ffi.cuda;

import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.LibrarySpec;
import io.yatt.ffi.NativeLibraries;
import io.yatt.ffi.NativeLibrary;
import io.yatt.ffi.cuda.raw.CudaDriver;
import io.yatt.ffi.cuda.raw.CudaRuntime;
import io.yatt.ffi.internal.Downcalls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Static facade over the CUDA runtime: status, devices, memory information and copies. Without a
 * driver or without {@code libcudart}, {@link #status()} and {@link #deviceCount()} explain why and
 * every call that needs a device throws {@link CudaException} (or {@link LibraryNotFoundException}).
 * Thread-safe; as in CUDA, the current device ({@link #setDevice}) is a property of the calling thread.
 */
@SuppressWarnings("restricted")
public final class Cuda {
    private static final int PCI_BUS_ID_BYTES = 64;

    private Cuda() {
    }

    private static final class StatusHolder {
        static final CudaStatus STATUS = probe();
    }

    /**
     * Probes the CUDA runtime once per JVM (the result is cached): library, versions, device count.
     *
     * @return the status; never throws
     */
    public static CudaStatus status() {
        return StatusHolder.STATUS;
    }

    /** @return number of usable devices; {@code 0} without a driver, device or library (never throws for those) */
    public static int deviceCount() {
        return status().deviceCount();
    }

    private static CudaStatus probe() {
        NativeLibrary library;
        try {
            library = NativeLibraries.cudart();
        } catch (LibraryNotFoundException e) {
            return new CudaStatus(false, 0, null, e.getMessage(), 0, 0, null, e.searchReport());
        }
        String path = library.path().toString();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            int runtimeVersion = CudaRuntime.cudaRuntimeGetVersion(out) == CudaRuntime.cudaSuccess ? out.get(JAVA_INT, 0) : 0;
            out.set(JAVA_INT, 0, 0);
            int driverVersion = CudaRuntime.cudaDriverGetVersion(out) == CudaRuntime.cudaSuccess ? out.get(JAVA_INT, 0) : 0;
            out.set(JAVA_INT, 0, 0);
            int code = CudaRuntime.cudaGetDeviceCount(out);
            if (code != CudaRuntime.cudaSuccess) {
                CudaRuntime.cudaGetLastError(); // clear the sticky per-thread error the failed probe left
                CudaError error = CudaError.find(code);
                String description = Check.describe(code);
                String message = "no usable CUDA device: cudaGetDeviceCount failed: error="
                        + (error == null ? "unknown(" + code + ")" : error.describe())
                        + (description.isEmpty() ? "" : " (" + description + ")")
                        + ", runtimeVersion=" + runtimeVersion + ", driverVersion=" + driverVersion
                        + hint(code) + ", library=" + path;
                return new CudaStatus(false, 0, error, message, runtimeVersion, driverVersion, path, library.searchReport());
            }
            int count = out.get(JAVA_INT, 0);
            String message = count == 0
                    ? "no usable CUDA device: cudaGetDeviceCount returned 0, runtimeVersion=" + runtimeVersion
                            + ", driverVersion=" + driverVersion + ", library=" + path
                    : "CUDA runtime " + CudaStatus.formatVersion(runtimeVersion) + ", driver "
                            + CudaStatus.formatVersion(driverVersion) + ", " + count + (count == 1 ? " device" : " devices")
                            + ", library=" + path;
            return new CudaStatus(count > 0, count, null, message, runtimeVersion, driverVersion, path, library.searchReport());
        } catch (RuntimeException e) {
            return new CudaStatus(false, 0, null, "CUDA probe failed: " + e, 0, 0, path, library.searchReport());
        }
    }

    private static String hint(int code) {
        if (code == CudaError.cudaErrorInsufficientDriver.code()) {
            return "; no NVIDIA driver (libcuda.so.1) is installed, or it is older than the runtime";
        }
        if (code == CudaError.cudaErrorNoDevice.code()) {
            return "; the driver sees no device (check CUDA_VISIBLE_DEVICES)";
        }
        return "";
    }

    /**
     * Makes a device current for the calling thread ({@code cudaSetDevice}).
     *
     * @param ordinal the device
     * @throws CudaException when the device does not exist or there is no driver
     */
    public static void setDevice(int ordinal) {
        Check.cuda(CudaRuntime.cudaSetDevice(ordinal), "cudaSetDevice", "device", ordinal);
    }

    /**
     * @return the calling thread's current device ({@code cudaGetDevice})
     * @throws CudaException without a driver
     */
    public static int currentDevice() {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            Check.cuda(CudaRuntime.cudaGetDevice(out), "cudaGetDevice");
            return out.get(JAVA_INT, 0);
        }
    }

    /**
     * Makes {@code device} current and returns the device that was current, for {@link #restoreDevice}.
     * A failure names the runtime call that failed and the operation it was for:
     * {@code cudaGetDevice failed: error=cudaErrorInsufficientDriver(35), for=cudaMalloc, device=0 (...)}.
     */
    static int switchDevice(int device, String forCall) {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            int code = CudaRuntime.cudaGetDevice(out);
            if (code != CudaRuntime.cudaSuccess) {
                throw Check.failure("cudaGetDevice", code, ", for=" + forCall + Check.pair("device", device));
            }
            int previous = out.get(JAVA_INT, 0);
            if (previous != device) {
                code = CudaRuntime.cudaSetDevice(device);
                if (code != CudaRuntime.cudaSuccess) {
                    throw Check.failure("cudaSetDevice", code, ", for=" + forCall + Check.pair("device", device));
                }
            }
            return previous;
        }
    }

    static void restoreDevice(int previous, int device) {
        if (previous != device) {
            Check.cuda(CudaRuntime.cudaSetDevice(previous), "cudaSetDevice", "device", previous);
        }
    }

    /**
     * Reads a device's name, memory, compute capability, SM count and PCI bus id, using only calls
     * whose ABI is stable across CUDA 12 and 13 (the name and memory come from the driver API when
     * {@code libcuda.so.1} is present, else from the leading field of {@code cudaDeviceProp} and
     * {@code cudaMemGetInfo}).
     *
     * @param ordinal the device
     * @return its properties
     * @throws CudaException when the device does not exist or there is no driver
     */
    public static DeviceProperties deviceProperties(int ordinal) {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment value = scratch.allocate(JAVA_INT);
            int major = attribute(value, CudaRuntime.cudaDevAttrComputeCapabilityMajor, ordinal);
            int minor = attribute(value, CudaRuntime.cudaDevAttrComputeCapabilityMinor, ordinal);
            int sms = attribute(value, CudaRuntime.cudaDevAttrMultiProcessorCount, ordinal);
            MemorySegment busId = scratch.allocate(PCI_BUS_ID_BYTES);
            Check.cuda(CudaRuntime.cudaDeviceGetPCIBusId(busId, PCI_BUS_ID_BYTES, ordinal), "cudaDeviceGetPCIBusId",
                    "device", ordinal);
            String name = null;
            long totalBytes = -1;
            if (Downcalls.available(LibrarySpec.CUDA_DRIVER, "cuDeviceGetName")
                    && Downcalls.available(LibrarySpec.CUDA_DRIVER, "cuDeviceTotalMem_v2")
                    && CudaDriver.cuInit(0) == CudaDriver.CUDA_SUCCESS
                    && CudaDriver.cuDeviceGet(value, ordinal) == CudaDriver.CUDA_SUCCESS) {
                int handle = value.get(JAVA_INT, 0);
                MemorySegment nameBytes = scratch.allocate(CudaRuntime.DEVICE_NAME_BYTES);
                if (CudaDriver.cuDeviceGetName(nameBytes, CudaRuntime.DEVICE_NAME_BYTES, handle) == CudaDriver.CUDA_SUCCESS) {
                    name = nameBytes.getString(0);
                }
                MemorySegment total = scratch.allocate(JAVA_LONG);
                if (CudaDriver.cuDeviceTotalMem_v2(total, handle) == CudaDriver.CUDA_SUCCESS) {
                    totalBytes = total.get(JAVA_LONG, 0);
                }
            }
            if (name == null) {
                MemorySegment prop = scratch.allocate(CudaRuntime.DEVICE_PROP_SCRATCH_BYTES, 8);
                Check.cuda(CudaRuntime.cudaGetDeviceProperties(prop, ordinal), "cudaGetDeviceProperties", "device", ordinal);
                name = prop.getString(0);
            }
            if (totalBytes < 0) {
                int previous = switchDevice(ordinal, "cudaMemGetInfo");
                try {
                    totalBytes = memoryInfo().totalBytes();
                } finally {
                    restoreDevice(previous, ordinal);
                }
            }
            return new DeviceProperties(ordinal, name, totalBytes, major, minor, sms, busId.getString(0));
        }
    }

    private static int attribute(MemorySegment value, int attribute, int ordinal) {
        Check.cuda(CudaRuntime.cudaDeviceGetAttribute(value, attribute, ordinal), "cudaDeviceGetAttribute",
                "attribute", attribute, "device", ordinal);
        return value.get(JAVA_INT, 0);
    }

    /**
     * @return free and total memory of the current device ({@code cudaMemGetInfo})
     * @throws CudaException without a driver or device
     */
    public static MemoryInfo memoryInfo() {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment free = scratch.allocate(JAVA_LONG);
            MemorySegment total = scratch.allocate(JAVA_LONG);
            Check.cuda(CudaRuntime.cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return new MemoryInfo(free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0));
        }
    }

    /**
     * Copies bytes between any two of host and device memory, blocking ({@code cudaMemcpy} with
     * {@code cudaMemcpyDefault}: the direction comes from unified virtual addressing).
     *
     * @param dst destination: a host segment at least {@code byteSize} long, or a zero-length device pointer
     * @param src source, likewise
     * @param byteSize bytes to copy
     * @throws IllegalArgumentException when {@code byteSize} is negative or exceeds a host segment
     * @throws CudaException when the copy fails
     */
    public static void memcpy(MemorySegment dst, MemorySegment src, long byteSize) {
        checkSpan("dst", dst, byteSize);
        checkSpan("src", src, byteSize);
        Check.cuda(CudaRuntime.cudaMemcpy(dst, src, byteSize, CudaRuntime.cudaMemcpyDefault), "cudaMemcpy",
                "dstAddress", dst.address(), "srcAddress", src.address(), "byteSize", byteSize);
    }

    /**
     * Enqueues a copy on a stream ({@code cudaMemcpyAsync}, {@code cudaMemcpyDefault}); host memory
     * should be pinned for the copy to be truly asynchronous.
     *
     * @param dst destination: a host segment at least {@code byteSize} long, or a zero-length device pointer
     * @param src source, likewise
     * @param byteSize bytes to copy
     * @param stream the stream
     * @throws IllegalArgumentException when {@code byteSize} is negative or exceeds a host segment
     * @throws CudaException when the copy cannot be enqueued
     */
    public static void memcpyAsync(MemorySegment dst, MemorySegment src, long byteSize, CudaStream stream) {
        checkSpan("dst", dst, byteSize);
        checkSpan("src", src, byteSize);
        Check.cuda(CudaRuntime.cudaMemcpyAsync(dst, src, byteSize, CudaRuntime.cudaMemcpyDefault, stream.handle()),
                "cudaMemcpyAsync", "dstAddress", dst.address(), "srcAddress", src.address(), "byteSize", byteSize,
                "stream", stream.handle().address());
    }

    /**
     * Enqueues a copy between two devices ({@code cudaMemcpyPeerAsync}).
     *
     * @param dst destination device pointer
     * @param dstDevice destination device
     * @param src source device pointer
     * @param srcDevice source device
     * @param byteSize bytes to copy
     * @param stream the stream
     * @throws CudaException when the copy cannot be enqueued
     */
    public static void memcpyPeerAsync(MemorySegment dst, int dstDevice, MemorySegment src, int srcDevice, long byteSize,
            CudaStream stream) {
        checkSpan("dst", dst, byteSize);
        checkSpan("src", src, byteSize);
        Check.cuda(CudaRuntime.cudaMemcpyPeerAsync(dst, dstDevice, src, srcDevice, byteSize, stream.handle()),
                "cudaMemcpyPeerAsync", "dstDevice", dstDevice, "srcDevice", srcDevice, "byteSize", byteSize,
                "stream", stream.handle().address());
    }

    /**
     * Enqueues a copy of {@code height} rows of {@code widthBytes} bytes each ({@code cudaMemcpy2DAsync},
     * {@code cudaMemcpyDefault}): row {@code i} goes from {@code src + i*srcPitchBytes} to
     * {@code dst + i*dstPitchBytes}. With unified virtual addressing the pointers may be on any devices.
     *
     * @param dst destination pointer (first row)
     * @param dstPitchBytes bytes from one destination row to the next, at least {@code widthBytes}
     * @param src source pointer (first row)
     * @param srcPitchBytes bytes from one source row to the next, at least {@code widthBytes}
     * @param widthBytes bytes per row
     * @param height rows
     * @param stream the stream
     * @throws IllegalArgumentException for a negative width or height, or a pitch below the width
     * @throws CudaException when the copy cannot be enqueued
     */
    public static void memcpy2DAsync(MemorySegment dst, long dstPitchBytes, MemorySegment src, long srcPitchBytes,
            long widthBytes, long height, CudaStream stream) {
        if (widthBytes < 0 || height < 0) {
            throw new IllegalArgumentException("2D copy extent must not be negative: widthBytes=" + widthBytes
                    + ", height=" + height);
        }
        if (height > 1 && (dstPitchBytes < widthBytes || srcPitchBytes < widthBytes)) {
            throw new IllegalArgumentException("2D copy pitch below the row width: dstPitchBytes=" + dstPitchBytes
                    + ", srcPitchBytes=" + srcPitchBytes + ", widthBytes=" + widthBytes);
        }
        checkSpan("dst", dst, height == 0 ? 0 : (height - 1) * dstPitchBytes + widthBytes);
        checkSpan("src", src, height == 0 ? 0 : (height - 1) * srcPitchBytes + widthBytes);
        if (height == 0 || widthBytes == 0) {
            return;
        }
        Check.cuda(CudaRuntime.cudaMemcpy2DAsync(dst, dstPitchBytes, src, srcPitchBytes, widthBytes, height,
                CudaRuntime.cudaMemcpyDefault, stream.handle()), "cudaMemcpy2DAsync", "dstPitchBytes", dstPitchBytes,
                "srcPitchBytes", srcPitchBytes, "widthBytes", widthBytes, "height", height);
    }

    /**
     * Enqueues a byte fill of device memory ({@code cudaMemsetAsync}).
     *
     * @param dst device pointer
     * @param value byte value (the low 8 bits are used)
     * @param byteSize bytes to fill
     * @param stream the stream
     * @throws IllegalArgumentException when {@code byteSize} is negative
     * @throws CudaException when the fill cannot be enqueued
     */
    public static void memsetAsync(MemorySegment dst, int value, long byteSize, CudaStream stream) {
        checkSpan("dst", dst, byteSize);
        Check.cuda(CudaRuntime.cudaMemsetAsync(dst, value, byteSize, stream.handle()), "cudaMemsetAsync",
                "dstAddress", dst.address(), "value", value, "byteSize", byteSize, "stream", stream.handle().address());
    }

    /**
     * Waits for all work on the current device ({@code cudaDeviceSynchronize}).
     *
     * @throws CudaException when earlier work failed or there is no driver
     */
    public static void deviceSynchronize() {
        Check.cuda(CudaRuntime.cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    }

    /**
     * Pins existing host memory for fast, asynchronous copies ({@code cudaHostRegister}, portable).
     *
     * @param segment native host memory
     * @throws CudaException when the memory cannot be registered
     */
    public static void hostRegister(MemorySegment segment) {
        Check.cuda(CudaRuntime.cudaHostRegister(segment, segment.byteSize(), CudaRuntime.cudaHostRegisterPortable),
                "cudaHostRegister", "address", segment.address(), "byteSize", segment.byteSize());
    }

    /**
     * Unpins memory pinned by {@link #hostRegister} ({@code cudaHostUnregister}).
     *
     * @param segment the registered memory
     * @throws CudaException when the memory was not registered
     */
    public static void hostUnregister(MemorySegment segment) {
        Check.cuda(CudaRuntime.cudaHostUnregister(segment), "cudaHostUnregister", "address", segment.address());
    }

    /**
     * @param pointer any address
     * @return what CUDA knows about it ({@code cudaPointerGetAttributes})
     * @throws CudaException without a driver
     */
    public static PointerAttributes pointerAttributes(MemorySegment pointer) {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment attributes = scratch.allocate(CudaRuntime.POINTER_ATTRIBUTES_SCRATCH_BYTES, 8);
            Check.cuda(CudaRuntime.cudaPointerGetAttributes(attributes, pointer), "cudaPointerGetAttributes",
                    "address", pointer.address());
            return new PointerAttributes(CudaMemoryType.of(attributes.get(JAVA_INT, 0)), attributes.get(JAVA_INT, 4),
                    attributes.get(ADDRESS, 8).address(), attributes.get(ADDRESS, 16).address());
        }
    }

    /**
     * @return the calling thread's last error, clearing it ({@code cudaGetLastError}); {@code cudaSuccess} when none
     */
    public static CudaError lastError() {
        int code = CudaRuntime.cudaGetLastError();
        CudaError error = CudaError.find(code);
        return error == null ? CudaError.cudaErrorUnknown : error;
    }

    /**
     * @param error an error
     * @return the runtime's description ({@code cudaGetErrorString}), e.g. {@code out of memory}
     */
    public static String errorString(CudaError error) {
        return Check.describe(error.code());
    }

    /**
     * @param error an error
     * @return the runtime's name for it ({@code cudaGetErrorName}), e.g. {@code cudaErrorMemoryAllocation}
     */
    public static String errorName(CudaError error) {
        MemorySegment text = CudaRuntime.cudaGetErrorName(error.code());
        return text.equals(MemorySegment.NULL) ? "" : text.reinterpret(Integer.MAX_VALUE).getString(0);
    }

    /** @return the search report of the CUDA runtime library (also when it was not found) */
    public static List<String> searchReport() {
        return status().searchReport();
    }

    private static void checkSpan(String name, MemorySegment segment, long byteSize) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize must not be negative: byteSize=" + byteSize);
        }
        long available = segment.byteSize();
        if (available != 0 && available < byteSize) {
            throw new IllegalArgumentException(name + " too small: required=" + byteSize + ", byteSize=" + available);
        }
    }
}
