package io.yatt.ffi.cuda;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What CUDA calls do on a machine with the runtime library but no NVIDIA driver (this build machine, CI). */
class CudaWithoutDriverTest {
    private static final String INSUFFICIENT = " (CUDA driver version is insufficient for CUDA runtime version)";

    @BeforeEach
    void requireRuntimeWithoutDriver() {
        CudaStatus status = Cuda.status();
        assumeTrue(status.libraryPath() != null, "no CUDA runtime library: " + status.message());
        assumeTrue(status.error() == CudaError.cudaErrorInsufficientDriver,
                "these tests describe a machine without a driver; this one reports: " + status.message());
    }

    @Test
    void shouldReportNoDeviceAndExplainTheMissingDriver() {
        CudaStatus status = Cuda.status();
        assertEquals(0, Cuda.deviceCount());
        assertFalse(status.available());
        assertEquals(35, status.error().code());
        assertEquals(0, status.driverVersion());
        assertEquals("no usable CUDA device: cudaGetDeviceCount failed: error=cudaErrorInsufficientDriver(35)" + INSUFFICIENT
                + ", runtimeVersion=" + status.runtimeVersion() + ", driverVersion=0; no NVIDIA driver (libcuda.so.1) is"
                + " installed, or it is older than the runtime, library=" + status.libraryPath(), status.message());
        assertEquals(status.searchReport(), Cuda.searchReport());
    }

    @Test
    void shouldKeepReportingTheFailedInitializationAsTheLastError() {
        // a failed runtime initialization is sticky: clearing the last error does not clear it
        assertThrows(CudaException.class, () -> Cuda.setDevice(0));
        assertEquals(CudaError.cudaErrorInsufficientDriver, Cuda.lastError());
        assertEquals(CudaError.cudaErrorInsufficientDriver, Cuda.lastError());
    }

    @Test
    void shouldThrowCudaExceptionWhenAllocatingDeviceMemory() {
        CudaException e = assertThrows(CudaException.class, () -> DeviceBuffer.allocate(0, 1024));
        assertEquals("cudaGetDevice failed: error=cudaErrorInsufficientDriver(35), for=cudaMalloc, device=0" + INSUFFICIENT,
                e.getMessage());
        assertEquals("cudaGetDevice", e.call());
        assertEquals(CudaError.cudaErrorInsufficientDriver, e.error());
        assertEquals(35, e.code());
    }

    @Test
    void shouldThrowCudaExceptionWhenAllocatingPinnedMemory() {
        CudaException e = assertThrows(CudaException.class, () -> PinnedHostBuffer.allocate(1024));
        assertEquals("cudaHostAlloc failed: error=cudaErrorInsufficientDriver(35), byteSize=1024" + INSUFFICIENT, e.getMessage());
    }

    @Test
    void shouldThrowCudaExceptionWhenCreatingStreamsAndEvents() {
        assertEquals("cudaGetDevice failed: error=cudaErrorInsufficientDriver(35), for=cudaStreamCreateWithFlags, device=0"
                + INSUFFICIENT, assertThrows(CudaException.class, () -> CudaStream.create(0, true)).getMessage());
        assertEquals("cudaGetDevice failed: error=cudaErrorInsufficientDriver(35), for=cudaEventCreateWithFlags, device=1"
                + INSUFFICIENT, assertThrows(CudaException.class, () -> CudaEvent.create(1, true)).getMessage());
    }

    @Test
    void shouldThrowCudaExceptionForDeviceQueries() {
        assertEquals("cudaSetDevice failed: error=cudaErrorInsufficientDriver(35), device=0" + INSUFFICIENT,
                assertThrows(CudaException.class, () -> Cuda.setDevice(0)).getMessage());
        assertEquals("cudaGetDevice failed: error=cudaErrorInsufficientDriver(35)" + INSUFFICIENT,
                assertThrows(CudaException.class, Cuda::currentDevice).getMessage());
        assertEquals("cudaDeviceGetAttribute failed: error=cudaErrorInsufficientDriver(35), attribute=75, device=0" + INSUFFICIENT,
                assertThrows(CudaException.class, () -> Cuda.deviceProperties(0)).getMessage());
        assertEquals("cudaMemGetInfo failed: error=cudaErrorInsufficientDriver(35)" + INSUFFICIENT,
                assertThrows(CudaException.class, Cuda::memoryInfo).getMessage());
        assertEquals("cudaDeviceSynchronize failed: error=cudaErrorInsufficientDriver(35)" + INSUFFICIENT,
                assertThrows(CudaException.class, Cuda::deviceSynchronize).getMessage());
    }

    @Test
    void shouldThrowCudaExceptionForCopiesWithAddressesInHex() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(16);
            MemorySegment device = MemorySegment.ofAddress(0x7f0000001000L);
            CudaException e = assertThrows(CudaException.class, () -> Cuda.memcpy(device, host, 16));
            assertEquals("cudaMemcpy failed: error=cudaErrorInsufficientDriver(35), dstAddress=0x7f0000001000, srcAddress=0x"
                    + Long.toHexString(host.address()) + ", byteSize=16" + INSUFFICIENT, e.getMessage());
        }
    }

    @Test
    void shouldNameEveryErrorAsTheRuntimeDoes() {
        for (CudaError error : CudaError.values()) {
            assertEquals(error.name(), Cuda.errorName(error));
        }
        assertEquals("out of memory", Cuda.errorString(CudaError.cudaErrorMemoryAllocation));
    }

    @Test
    void shouldDescribeAnUnknownCodeByNumber() {
        CudaException e = Check.failure("cudaFoo", 12345, Check.pair("device", 1) + Check.pair("devPtr", 255));
        assertEquals("cudaFoo failed: error=unknown(12345), device=1, devPtr=0xff (unrecognized error code)", e.getMessage());
        assertNull(e.error());
        assertEquals(12345, e.code());
    }
}
