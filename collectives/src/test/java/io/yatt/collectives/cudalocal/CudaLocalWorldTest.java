package io.yatt.collectives.cudalocal;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.internal.DeviceTensors;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the cuda-local backend checks before it touches a device; runs with or without one. */
class CudaLocalWorldTest {

    @Test
    void shouldRefuseAWorldWithoutADevice() {
        assumeTrue(Cuda.deviceCount() == 0, "a device is present");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> CudaLocalWorld.create(2, 0, new Communicator.Context()));
        assertEquals("cuda-local backend needs a CUDA device: deviceCount=0, status=" + Cuda.status().message(),
                e.getMessage());
        assertEquals(false, Cuda.status().available());
    }

    @Test
    void shouldRefuseADeviceOutOfRange() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device");
        int count = Cuda.deviceCount();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaLocalWorld.create(new int[] {0, count}, new Communicator.Context()));
        assertEquals("device out of range: device=" + count + ", deviceCount=" + count + ", rank=1", e.getMessage());
    }

    @Test
    void shouldRejectAnEmptyWorldBeforeLookingForADevice() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaLocalWorld.create(0, 0, new Communicator.Context()));
        assertEquals("invalid world size: size=0, expected >= 1", e.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> CudaLocalWorld.create(new int[0], new Communicator.Context()));
        assertEquals("invalid world size: size=0, expected >= 1", empty.getMessage());
    }

    @Test
    void shouldRejectHostTensors() {
        try (Allocator allocator = Allocator.root("cuda-local-test");
             Tensor host = Tensor.allocate(allocator, DType.F32, Shape.of(4), Device.host())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DeviceTensors.requireDevice(CudaLocalCommunicator.BACKEND, "send", host, 0));
            assertEquals("cuda-local backend needs cuda tensors: device=host, name=send, expected=cuda:0", e.getMessage());
        }
    }
}
