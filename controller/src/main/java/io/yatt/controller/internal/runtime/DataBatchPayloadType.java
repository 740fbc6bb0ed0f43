package io.yatt.controller.internal.runtime;

import io.yatt.controller.DataBatch;
import io.yatt.controller.PayloadType;
import io.yatt.controller.ReferenceColumn;
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

    /** The payload type whose decoded batches allocate from {@code allocator}; any tensor size travels. */
    public static PayloadType<DataBatch> create(Allocator allocator) {
        return create(allocator, Long.MAX_VALUE);
    }

    /**
     * The payload type whose decoded batches allocate from {@code allocator} and which refuses to encode a tensor
     * above {@code inlineLimitBytes} ({@code tensor above the inline limit: key=..., byteSize=..., limit=...}).
     *
     * @throws IllegalArgumentException if the limit is negative
     */
    public static PayloadType<DataBatch> create(Allocator allocator, long inlineLimitBytes) {
        Objects.requireNonNull(allocator, "allocator");
        if (inlineLimitBytes < 0) {
            throw new IllegalArgumentException("inline limit must be non-negative: inlineLimitBytes="
                    + inlineLimitBytes);
        }
        return new PayloadType<>(TYPE_ID, DataBatch.class, batch -> toWire(batch, inlineLimitBytes),
                wire -> fromWire(wire, allocator));
    }

    /**
     * {@code types} with the DataBatch type appended unless one of them already maps DataBatch (a user's own
     * encoding wins); any tensor size travels.
     */
    public static List<PayloadType<?>> withDefault(List<PayloadType<?>> types, Allocator allocator) {
        return withDefault(types, allocator, Long.MAX_VALUE);
    }

    /**
     * {@code types} with the DataBatch type appended unless one of them already maps DataBatch (a user's own
     * encoding wins), refusing tensors above {@code inlineLimitBytes}.
     *
     * @throws IllegalArgumentException if the limit is negative
     */
    public static List<PayloadType<?>> withDefault(List<PayloadType<?>> types, Allocator allocator,
            long inlineLimitBytes) {
        for (PayloadType<?> type : types) {
            if (type.javaType() == DataBatch.class) {
                return types;
            }
        }
        List<PayloadType<?>> all = new ArrayList<>(types);
        all.add(create(allocator, inlineLimitBytes));
        return List.copyOf(all);
    }

    private static Object toWire(DataBatch batch, long inlineLimitBytes) {
        if (batch.isClosed()) {
            throw new IllegalArgumentException("closed DataBatch cannot travel: " + batch);
        }
        for (String key : batch.tensorKeys()) {
            long byteSize = batch.tensor(key).byteSize();
            if (byteSize > inlineLimitBytes) {
                throw new IllegalArgumentException("tensor above the inline limit: key=" + key + ", byteSize="
                        + byteSize + ", limit=" + inlineLimitBytes);
            }
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
            columns.put(key, column instanceof ReferenceColumn references ? Map.of("refs", runs(references)) : column);
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

    /** Whether a column holds references (a tensor that travels by reference): a {@link ReferenceColumn}. */
    public static boolean isReferenceColumn(List<?> column) {
        return column instanceof ReferenceColumn;
    }

    /**
     * The column's runs as {@code [owner, region, byteOffset, rowStrideBytes, rows, dtype, sampleShape]}, so the
     * bytes on the wire grow with the number of runs a batch spans, not with its length.
     */
    private static List<Object> runs(ReferenceColumn column) {
        List<Object> runs = new ArrayList<>();
        for (ReferenceColumn.Run run : column.runs()) {
            List<Long> shape = new ArrayList<>();
            for (long d : run.sampleShape().dims()) {
                shape.add(d);
            }
            runs.add(List.of(run.ownerRank(), run.regionId(), run.byteOffset(), run.rowStrideBytes(), run.rows(),
                    run.dtype().safetensorsName(), shape));
        }
        return runs;
    }

    private static ReferenceColumn rows(List<?> wire, int length) {
        List<ReferenceColumn.Run> runs = new ArrayList<>();
        long total = 0;
        for (Object element : wire) {
            List<?> run = as(List.class, element, "reference run");
            if (run.size() != 7) {
                throw new IllegalArgumentException("reference run needs 7 fields: fields=" + run.size());
            }
            int owner = as(Integer.class, run.get(0), "run owner");
            long region = as(Long.class, run.get(1), "run region");
            long offset = as(Long.class, run.get(2), "run byte offset");
            long stride = as(Long.class, run.get(3), "run row stride");
            int count = as(Integer.class, run.get(4), "run rows");
            DType dtype = DType.fromSafetensors(as(String.class, run.get(5), "run dtype"));
            List<?> dims = as(List.class, run.get(6), "run shape");
            long[] shape = new long[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = as(Long.class, dims.get(i), "run shape");
            }
            if (count < 1 || count > length - total) {
                throw new IllegalArgumentException("reference run rows out of range: rows=" + count + ", batch length="
                        + length + ", rows so far=" + total);
            }
            total += count;
            runs.add(new ReferenceColumn.Run(owner, region, offset, stride, count, dtype, Shape.of(shape)));
        }
        if (total != length) {
            throw new IllegalArgumentException("reference runs do not cover the batch: rows=" + total
                    + ", batch length=" + length);
        }
        return ReferenceColumn.ofRuns(runs);
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
