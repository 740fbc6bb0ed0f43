package io.yatt.ffi.cuda;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Device buffers, streams, events, async copies and IPC on a real GPU; skipped without one. */
@Tag("gpu")
class CudaGpuTest {
    private static final long BYTE_SIZE = 64L << 20;

    @BeforeEach
    void requireDevice() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
    }

    @Test
    void shouldReportDeviceProperties() {
        CudaStatus status = Cuda.status();
        assertTrue(status.available());
        assertTrue(status.runtimeVersion() >= 12000 && status.driverVersion() >= status.runtimeVersion() - 1000,
                status.message());
        DeviceProperties properties = Cuda.deviceProperties(0);
        assertFalse(properties.name().isBlank());
        assertTrue(properties.totalMemoryBytes() > (1L << 30), properties.toString());
        assertTrue(properties.major() >= 7, properties.toString());
        assertTrue(properties.multiProcessorCount() > 0, properties.toString());
        assertTrue(properties.pciBusId().matches("[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-9]"), properties.pciBusId());
        Cuda.setDevice(0);
        assertEquals(0, Cuda.currentDevice());
        MemoryInfo memory = Cuda.memoryInfo();
        assertTrue(memory.freeBytes() > 0 && memory.freeBytes() <= memory.totalBytes(), memory.toString());
    }

    @Test
    void shouldCopyAStridedBlockOfRowsWithOne2DCopy() {
        // 5 rows of 12 bytes from a source of pitch 40 (from byte 8) into a destination of pitch 16
        try (CudaStream stream = CudaStream.create(0, true);
                DeviceBuffer src = DeviceBuffer.allocate(0, 200);
                DeviceBuffer dst = DeviceBuffer.allocate(0, 80);
                PinnedHostBuffer up = PinnedHostBuffer.allocate(200);
                PinnedHostBuffer down = PinnedHostBuffer.allocate(80)) {
            for (int i = 0; i < 200; i++) {
                up.segment().set(JAVA_BYTE, i, (byte) i);
            }
            Cuda.memcpyAsync(src.pointer(), up.segment(), 200, stream);
            Cuda.memsetAsync(dst.pointer(), 0xff, 80, stream);
            Cuda.memcpy2DAsync(dst.pointer(), 16, MemorySegment.ofAddress(src.address() + 8), 40, 12, 5, stream);
            Cuda.memcpyAsync(down.segment(), dst.pointer(), 80, stream);
            stream.synchronize();
            for (int row = 0; row < 5; row++) {
                for (int b = 0; b < 16; b++) {
                    byte expected = b < 12 ? (byte) (8 + row * 40 + b) : (byte) 0xff;
                    assertEquals(expected, down.segment().get(JAVA_BYTE, row * 16 + b), "row=" + row + ", b=" + b);
                }
            }
        }
    }

    @Test
    void shouldCopyBothWaysAsynchronouslyThroughPinnedMemory() {
        try (CudaStream stream = CudaStream.create(0, true);
                DeviceBuffer device = DeviceBuffer.allocate(0, BYTE_SIZE);
                PinnedHostBuffer up = PinnedHostBuffer.allocate(BYTE_SIZE);
                PinnedHostBuffer down = PinnedHostBuffer.allocate(BYTE_SIZE);
                CudaEvent start = CudaEvent.create(0, true);
                CudaEvent end = CudaEvent.create(0, true)) {
            for (long i = 0; i < BYTE_SIZE / 4; i++) {
                up.segment().setAtIndex(JAVA_INT, i, (int) (i * 2654435761L));
            }
            start.record(stream);
            Cuda.memcpyAsync(device.pointer(), up.segment(), BYTE_SIZE, stream);
            Cuda.memcpyAsync(down.segment(), device.pointer(), BYTE_SIZE, stream);
            end.record(stream);
            end.synchronize();
            assertTrue(end.query());
            assertTrue(stream.query());
            assertEquals(-1, up.segment().mismatch(down.segment()));
            float millis = start.elapsedMillis(end);
            assertTrue(millis > 0, "elapsed " + millis);
            PointerAttributes attributes = Cuda.pointerAttributes(device.pointer());
            assertEquals(CudaMemoryType.DEVICE, attributes.type());
            assertEquals(0, attributes.device());
            assertEquals(device.address(), attributes.devicePointer());
            assertEquals(CudaMemoryType.HOST, Cuda.pointerAttributes(up.segment()).type());
        }
    }

    @Test
    void shouldFillAndOrderWorkAcrossStreamsWithEvents() {
        try (CudaStream producer = CudaStream.create(0, true);
                CudaStream consumer = CudaStream.create(0, true);
                CudaEvent filled = CudaEvent.create(0);
                DeviceBuffer device = DeviceBuffer.allocate(0, 4096);
                PinnedHostBuffer host = PinnedHostBuffer.allocate(4096)) {
            Cuda.memsetAsync(device.pointer(), 0x5a, 4096, producer);
            filled.record(producer);
            consumer.waitEvent(filled);
            Cuda.memcpyAsync(host.segment(), device.pointer(), 4096, consumer);
            consumer.synchronize();
            for (long i = 0; i < 4096; i++) {
                assertEquals((byte) 0x5a, host.segment().get(JAVA_BYTE, i));
            }
            Cuda.memcpy(device.pointer(), host.segment(), 16);
            Cuda.deviceSynchronize();
        }
    }

    @Test
    void shouldThrowOnSecondCloseAndRejectUseAfterClose() {
        DeviceBuffer buffer = DeviceBuffer.allocate(0, 1024);
        MemorySegment pointer = buffer.pointer();
        buffer.close();
        assertThrows(IllegalStateException.class, buffer::close);
        try (CudaStream stream = CudaStream.create(0)) {
            assertThrows(IllegalStateException.class, () -> Cuda.memsetAsync(pointer, 0, 1024, stream));
        }
        CudaStream stream = CudaStream.create(0);
        stream.close();
        assertThrows(IllegalStateException.class, stream::close);
        CudaEvent event = CudaEvent.create(0);
        event.close();
        assertThrows(IllegalStateException.class, event::close);
    }

    @Test
    void shouldReportOutOfMemoryWithTheRequestedSize() {
        long huge = 1L << 50;
        CudaException e = assertThrows(CudaException.class, () -> DeviceBuffer.allocate(0, huge));
        assertEquals("cudaMalloc failed: error=cudaErrorMemoryAllocation(2), device=0, byteSize=" + huge + " (out of memory)",
                e.getMessage());
    }

    @Test
    void shouldShareDeviceMemoryWithAnotherProcessThroughIpc() throws IOException, InterruptedException {
        long byteSize = 1 << 20;
        try (DeviceBuffer buffer = DeviceBuffer.allocate(0, byteSize);
                CudaStream stream = CudaStream.create(0)) {
            Cuda.memsetAsync(buffer.pointer(), 0x3c, byteSize, stream);
            stream.synchronize();
            IpcMemHandle handle = buffer.ipcHandle();
            List<String> command = new ArrayList<>();
            command.add(ProcessHandle.current().info().command().orElseThrow());
            command.add("--enable-native-access=ALL-UNNAMED");
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(IpcChild.class.getName());
            command.add(HexFormat.of().formatHex(handle.bytes()));
            command.add(Long.toString(byteSize));
            Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
            assertTrue(child.waitFor(120, TimeUnit.SECONDS), "IPC child did not finish");
            String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, child.exitValue(), output);
            assertTrue(output.contains("IPC-OK bytes=" + byteSize + " value=3c"), output);
            // the child wrote 0x7e into the first 256 bytes of the shared allocation
            try (PinnedHostBuffer host = PinnedHostBuffer.allocate(256)) {
                Cuda.memcpy(host.segment(), buffer.pointer(), 256);
                for (long i = 0; i < 256; i++) {
                    assertEquals((byte) 0x7e, host.segment().get(JAVA_BYTE, i));
                }
            }
        }
    }
}
