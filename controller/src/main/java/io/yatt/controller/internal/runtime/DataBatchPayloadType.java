package io.yatt.controller.internal.runtime;

import io.yatt.controller.DataBatch;
import io.yatt.controller.PayloadType;
import io.yatt.controller.TensorRef;
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
            List<Object> column = batch.column(key);
            columns.put(key, isReferenceColumn(column) ? Map.of("refs", runs(column)) : column);
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
                builder.column((String) e.getKey(), e.getValue() instanceof Map<?, ?> refs
                        ? rows(as(List.class, refs.get("refs"), "refs of " + e.getKey()), length)
                        : as(List.class, e.getValue(), "column " + e.getKey()));
            }
            for (Map.Entry<?, ?> e : metadata.entrySet()) {
                builder.metadata((String) e.getKey(), e.getValue());
            }
            DataBatch batch = builder.build();
            int keyLength = batch.length();
            if (keyLength != length) {
                batch.close();
                throw new IllegalArgumentException("DataBatch payload length does not match its keys: length="
                        + length + ", keys=" + keyLength);
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

    /** Whether every element of a non-empty column is a {@link TensorRef}: a tensor that travels by reference. */
    public static boolean isReferenceColumn(List<?> column) {
        if (column.isEmpty()) {
            return false;
        }
        for (Object row : column) {
            if (!(row instanceof TensorRef)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Row references as runs of consecutive rows of one region: {@code [owner, region, byteOffset, rows, dtype,
     * sampleShape]}, so the bytes on the wire grow with the number of regions a batch spans, not with its length.
     */
    private static List<Object> runs(List<Object> column) {
        List<Object> runs = new ArrayList<>();
        TensorRef start = null;
        int count = 0;
        for (Object element : column) {
            TensorRef row = (TensorRef) element;
            if (start != null && row.ownerRank() == start.ownerRank() && row.regionId() == start.regionId()
                    && row.dtype() == start.dtype() && row.shape().equals(start.shape())
                    && row.byteOffset() == start.byteOffset() + count * start.byteSize()) {
                count++;
                continue;
            }
            if (start != null) {
                runs.add(run(start, count));
            }
            start = row;
            count = 1;
        }
        runs.add(run(start, count));
        return runs;
    }

    private static List<Object> run(TensorRef start, int rows) {
        List<Long> shape = new ArrayList<>();
        for (long d : start.shape().dims()) {
            shape.add(d);
        }
        return List.of(start.ownerRank(), start.regionId(), start.byteOffset(), rows, start.dtype().safetensorsName(),
                shape);
    }

    private static List<Object> rows(List<?> runs, int length) {
        List<Object> rows = new ArrayList<>();
        for (Object element : runs) {
            List<?> run = as(List.class, element, "reference run");
            if (run.size() != 6) {
                throw new IllegalArgumentException("reference run needs 6 fields: fields=" + run.size());
            }
            int owner = as(Integer.class, run.get(0), "run owner");
            long region = as(Long.class, run.get(1), "run region");
            long offset = as(Long.class, run.get(2), "run byte offset");
            int count = as(Integer.class, run.get(3), "run rows");
            DType dtype = DType.fromSafetensors(as(String.class, run.get(4), "run dtype"));
            List<?> dims = as(List.class, run.get(5), "run shape");
            long[] shape = new long[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = as(Long.class, dims.get(i), "run shape");
            }
            if (count < 1 || count > length - rows.size()) {
                throw new IllegalArgumentException("reference run rows out of range: rows=" + count + ", batch length="
                        + length + ", rows so far=" + rows.size());
            }
            TensorRef first = new TensorRef(owner, region, offset, dtype, Shape.of(shape));
            for (int r = 0; r < count; r++) {
                rows.add(new TensorRef(owner, region, Math.addExact(offset, Math.multiplyExact(r, first.byteSize())),
                        dtype, first.shape()));
            }
        }
        return rows;
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
