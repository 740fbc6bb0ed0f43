package io.yatt.ffi.cuda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Behaviour of the CUDA API that needs no device: error lookups, argument checks, close semantics, leak reports. */
class CudaApiTest {

    @Test
    void shouldLookUpEveryErrorByItsCode() {
        assertEquals(134, CudaError.values().length);
        for (CudaError error : CudaError.values()) {
            assertSame(error, CudaError.of(error.code()));
        }
        assertSame(CudaError.cudaErrorInsufficientDriver, CudaError.of(35));
        assertSame(CudaError.cudaErrorApiFailureBase, CudaError.of(10000));
        assertEquals("cudaErrorMemoryAllocation(2)", CudaError.cudaErrorMemoryAllocation.describe());
    }

    @Test
    void shouldRejectUnknownErrorCodes() {
        assertNull(CudaError.find(10));
        assertNull(CudaError.find(-1));
        assertNull(CudaError.find(1000));
        assertEquals("unknown cudaError_t: code=12345",
                assertThrows(IllegalArgumentException.class, () -> CudaError.of(12345)).getMessage());
    }

    @Test
    void shouldFormatPointerContextInHexAndCountsInDecimal() {
        assertEquals(", address=0xff", Check.pair("address", 255));
        assertEquals(", stream=0x10", Check.pair("stream", 16));
        assertEquals(", devPtr=0x1", Check.pair("devPtr", 1));
        assertEquals(", byteSize=255", Check.pair("byteSize", 255));
    }

    @Test
    void shouldFormatCudaVersions() {
        assertEquals("13.0", CudaStatus.formatVersion(13000));
        assertEquals("12.8", CudaStatus.formatVersion(12080));
    }

    @Test
    void shouldRejectA2DCopyWhosePitchIsBelowItsRowWidth() {
        assertEquals("2D copy pitch below the row width: dstPitchBytes=4, srcPitchBytes=16, widthBytes=8",
                assertThrows(IllegalArgumentException.class, () -> Cuda.memcpy2DAsync(MemorySegment.NULL, 4,
                        MemorySegment.NULL, 16, 8, 2, null)).getMessage());
        assertEquals("2D copy extent must not be negative: widthBytes=8, height=-1",
                assertThrows(IllegalArgumentException.class, () -> Cuda.memcpy2DAsync(MemorySegment.NULL, 8,
                        MemorySegment.NULL, 8, 8, -1, null)).getMessage());
    }

    @Test
    void shouldRejectNegativeSizesAndShortHostSegments() {
        assertEquals("byteSize must not be negative: byteSize=-1",
                assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.allocate(0, -1)).getMessage());
        assertEquals("byteSize must not be negative: byteSize=-8",
                assertThrows(IllegalArgumentException.class, () -> PinnedHostBuffer.allocate(-8)).getMessage());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = arena.allocate(8);
            MemorySegment device = MemorySegment.ofAddress(0x1000);
            assertEquals("dst too small: required=16, byteSize=8",
                    assertThrows(IllegalArgumentException.class, () -> Cuda.memcpy(small, device, 16)).getMessage());
            assertEquals("src too small: required=16, byteSize=8",
                    assertThrows(IllegalArgumentException.class, () -> Cuda.memcpy(device, small, 16)).getMessage());
            assertEquals("byteSize must not be negative: byteSize=-1",
                    assertThrows(IllegalArgumentException.class, () -> Cuda.memcpy(device, small, -1)).getMessage());
        }
    }

    @Test
    void shouldThrowOnSecondCloseOfADeviceBufferAndInvalidateItsPointer() {
        DeviceBuffer buffer = new DeviceBuffer(0, 0L, 0L, false); // what cudaMalloc(0) returns: nothing to free
        MemorySegment pointer = buffer.pointer();
        assertTrue(pointer.scope().isAlive());
        buffer.close();
        assertTrue(buffer.isClosed());
        assertFalse(pointer.scope().isAlive());
        assertEquals("DeviceBuffer already closed: device=0, address=0x0, byteSize=0",
                assertThrows(IllegalStateException.class, buffer::close).getMessage());
        assertEquals("DeviceBuffer closed: device=0, address=0x0, byteSize=0",
                assertThrows(IllegalStateException.class, buffer::ipcHandle).getMessage());
    }

    @Test
    void shouldThrowOnSecondCloseOfAPinnedBufferAndInvalidateItsSegment() {
        PinnedHostBuffer buffer = new PinnedHostBuffer(0L, 0L);
        MemorySegment segment = buffer.segment();
        buffer.close();
        assertFalse(segment.scope().isAlive());
        assertEquals("PinnedHostBuffer already closed: address=0x0, byteSize=0",
                assertThrows(IllegalStateException.class, buffer::close).getMessage());
    }

    @Test
    void shouldReportAResourceThatWasNeverClosed() throws InterruptedException {
        leakOne();
        String expected = "native resource never closed (leaked): leak-test-buffer";
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!Leaks.recentReports().contains(expected) && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(Leaks.recentReports().contains(expected), Leaks.recentReports().toString());
        assertEquals("native resource never closed (leaked): x (run with -Dyatt.debug.checks=true to record where it was allocated)",
                Leaks.message("x", null));
        assertTrue(Leaks.RECORD_SITES, "tests run with -Dyatt.debug.checks=true, so allocation sites are recorded");
    }

    private static void leakOne() {
        Leaks.track(new Object(), "leak-test-buffer");
    }

    @Test
    void shouldNotReportAClosedResource() {
        Object owner = new Object();
        Leaks.Tracker tracker = Leaks.track(owner, "closed-buffer");
        assertTrue(tracker.close());
        assertFalse(tracker.close());
        assertTrue(tracker.isClosed());
    }

    @Test
    void shouldCopyIpcHandleBytesInAndOut() {
        byte[] bytes = new byte[64];
        bytes[0] = 7;
        IpcMemHandle handle = new IpcMemHandle(bytes);
        bytes[0] = 9;
        assertEquals(7, handle.bytes()[0]);
        handle.bytes()[0] = 9;
        assertEquals(7, handle.bytes()[0]);
        byte[] same = new byte[64];
        same[0] = 7;
        assertEquals(handle, new IpcMemHandle(same));
        assertEquals(handle.hashCode(), new IpcMemHandle(same).hashCode());
        assertNotEquals(handle, new IpcMemHandle(new byte[64]));
        assertNotSame(handle.bytes(), handle.bytes());
        assertArrayEquals(same, handle.bytes());
        assertEquals("IpcMemHandle[07" + "00".repeat(63) + "]", handle.toString());
        assertEquals("IPC handle must be 64 bytes: length=63",
                assertThrows(IllegalArgumentException.class, () -> new IpcMemHandle(new byte[63])).getMessage());
    }

    @Test
    void shouldMapMemoryTypes() {
        assertEquals(List.of(0, 1, 2, 3), Arrays.stream(CudaMemoryType.values()).map(CudaMemoryType::code).toList());
        assertSame(CudaMemoryType.DEVICE, CudaMemoryType.of(2));
        assertEquals("unknown cudaMemoryType: code=7",
                assertThrows(IllegalArgumentException.class, () -> CudaMemoryType.of(7)).getMessage());
    }
}
