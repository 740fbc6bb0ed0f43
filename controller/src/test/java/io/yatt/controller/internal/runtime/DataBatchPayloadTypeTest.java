package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.DataBatch;
import io.yatt.controller.PayloadType;
import io.yatt.controller.TensorRef;
import io.yatt.controller.internal.wire.MalformedFrameException;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;

class DataBatchPayloadTypeTest {

    private static Object roundTrip(PayloadCodec codec, Object value) throws MalformedFrameException {
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
        int length = codec.encode(value, buffer, 0);
        return codec.decode(buffer, 0, length);
    }

    @Test
    void shouldCarryTensorsColumnsAndMetadataAndCountTheBytes() throws Exception {
        try (Allocator sender = Allocator.root("payload-sender"); Allocator receiver = Allocator.root("payload-rx")) {
            PayloadCodec codec = PayloadCodec.of(List.of(DataBatchPayloadType.create(receiver)));
            Tensor x = Tensor.allocate(sender, DType.F32, Shape.of(3, 2), Device.host());
            for (int i = 0; i < 6; i++) {
                x.setDouble(i * 1.5, i / 2, i % 2);
            }
            try (DataBatch batch = DataBatch.builder(sender).tensor("x", x).column("text", List.of("a", "b", "c"))
                    .metadata("temperature", 0.5).build();
                 DataBatch back = (DataBatch) roundTrip(codec, batch)) {
                assertEquals(3, back.length());
                assertEquals(Shape.of(3, 2), back.tensor("x").shape());
                assertEquals(7.5, back.tensor("x").getDouble(2, 1));
                assertEquals(List.of("a", "b", "c"), back.column("text"));
                assertEquals(Map.of("temperature", 0.5), back.metadata());
                assertEquals(receiver, back.allocator());
                assertEquals(codec.encodedBytes(), codec.decodedBytes());
            }
            assertEquals(0, receiver.allocatedBytes());
        }
    }

    @Test
    void shouldCarryAReferenceColumnAsRunsWhoseSizeDoesNotGrowWithTheRows() throws Exception {
        try (Allocator a = Allocator.root("payload-refs")) {
            PayloadCodec codec = PayloadCodec.of(List.of(DataBatchPayloadType.create(a)));
            long[] sizes = new long[2];
            int[] rowCounts = {4, 400};
            for (int k = 0; k < 2; k++) {
                List<TensorRef> rows = new ArrayList<>();
                for (int r = 0; r < rowCounts[k]; r++) {
                    // two regions: rows of region 7 of worker 3, then rows of region 0 of worker 4
                    rows.add(r < rowCounts[k] / 2 ? new TensorRef(3, 7, 64L * r, DType.F32, Shape.of(16))
                            : new TensorRef(4, 0, 64L * (r - rowCounts[k] / 2), DType.F32, Shape.of(16)));
                }
                long before = codec.encodedBytes();
                try (DataBatch batch = DataBatch.builder(a).column("logp", rows).build();
                     DataBatch back = (DataBatch) roundTrip(codec, batch)) {
                    assertEquals(rows, back.column("logp"));
                }
                sizes[k] = codec.encodedBytes() - before;
            }
            assertEquals(sizes[0], sizes[1]);
        }
    }

    @Test
    void shouldRejectBytesThatDoNotMatchTheShapeWithoutAllocating() {
        try (Allocator a = Allocator.root("payload-bad")) {
            PayloadType<DataBatch> type = DataBatchPayloadType.create(a);
            Map<String, Object> wire = Map.of("length", 2,
                    "tensors", Map.of("x", List.of("F32", List.of(2L), new byte[7])),
                    "columns", Map.of(), "metadata", Map.of());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> type.fromWire().apply(wire));
            assertEquals("DataBatch tensor bytes do not match its shape: key=x, shape=[2], dtype=F32, bytes=7",
                    e.getMessage());
            Map<String, Object> longer = Map.of("length", 3,
                    "tensors", Map.of("x", List.of("F32", List.of(2L), new byte[8])),
                    "columns", Map.of(), "metadata", Map.of());
            assertEquals("DataBatch payload length does not match its keys: length=3, keys=2",
                    assertThrows(IllegalArgumentException.class, () -> type.fromWire().apply(longer)).getMessage());
            assertEquals("DataBatch payload field has the wrong type: field=length, expected=Integer, actual=String",
                    assertThrows(IllegalArgumentException.class, () -> type.fromWire().apply(
                            Map.of("length", "2", "tensors", Map.of(), "columns", Map.of(), "metadata", Map.of())))
                            .getMessage());
            assertEquals(0, a.allocatedBytes());
        }
    }

    @Test
    void shouldRejectReferenceRunsLongerThanTheBatch() {
        try (Allocator a = Allocator.root("payload-runs")) {
            PayloadType<DataBatch> type = DataBatchPayloadType.create(a);
            Map<String, Object> wire = Map.of("length", 2, "tensors", Map.of(),
                    "columns", Map.of("logp", Map.of("refs", List.of(List.of(3, 7L, 0L, 64L, 1_000_000_000, "F32",
                            List.of(16L))))), "metadata", Map.of());
            assertEquals("reference run rows out of range: rows=1000000000, batch length=2, rows so far=0",
                    assertThrows(IllegalArgumentException.class, () -> type.fromWire().apply(wire)).getMessage());
        }
    }
}
