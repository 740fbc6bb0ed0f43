package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.yatt.controller.ReferenceColumn;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** References whose producer keeps the rows in device memory; skipped without a CUDA device. */
@Tag("gpu")
class ReferenceStoreDeviceTest {

    private static final long CONTROLLER = 0x5EED_0D0DL;

    @Test
    void shouldKeepACudaTensorsRowsOnTheDeviceAndServeThemBitForBit() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
        int rows = 300_000;
        try (Allocator owner = Allocator.root("device-owner"); Allocator consumer = Allocator.root("device-consumer");
             ReferenceStore store = ReferenceStore.open(CONTROLLER, 21, owner);
             Tensor host = Tensor.allocate(consumer, DType.F32, Shape.of(rows, 4), Device.host())) {
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < 4; j++) {
                    host.setDouble(i * 4 + j, i, j);
                }
            }
            ReferenceColumn column;
            try (Tensor device = host.to(Device.cuda(0), consumer)) {
                column = store.publish("values", 1, device);
            }
            // the region is on the device: the owner's allocator holds its bytes there, no host copy
            assertEquals((long) rows * 16, owner.allocatedBytes());
            // a fetch's server path: rows 1, 3, 5, ... staged through the host in pieces, at their offsets
            int picked = rows / 2;
            float[] got = new float[picked * 4];
            store.send(0, 16, 32, picked, 16, DType.F32, (bytes, at) -> {
                float[] f = bytes.toArray(ValueLayout.JAVA_FLOAT);
                System.arraycopy(f, 0, got, (int) (at / 4), f.length);
            });
            for (int k = 0; k < picked; k++) {
                assertEquals((2 * k + 1) * 4 + 3, got[k * 4 + 3]);
            }
            // all rows, contiguous: 4.8 MB in two staged pieces of whole rows
            java.util.List<Long> offsets = new java.util.ArrayList<>();
            float[] all = new float[rows * 4];
            store.send(0, 0, 16, rows, 16, DType.F32, (bytes, at) -> {
                offsets.add(at);
                float[] f = bytes.toArray(ValueLayout.JAVA_FLOAT);
                System.arraycopy(f, 0, all, (int) (at / 4), f.length);
            });
            assertEquals(java.util.List.of(0L, ReferenceStore.DEVICE_STAGE_BYTES), offsets);
            for (int i = 0; i < rows * 4; i++) {
                assertEquals(i, all[i]);
            }
            // an in-process consumer copies device to host; the last pull frees the device region
            try (Tensor pulled = ReferenceStore.pull(CONTROLLER, column,
                    Map.of(new ReferenceColumn.Region(21, 0), new ReferenceStore.Claim(1, 1, true)), consumer)) {
                assertEquals(Device.host(), pulled.device());
                assertEquals(-1L, pulled.segment().mismatch(host.segment()));
            }
            assertEquals(0, owner.allocatedBytes());
        }
    }
}
