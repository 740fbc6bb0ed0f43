package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaException;
import io.yatt.ffi.cuda.CudaStream;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Pinned and device tensors: clear errors without a driver here; the tests tagged gpu need a device. */
class TensorDeviceTest {

    @Test
    void shouldFailClearlyAndReleaseTheReservationWithoutADevice() {
        assumeTrue(Cuda.deviceCount() == 0 && Cuda.status().libraryPath() != null,
                "needs the CUDA runtime library without a usable device");
        try (Allocator allocator = Allocator.root("nodevice")) {
            CudaException device = assertThrows(CudaException.class,
                    () -> Tensor.allocate(allocator, DType.F32, Shape.of(4), Device.cuda(0)));
            assertEquals(Cuda.status().error(), device.error(), device.getMessage());
            assertTrue(device.getMessage().contains("cudaMalloc"), device.getMessage());
            CudaException pinned = assertThrows(CudaException.class,
                    () -> Tensor.allocatePinned(allocator, DType.F32, Shape.of(4)));
            assertEquals(Cuda.status().error(), pinned.error(), pinned.getMessage());
            assertTrue(pinned.getMessage().contains("cudaHostAlloc"), pinned.getMessage());
            assertEquals(0, allocator.allocatedBytes());
            assertEquals(0, Allocator.cachedBytes(Device.cuda(0)));
            assertEquals(0, Allocator.emptyCache(Device.host()));
        }
    }

    private static void assumeDevice() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
    }

    @Test
    @Tag("gpu")
    void shouldAllocateZeroedDeviceTensorsAndRoundTripThroughTheHost() {
        assumeDevice();
        try (Allocator allocator = Allocator.root("gpu");
             Tensor host = Tensor.allocate(allocator, DType.BF16, Shape.of(64, 33), Device.host());
             Tensor device = Tensor.allocate(allocator, DType.BF16, Shape.of(64, 33), Device.cuda(0));
             Tensor back = Tensor.allocate(allocator, DType.BF16, Shape.of(64, 33), Device.host())) {
            assertEquals(Device.cuda(0), device.device());
            back.copyFrom(device);
            assertTrue(back.contentEquals(host), "device memory is zeroed");
            host.fillRandom(5);
            device.copyFrom(host);
            back.copyFrom(device);
            assertTrue(back.contentEquals(host));
            assertTrue(device.contentEquals(host));
            assertEquals(host.getDouble(63, 32), device.getDouble(63, 32));
            device.setDouble(0.5, 1, 2);
            assertEquals(0.5, device.getDouble(1, 2));
        }
    }

    @Test
    @Tag("gpu")
    void shouldCopyStridedViewsBetweenHostAndDeviceAndDevices() {
        assumeDevice();
        try (Allocator allocator = Allocator.root("gpu");
             Tensor host = Tensor.allocate(allocator, DType.F32, Shape.of(16, 24), Device.host());
             Tensor a = Tensor.allocate(allocator, DType.F32, Shape.of(16, 24), Device.cuda(0));
             Tensor b = Tensor.allocate(allocator, DType.F32, Shape.of(16, 24), Device.cuda(Cuda.deviceCount() - 1))) {
            host.fillRandom(9);
            a.narrow(1, 4, 8).copyFrom(host.narrow(1, 4, 8));
            b.narrow(1, 4, 8).copyFrom(a.narrow(1, 4, 8));
            assertTrue(b.narrow(1, 4, 8).contentEquals(host.narrow(1, 4, 8)));
            assertEquals(0.0, b.getDouble(0, 3));
            try (Tensor contiguous = b.narrow(1, 4, 8).contiguous(allocator);
                 Tensor onHost = contiguous.to(Device.host(), allocator)) {
                assertTrue(onHost.contentEquals(host.narrow(1, 4, 8)));
            }
            Tensor transposed = host.asStrided(Shape.of(24, 16), new long[] {1, 24}, 0);
            try (Tensor device = Tensor.allocate(allocator, DType.F32, Shape.of(24, 16), Device.cuda(0))) {
                device.copyFrom(transposed);
                assertTrue(device.contentEquals(transposed));
            }
        }
    }

    @Test
    @Tag("gpu")
    void shouldReuseCachedDeviceBlocksAndEmptyTheCache() {
        assumeDevice();
        Device cuda = Device.cuda(0);
        try (Allocator allocator = Allocator.root("gpu")) {
            Tensor first = Tensor.allocate(allocator, DType.F32, Shape.of(1 << 20), cuda);
            long address = first.dataPointer().address();
            first.fill(3);
            first.close();
            long reserved = Allocator.reservedBytes(cuda);
            try (Tensor second = Tensor.allocate(allocator, DType.F32, Shape.of(1 << 20), cuda)) {
                assertEquals(address, second.dataPointer().address());
                assertEquals(reserved, Allocator.reservedBytes(cuda));
                assertEquals(0.0, second.getDouble(12345), "a reused block is zeroed again");
            }
            assertTrue(Allocator.cachedBytes(cuda) >= 4L << 20);
            assertTrue(Allocator.emptyCache(cuda) >= 4L << 20);
            assertEquals(0, Allocator.cachedBytes(cuda));
        }
    }

    @Test
    @Tag("gpu")
    void shouldCopyAsynchronouslyOnAStreamThroughPinnedMemory() {
        assumeDevice();
        try (Allocator allocator = Allocator.root("gpu");
             CudaStream stream = CudaStream.create(0, true);
             Tensor pinned = Tensor.allocatePinned(allocator, DType.I32, Shape.of(1 << 16));
             Tensor device = Tensor.allocate(allocator, DType.I32, Shape.of(1 << 16), stream);
             Tensor back = Tensor.allocatePinned(allocator, DType.I32, Shape.of(1 << 16))) {
            assertTrue(pinned.device().isHost());
            assertEquals(0, pinned.segment().get(ValueLayout.JAVA_INT, 0));
            pinned.fillRandom(3);
            device.copyFrom(pinned, stream);
            back.copyFrom(device, stream);
            device.recordStream(stream);
            stream.synchronize();
            assertTrue(back.contentEquals(pinned));
        }
    }

    @Test
    @Tag("gpu")
    void shouldFailOnDeviceTensorUseAfterFree() {
        assumeDevice();
        try (Allocator allocator = Allocator.root("gpu")) {
            Tensor tensor = Tensor.allocate(allocator, DType.F32, Shape.of(8), Device.cuda(0));
            List<Tensor> halves = tensor.chunk(2, 0);
            tensor.close();
            IllegalStateException error = assertThrows(IllegalStateException.class, () -> halves.get(1).getDouble(0));
            assertEquals("tensor used after free: dtype=F32, shape=[4], device=cuda:0, allocator=gpu", error.getMessage());
            assertFalse(halves.get(0).isClosed());
        }
    }
}
