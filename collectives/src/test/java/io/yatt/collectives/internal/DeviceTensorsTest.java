package io.yatt.collectives.internal;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DeviceTensorsTest {

    @Test
    void shouldRejectAHostRecvNamingTheBackendAndTheRanksDevice() {
        try (Allocator allocator = Allocator.root("device-tensors-test");
             Tensor send = Tensor.allocate(allocator, DType.F32, Shape.of(4), Device.host());
             Tensor recv = Tensor.allocate(allocator, DType.F32, Shape.of(4), Device.host())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DeviceTensors.requireDevice("nccl", send, recv, 3));
            assertEquals("nccl backend needs cuda tensors: device=host, name=send, expected=cuda:3", e.getMessage());
        }
    }

    @Test
    void shouldNameTheMissingTensor() {
        NullPointerException e = assertThrows(NullPointerException.class,
                () -> DeviceTensors.requireDevice("cuda-local", "recv", null, 0));
        assertEquals("recv", e.getMessage());
    }

    @Test
    void shouldGiveAnEmptyTensorTheNullAddress() {
        try (Allocator allocator = Allocator.root("device-tensors-test");
             Tensor empty = Tensor.allocate(allocator, DType.F32, Shape.of(0), Device.host())) {
            assertEquals(0, DeviceTensors.address(empty));
        }
    }
}
