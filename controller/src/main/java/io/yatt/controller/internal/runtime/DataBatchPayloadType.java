package io.yatt.controller.internal.runtime;

import io.yatt.controller.DataBatch;
import io.yatt.controller.PayloadType;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@link DataBatch} as a payload type, registered by default on both ends of the control plane: tensors travel as
 * dtype, shape and little-endian bytes, columns and metadata as payload values. A decoded batch owns tensors
 * allocated from the endpoint's allocator; whoever receives it closes it. Stateless apart from the allocator;
 * thread-safe.
 */
public final class DataBatchPayloadType {

    /** The type id on the wire; ids 248 to 255 are kept for Yatt's own types. */
    public static final int TYPE_ID = 248;

    private DataBatchPayloadType() {
    }

    /** The payload type whose decoded batches allocate from {@code allocator}. */
    public static PayloadType<DataBatch> create(Allocator allocator) {
        Objects.requireNonNull(allocator, "allocator");
        return new PayloadType<>(TYPE_ID, DataBatch.class, DataBatchPayloadType::toWire,
                wire -> fromWire(wire, allocator));
    }

    /**
     * {@code types} with the DataBatch type appended unless one of them already maps DataBatch (a user's own
     * encoding wins).
     */
    public static List<PayloadType<?>> withDefault(List<PayloadType<?>> types, Allocator allocator) {
        for (PayloadType<?> type : types) {
            if (type.javaType() == DataBatch.class) {
                return types;
            }
        }
        List<PayloadType<?>> all = new ArrayList<>(types);
        all.add(create(allocator));
        return List.copyOf(all);
    }

    private static Object toWire(DataBatch batch) {
        if (batch.isClosed()) {
            throw new IllegalArgumentException("closed DataBatch cannot travel: " + batch);
        }
        Map<String, Object> tensors = new LinkedHashMap<>();
        for (String key : batch.tensorKeys()) {
            Tensor t = batch.tensor(key);
            if (!t.device().isHost()) {
                throw new IllegalArgumentException("an inline DataBatch tensor must be on the host: key=" + key
                        + ", device=" + t.device());
            }
            List<Long> shape = new ArrayList<>();
            for (long d : t.shape().dims()) {
                shape.add(d);
            }
            byte[] bytes;
            if (t.isContiguous()) {
                bytes = t.segment().toArray(ValueLayout.JAVA_BYTE);
            } else {
                try (Tensor packed = t.contiguous(batch.allocator())) {
                    bytes = packed.segment().toArray(ValueLayout.JAVA_BYTE);
                }
            }
            tensors.put(key, List.of(t.dtype().safetensorsName(), shape, bytes));
        }
        Map<String, Object> columns = new LinkedHashMap<>();
        for (String key : batch.columnKeys()) {
            columns.put(key, batch.column(key));
        }
        Map<String, Object> wire = new LinkedHashMap<>();
        wire.put("length", batch.length());
        wire.put("tensors", tensors);
        wire.put("columns", columns);
        wire.put("metadata", batch.metadata());
        return wire;
    }

    private static DataBatch fromWire(Object wire, Allocator allocator) {
        Map<?, ?> map = as(Map.class, wire, "batch");
        int length = as(Integer.class, map.get("length"), "length");
        Map<?, ?> tensors = as(Map.class, map.get("tensors"), "tensors");
        Map<?, ?> columns = as(Map.class, map.get("columns"), "columns");
        Map<?, ?> metadata = as(Map.class, map.get("metadata"), "metadata");
        if (map.size() != 4) {
            throw new IllegalArgumentException("DataBatch payload has unexpected keys: keys=" + map.keySet()
                    + ", expected=[length, tensors, columns, metadata]");
        }
        List<Tensor> allocated = new ArrayList<>();
        try {
            DataBatch.Builder builder = DataBatch.builder(allocator);
            for (Map.Entry<?, ?> e : tensors.entrySet()) {
                String key = (String) e.getKey();
                List<?> parts = as(List.class, e.getValue(), "tensor " + key);
                if (parts.size() != 3) {
                    throw new IllegalArgumentException("DataBatch tensor needs dtype, shape and bytes: key=" + key
                            + ", parts=" + parts.size());
                }
                DType dtype = DType.fromSafetensors(as(String.class, parts.get(0), "dtype of " + key));
                List<?> dims = as(List.class, parts.get(1), "shape of " + key);
                long[] shape = new long[dims.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = as(Long.class, dims.get(i), "shape of " + key);
                }
                byte[] bytes = as(byte[].class, parts.get(2), "bytes of " + key);
                Shape s = Shape.of(shape);
                if (s.numel() * dtype.byteSize() != bytes.length) {
                    throw new IllegalArgumentException("DataBatch tensor bytes do not match its shape: key=" + key
                            + ", shape=" + s + ", dtype=" + dtype + ", bytes=" + bytes.length);
                }
                Tensor t = Tensor.allocate(allocator, dtype, s, Device.host());
                allocated.add(t);
                MemorySegment.copy(MemorySegment.ofArray(bytes), 0, t.segment(), 0, bytes.length);
                builder.tensor(key, t);
            }
            for (Map.Entry<?, ?> e : columns.entrySet()) {
                builder.column((String) e.getKey(), as(List.class, e.getValue(), "column " + e.getKey()));
            }
            for (Map.Entry<?, ?> e : metadata.entrySet()) {
                builder.metadata((String) e.getKey(), e.getValue());
            }
            DataBatch batch = builder.build();
            if (batch.length() != length) {
                batch.close();
                throw new IllegalArgumentException("DataBatch payload length does not match its keys: length="
                        + length + ", keys=" + batch.length());
            }
            return batch;
        } catch (RuntimeException e) {
            for (Tensor t : allocated) {
                if (!t.isClosed()) {
                    t.close();
                }
            }
            throw e;
        }
    }

    private static <T> T as(Class<T> type, Object value, String what) {
        if (!type.isInstance(value)) {
            throw new IllegalArgumentException("DataBatch payload field has the wrong type: field=" + what
                    + ", expected=" + type.getSimpleName() + ", actual="
                    + (value == null ? "null" : value.getClass().getSimpleName()));
        }
        return type.cast(value);
    }
}
