package io.yatt.controller;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A batch of samples as verl's DataProto: named tensors whose dimension 0 is the sample, per-sample non-tensor
 * columns (one {@code List<Object>} per key) and batch metadata. Every batch owns its {@link Tensor} objects and
 * closes them on {@link #close()}; a batch from a view operation ({@link #slice}, {@link #chunk}, {@link #select},
 * {@link #union}, {@link #unpad}, {@link #splitBySizes}) shares its source's memory and must not outlive it, while
 * a batch from a gathering operation ({@link #concat}, {@link #pad}, {@link #repeat}, {@link #reorder},
 * {@link #selectRows}, {@link #splitByIndices}) owns new memory from the batch's allocator. Confined to one thread
 * at a time.
 */
public final class DataBatch implements AutoCloseable {
    private final Allocator allocator;
    private final Map<String, Tensor> tensors;
    private final Map<String, List<Object>> columns;
    private final Map<String, Object> metadata;
    private final int length;
    private boolean closed;

    private DataBatch(Allocator allocator, Map<String, Tensor> tensors, Map<String, List<Object>> columns,
            Map<String, Object> metadata, int length) {
        this.allocator = allocator;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.columns = Collections.unmodifiableMap(columns);
        this.metadata = Collections.unmodifiableMap(metadata);
        this.length = length;
    }

    /** A builder whose batch allocates the memory of its gathering operations from {@code allocator}. */
    public static Builder builder(Allocator allocator) {
        return new Builder(Objects.requireNonNull(allocator, "allocator"));
    }

    /**
     * A padded batch and the number of rows added at its end.
     *
     * @param batch   the padded batch (close it)
     * @param padSize rows added, copies of the first rows of the source
     */
    public record Padded(DataBatch batch, int padSize) {
    }

    /** Number of samples (0 for a batch without keys). */
    public int length() {
        checkOpen();
        return length;
    }

    /** The allocator gathering operations on this batch allocate from. */
    public Allocator allocator() {
        return allocator;
    }

    /** Tensor keys in insertion order. */
    public Set<String> tensorKeys() {
        checkOpen();
        return tensors.keySet();
    }

    /** Non-tensor column keys in insertion order. */
    public Set<String> columnKeys() {
        checkOpen();
        return columns.keySet();
    }

    /** Batch metadata, unmodifiable. */
    public Map<String, Object> metadata() {
        checkOpen();
        return metadata;
    }

    /**
     * The tensor under {@code key}; it stays owned by this batch (do not close it).
     *
     * @throws IllegalArgumentException if there is no tensor under the key
     */
    public Tensor tensor(String key) {
        checkOpen();
        Tensor tensor = tensors.get(key);
        if (tensor == null) {
            throw new IllegalArgumentException("no tensor under key: key=" + key + ", tensorKeys=" + tensors.keySet());
        }
        return tensor;
    }

    /**
     * The non-tensor column under {@code key}, unmodifiable.
     *
     * @throws IllegalArgumentException if there is no column under the key
     */
    public List<Object> column(String key) {
        checkOpen();
        List<Object> column = columns.get(key);
        if (column == null) {
            throw new IllegalArgumentException("no column under key: key=" + key + ", columnKeys=" + columns.keySet());
        }
        return column;
    }

    /**
     * A view of samples {@code [start, start + count)}.
     *
     * @throws IndexOutOfBoundsException if the range is outside {@code [0, length)}
     */
    public DataBatch slice(int start, int count) {
        checkOpen();
        if (start < 0 || count < 0 || start > length - count) {
            throw new IndexOutOfBoundsException("slice out of range: start=" + start + ", count=" + count
                    + ", length=" + length);
        }
        Map<String, Tensor> views = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            views.put(entry.getKey(), entry.getValue().narrow(0, start, count));
        }
        Map<String, List<Object>> sub = new LinkedHashMap<>();
        for (Map.Entry<String, List<Object>> entry : columns.entrySet()) {
            sub.put(entry.getKey(), copyOf(entry.getValue().subList(start, start + count)));
        }
        return new DataBatch(allocator, views, sub, new LinkedHashMap<>(metadata), count);
    }

    /**
     * {@code chunks} views of equal length, in order (verl's {@code DataProto.chunk}); pad first when the length is
     * not a multiple.
     *
     * @throws IllegalArgumentException if chunks is not positive or does not divide the length
     */
    public List<DataBatch> chunk(int chunks) {
        checkOpen();
        if (chunks <= 0) {
            throw new IllegalArgumentException("chunk count must be positive: chunks=" + chunks);
        }
        if (length % chunks != 0) {
            throw new IllegalArgumentException("batch length not divisible by chunk count: length=" + length
                    + ", chunks=" + chunks + " (pad it first)");
        }
        int size = length / chunks;
        int[] sizes = new int[chunks];
        Arrays.fill(sizes, size);
        return splitBySizes(sizes);
    }

    /**
     * Consecutive views of the given sizes, which must add up to the length.
     *
     * @throws IllegalArgumentException if a size is negative or the sizes do not add up to the length
     */
    public List<DataBatch> splitBySizes(int... sizes) {
        checkOpen();
        long total = 0;
        for (int size : sizes) {
            if (size < 0) {
                throw new IllegalArgumentException("negative split size: sizes=" + Arrays.toString(sizes));
            }
            total += size;
        }
        if (total != length) {
            throw new IllegalArgumentException("split sizes do not add up to the length: sizes="
                    + Arrays.toString(sizes) + ", sum=" + total + ", length=" + length);
        }
        List<DataBatch> pieces = new ArrayList<>(sizes.length);
        int start = 0;
        for (int size : sizes) {
            pieces.add(slice(start, size));
            start += size;
        }
        return Collections.unmodifiableList(pieces);
    }

    /**
     * One new batch per index array, each holding the samples at those indices in that order (repeats allowed).
     *
     * @throws IndexOutOfBoundsException if an index is outside {@code [0, length)}
     */
    public List<DataBatch> splitByIndices(List<int[]> groups) {
        checkOpen();
        List<DataBatch> pieces = new ArrayList<>(groups.size());
        try {
            for (int[] group : groups) {
                pieces.add(selectRows(group));
            }
        } catch (RuntimeException | Error e) {
            closeAll(pieces, e);
            throw e;
        }
        return Collections.unmodifiableList(pieces);
    }

    /**
     * A new batch of the samples at {@code indices}, in that order (repeats allowed; verl's {@code select_idxs}).
     *
     * @throws IndexOutOfBoundsException if an index is outside {@code [0, length)}
     */
    public DataBatch selectRows(int... indices) {
        checkOpen();
        for (int index : indices) {
            if (index < 0 || index >= length) {
                throw new IndexOutOfBoundsException("row index out of range: index=" + index + ", length=" + length);
            }
        }
        return gather(indices.clone());
    }

    /**
     * A new batch with the samples permuted: sample {@code i} of the result is sample {@code indices[i]} of this.
     *
     * @throws IllegalArgumentException if the indices are not a permutation of {@code [0, length)}
     */
    public DataBatch reorder(int... indices) {
        checkOpen();
        boolean[] seen = new boolean[length];
        boolean permutation = indices.length == length;
        for (int i = 0; permutation && i < indices.length; i++) {
            int index = indices[i];
            permutation = index >= 0 && index < length && !seen[index];
            if (permutation) {
                seen[index] = true;
            }
        }
        if (!permutation) {
            throw new IllegalArgumentException("reorder needs a permutation of [0, length): length=" + length
                    + ", indices=" + Arrays.toString(indices));
        }
        return gather(indices.clone());
    }

    /**
     * A new batch with every sample repeated {@code times}: interleaved gives {@code a a b b}, otherwise the whole
     * batch is tiled, {@code a b a b} (verl's {@code DataProto.repeat}).
     *
     * @throws IllegalArgumentException if times is not positive or the result has more than 2^31-1 samples
     */
    public DataBatch repeat(int times, boolean interleaved) {
        checkOpen();
        if (times <= 0) {
            throw new IllegalArgumentException("repeat times must be positive: times=" + times);
        }
        long total = (long) length * times;
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("repeated batch too long: length=" + length + ", times=" + times);
        }
        int[] indices = new int[(int) total];
        for (int j = 0; j < indices.length; j++) {
            indices[j] = interleaved ? j / times : j % length;
        }
        return gather(indices);
    }

    /**
     * A new batch padded to a multiple of {@code divisor} by repeating the first rows (cycling if the pad is longer
     * than the batch), as verl's {@code pad_dataproto_to_divisor}; the pad size is 0 when the length is a multiple
     * already. An empty batch stays empty.
     *
     * @throws IllegalArgumentException if divisor is not positive
     */
    public Padded pad(int divisor) {
        checkOpen();
        if (divisor <= 0) {
            throw new IllegalArgumentException("pad divisor must be positive: divisor=" + divisor);
        }
        int padSize = padSize(length, divisor);
        if (padSize == 0) {
            return new Padded(slice(0, length), 0);
        }
        return new Padded(gather(paddedIndices(0, length + padSize, length)), padSize);
    }

    /**
     * A view without the last {@code padSize} samples (verl's {@code unpad_dataproto}).
     *
     * @throws IllegalArgumentException if padSize is negative or larger than the length
     */
    public DataBatch unpad(int padSize) {
        checkOpen();
        if (padSize < 0 || padSize > length) {
            throw new IllegalArgumentException("pad size out of range: padSize=" + padSize + ", length=" + length);
        }
        return slice(0, length - padSize);
    }

    /**
     * A view with only the named tensors and columns; metadata is kept whole.
     *
     * @throws IllegalArgumentException if a key is neither a tensor nor a column, naming every missing key
     */
    public DataBatch select(Collection<String> keys) {
        checkOpen();
        List<String> missing = new ArrayList<>();
        for (String key : keys) {
            if (!tensors.containsKey(key) && !columns.containsKey(key)) {
                missing.add(key);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("select of missing keys: missing=" + missing + ", keys=" + allKeys());
        }
        Set<String> wanted = new LinkedHashSet<>(keys);
        Map<String, Tensor> views = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            if (wanted.contains(entry.getKey())) {
                views.put(entry.getKey(), entry.getValue().narrow(0, 0, length));
            }
        }
        Map<String, List<Object>> kept = new LinkedHashMap<>();
        for (Map.Entry<String, List<Object>> entry : columns.entrySet()) {
            if (wanted.contains(entry.getKey())) {
                kept.put(entry.getKey(), entry.getValue());
            }
        }
        return new DataBatch(allocator, views, kept, new LinkedHashMap<>(metadata), length);
    }

    /**
     * A view with the keys and metadata of both batches (verl's {@code union}); a key present in both must hold equal
     * content (tensors bit for bit, columns and metadata by {@code equals}).
     *
     * @throws IllegalArgumentException if the lengths differ, a shared key's content differs, or a key is a tensor in
     *     one batch and a column in the other
     */
    public DataBatch union(DataBatch other) {
        checkOpen();
        other.checkOpen();
        if (other.length != length && !other.allKeys().isEmpty() && !allKeys().isEmpty()) {
            throw new IllegalArgumentException("union of batches of different lengths: length=" + length
                    + ", otherLength=" + other.length);
        }
        for (String key : other.tensors.keySet()) {
            if (columns.containsKey(key)) {
                throw new IllegalArgumentException("union conflict: key=" + key
                        + " is a column here and a tensor in the other batch");
            }
            Tensor mine = tensors.get(key);
            if (mine != null && !mine.contentEquals(other.tensors.get(key))) {
                throw new IllegalArgumentException("union conflict: key=" + key + ", the tensors differ");
            }
        }
        for (String key : other.columns.keySet()) {
            if (tensors.containsKey(key)) {
                throw new IllegalArgumentException("union conflict: key=" + key
                        + " is a tensor here and a column in the other batch");
            }
            List<Object> mine = columns.get(key);
            if (mine != null && !mine.equals(other.columns.get(key))) {
                throw new IllegalArgumentException("union conflict: key=" + key + ", the columns differ");
            }
        }
        Map<String, Object> merged = mergeMetadata(List.of(this, other), "union");
        int unionLength = allKeys().isEmpty() ? other.length : length;
        Map<String, Tensor> views = new LinkedHashMap<>();
        for (DataBatch batch : List.of(this, other)) {
            for (Map.Entry<String, Tensor> entry : batch.tensors.entrySet()) {
                if (!views.containsKey(entry.getKey())) {
                    views.put(entry.getKey(), entry.getValue().narrow(0, 0, unionLength));
                }
            }
        }
        Map<String, List<Object>> kept = new LinkedHashMap<>(columns);
        other.columns.forEach(kept::putIfAbsent);
        return new DataBatch(allocator, views, kept, merged, unionLength);
    }

    /**
     * A view with one more metadata entry (replacing an entry of the same key).
     *
     * @throws NullPointerException if key or value is null
     */
    public DataBatch withMetadata(String key, Object value) {
        checkOpen();
        Map<String, Object> extended = new LinkedHashMap<>(metadata);
        extended.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return view(extended);
    }

    /** A view without the metadata entry {@code key} (the same entries if it has none). */
    public DataBatch withoutMetadata(String key) {
        checkOpen();
        Map<String, Object> reduced = new LinkedHashMap<>(metadata);
        reduced.remove(key);
        return view(reduced);
    }

    /**
     * One new batch with the samples of {@code batches} in order (verl's {@code DataProto.concat}), allocated from the
     * first batch's allocator on each tensor's device; metadata is the union of the batches' metadata.
     *
     * @throws IllegalArgumentException if the list is empty, the key sets differ, a tensor's dtype or per-sample
     *     shape differs between batches, or metadata disagrees on a key
     */
    public static DataBatch concat(List<DataBatch> batches) {
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("concat of no batches: batches=[]");
        }
        DataBatch first = batches.getFirst();
        long total = 0;
        for (int i = 0; i < batches.size(); i++) {
            DataBatch batch = batches.get(i);
            batch.checkOpen();
            if (!batch.tensors.keySet().equals(first.tensors.keySet())
                    || !batch.columns.keySet().equals(first.columns.keySet())) {
                throw new IllegalArgumentException("concat key mismatch: index=" + i + ", keys=" + batch.allKeys()
                        + ", expected=" + first.allKeys());
            }
            for (Map.Entry<String, Tensor> entry : batch.tensors.entrySet()) {
                Tensor mine = entry.getValue();
                Tensor reference = first.tensors.get(entry.getKey());
                if (mine.dtype() != reference.dtype() || !sampleDims(mine).equals(sampleDims(reference))) {
                    throw new IllegalArgumentException("concat tensor mismatch: key=" + entry.getKey() + ", index=" + i
                            + ", dtype=" + mine.dtype() + ", shape=" + mine.shape() + ", expected dtype="
                            + reference.dtype() + " and sample shape " + sampleDims(reference));
                }
            }
            total += batch.length;
        }
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("concatenated batch too long: length=" + total);
        }
        Map<String, Object> merged = mergeMetadata(batches, "concat");
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> entry : first.tensors.entrySet()) {
                Tensor target = allocateRows(first.allocator, entry.getValue(), (int) total);
                out.put(entry.getKey(), target);
                long offset = 0;
                for (DataBatch batch : batches) {
                    Tensor src = batch.tensors.get(entry.getKey());
                    copyRows(target, offset, src, 0, batch.length);
                    offset += batch.length;
                }
            }
        } catch (RuntimeException | Error e) {
            closeTensors(out.values(), e);
            throw e;
        }
        Map<String, List<Object>> cols = new LinkedHashMap<>();
        for (String key : first.columns.keySet()) {
            List<ReferenceColumn> references = new ArrayList<>();
            for (DataBatch batch : batches) {
                if (batch.columns.get(key) instanceof ReferenceColumn column) {
                    references.add(column);
                }
            }
            if (references.size() == batches.size()) {
                cols.put(key, ReferenceColumn.concat(references));
                continue;
            }
            List<Object> all = new ArrayList<>((int) total);
            for (DataBatch batch : batches) {
                all.addAll(batch.columns.get(key));
            }
            cols.put(key, copyOf(all));
        }
        return new DataBatch(first.allocator, out, cols, merged, (int) total);
    }

    /**
     * Closes every tensor of this batch: owned memory is freed, views become unusable.
     *
     * @throws IllegalStateException if the batch is already closed
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("data batch already closed: keys=" + allKeys() + ", length=" + length);
        }
        closed = true;
        closeTensors(tensors.values(), null);
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "DataBatch[length=" + length + ", tensors=" + tensors.keySet() + ", columns=" + columns.keySet()
                + ", metadata=" + metadata.keySet() + (closed ? ", closed" : "") + "]";
    }

    // ---- package-private helpers ----

    /** Rows {@code [0, padSize)} added to reach a multiple of {@code divisor}. */
    static int padSize(int length, int divisor) {
        return (divisor - length % divisor) % divisor;
    }

    /** Indices {@code [from, to)} of the padded batch mapped to source rows (padding repeats the first rows). */
    static int[] paddedIndices(int from, int to, int length) {
        int[] indices = new int[to - from];
        for (int j = from; j < to; j++) {
            indices[j - from] = j < length ? j : (j - length) % length;
        }
        return indices;
    }

    /** A new batch of the rows at {@code indices}, which the caller checked. */
    DataBatch gather(int[] indices) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
                Tensor src = entry.getValue();
                Tensor target = allocateRows(allocator, src, indices.length);
                out.put(entry.getKey(), target);
                int j = 0;
                while (j < indices.length) {
                    int run = 1;
                    while (j + run < indices.length && indices[j + run] == indices[j] + run) {
                        run++;
                    }
                    copyRows(target, j, src, indices[j], run);
                    j += run;
                }
            }
        } catch (RuntimeException | Error e) {
            closeTensors(out.values(), e);
            throw e;
        }
        Map<String, List<Object>> cols = new LinkedHashMap<>();
        for (Map.Entry<String, List<Object>> entry : columns.entrySet()) {
            if (entry.getValue() instanceof ReferenceColumn references) {
                cols.put(entry.getKey(), references.select(indices));
                continue;
            }
            List<Object> picked = new ArrayList<>(indices.length);
            for (int index : indices) {
                picked.add(entry.getValue().get(index));
            }
            cols.put(entry.getKey(), Collections.unmodifiableList(picked));
        }
        return new DataBatch(allocator, out, cols, new LinkedHashMap<>(metadata), indices.length);
    }

    /** Tensor and column keys in insertion order. */
    List<String> allKeys() {
        List<String> keys = new ArrayList<>(tensors.keySet());
        keys.addAll(columns.keySet());
        return keys;
    }

    /**
     * A batch holding this batch's tensor objects with one more metadata entry; this batch is closed without closing
     * them (ownership moves, owned memory included).
     */
    DataBatch moveWithMetadata(String key, Object value) {
        checkOpen();
        Map<String, Object> extended = new LinkedHashMap<>(metadata);
        extended.put(key, value);
        closed = true;
        return new DataBatch(allocator, new LinkedHashMap<>(tensors), new LinkedHashMap<>(columns), extended, length);
    }

    /** A view of all samples with other metadata. */
    private DataBatch view(Map<String, Object> newMetadata) {
        Map<String, Tensor> views = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            views.put(entry.getKey(), entry.getValue().narrow(0, 0, length));
        }
        return new DataBatch(allocator, views, new LinkedHashMap<>(columns), newMetadata, length);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("data batch used after close: keys=" + allKeys() + ", length=" + length);
        }
    }

    private static Map<String, Object> mergeMetadata(List<DataBatch> batches, String op) {
        Map<String, Object> merged = new LinkedHashMap<>();
        for (DataBatch batch : batches) {
            for (Map.Entry<String, Object> entry : batch.metadata.entrySet()) {
                Object previous = merged.putIfAbsent(entry.getKey(), entry.getValue());
                if (previous != null && !previous.equals(entry.getValue())) {
                    throw new IllegalArgumentException(op + " metadata conflict: key=" + entry.getKey() + ", values="
                            + previous + " and " + entry.getValue());
                }
            }
        }
        return merged;
    }

    private static List<Long> sampleDims(Tensor tensor) {
        long[] dims = tensor.shape().dims();
        List<Long> rest = new ArrayList<>(dims.length - 1);
        for (int i = 1; i < dims.length; i++) {
            rest.add(dims[i]);
        }
        return rest;
    }

    private static Tensor allocateRows(Allocator allocator, Tensor like, int rows) {
        long[] dims = like.shape().dims();
        dims[0] = rows;
        return Tensor.allocate(allocator, like.dtype(), Shape.of(dims), like.device());
    }

    private static void copyRows(Tensor dst, long dstRow, Tensor src, long srcRow, long rows) {
        if (rows == 0) {
            return;
        }
        Tensor to = dst.narrow(0, dstRow, rows);
        Tensor from = src.narrow(0, srcRow, rows);
        try {
            to.copyFrom(from);
        } finally {
            to.close();
            from.close();
        }
    }

    /** An unmodifiable copy; a column of references becomes (or stays) one compact {@link ReferenceColumn}. */
    private static List<Object> copyOf(List<?> values) {
        ReferenceColumn references = ReferenceColumn.compact(values);
        if (references != null) {
            return references;
        }
        return Collections.unmodifiableList(new ArrayList<>(values));
    }

    private static void closeTensors(Collection<Tensor> tensors, Throwable primary) {
        RuntimeException failure = null;
        for (Tensor tensor : tensors) {
            try {
                tensor.close();
            } catch (RuntimeException e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    static void closeAll(Collection<DataBatch> batches, Throwable primary) {
        for (DataBatch batch : batches) {
            try {
                if (!batch.isClosed()) {
                    batch.close();
                }
            } catch (RuntimeException e) {
                primary.addSuppressed(e);
            }
        }
    }

    /**
     * Collects tensors, columns and metadata for one batch; {@link #build()} checks that every key has the same
     * number of samples. Not thread-safe.
     */
    public static final class Builder {
        private final Allocator allocator;
        private final Map<String, Tensor> tensors = new LinkedHashMap<>();
        private final Map<String, List<Object>> columns = new LinkedHashMap<>();
        private final Map<String, Object> metadata = new LinkedHashMap<>();
        private boolean built;

        private Builder(Allocator allocator) {
            this.allocator = allocator;
        }

        /**
         * Adds a tensor whose dimension 0 is the sample; the built batch takes ownership of it (closes it).
         *
         * @throws IllegalArgumentException if the key is taken or the tensor is a scalar
         */
        public Builder tensor(String key, Tensor tensor) {
            checkFree(key);
            if (tensor.shape().rank() == 0) {
                throw new IllegalArgumentException("tensor needs a sample dimension: key=" + key + ", shape="
                        + tensor.shape());
            }
            tensors.put(key, tensor);
            return this;
        }

        /**
         * Adds a per-sample non-tensor column (copied; null elements allowed).
         *
         * @throws IllegalArgumentException if the key is taken
         */
        public Builder column(String key, List<?> values) {
            checkFree(key);
            columns.put(key, copyOf(values));
            return this;
        }

        /**
         * Adds a batch metadata entry (replacing one of the same key).
         *
         * @throws NullPointerException if key or value is null
         */
        public Builder metadata(String key, Object value) {
            metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * The batch; on failure it takes nothing and the caller still owns the tensors.
         *
         * @throws IllegalArgumentException if two keys have different sample counts, naming both
         * @throws IllegalStateException if this builder built a batch already (the batch owns its tensors)
         */
        public DataBatch build() {
            checkNotBuilt();
            String firstKey = null;
            long expected = -1;
            for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
                long rows = entry.getValue().shape().dim(0);
                if (firstKey == null) {
                    firstKey = entry.getKey();
                    expected = rows;
                } else if (rows != expected) {
                    throw lengthMismatch(entry.getKey(), rows, firstKey, expected);
                }
            }
            for (Map.Entry<String, List<Object>> entry : columns.entrySet()) {
                long rows = entry.getValue().size();
                if (firstKey == null) {
                    firstKey = entry.getKey();
                    expected = rows;
                } else if (rows != expected) {
                    throw lengthMismatch(entry.getKey(), rows, firstKey, expected);
                }
            }
            if (expected > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("batch too long: key=" + firstKey + ", length=" + expected);
            }
            built = true;
            return new DataBatch(allocator, new LinkedHashMap<>(tensors), new LinkedHashMap<>(columns),
                    new LinkedHashMap<>(metadata), (int) Math.max(expected, 0));
        }

        private void checkNotBuilt() {
            if (built) {
                throw new IllegalStateException("data batch builder already built: keys=" + tensors.keySet()
                        + columns.keySet());
            }
        }

        private void checkFree(String key) {
            checkNotBuilt();
            Objects.requireNonNull(key, "key");
            if (tensors.containsKey(key) || columns.containsKey(key)) {
                throw new IllegalArgumentException("duplicate key in batch: key=" + key);
            }
        }

        private static IllegalArgumentException lengthMismatch(String key, long rows, String firstKey, long expected) {
            return new IllegalArgumentException("sample count mismatch: key=" + key + ", length=" + rows
                    + ", expected=" + expected + " (from key=" + firstKey + ")");
        }
    }
}
