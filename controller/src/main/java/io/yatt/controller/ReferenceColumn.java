package io.yatt.controller;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * A column of per-row {@link TensorRef}s held as a few runs (owner, region, byte offset, row stride, row count,
 * dtype, sample shape) instead of one object per row, so a controller's heap per step does not grow with the batch
 * size. It reads as an unmodifiable list of {@code TensorRef} (each made on {@link #get}); {@link DataBatch} keeps
 * it compact through slice, chunk, concat, pad, repeat, reorder and select. A value; immutable and thread-safe.
 */
public final class ReferenceColumn extends AbstractList<Object> implements RandomAccess {

    /**
     * Batch metadata key: a call whose batch carries {@code true} here is not the last use of its references (the
     * producer keeps them for a later call); by default each call that passes references on is their last use.
     */
    public static final String KEEP_KEY = "yatt.keepReferences";

    /**
     * Consecutive rows of one region: row {@code k} of the run lives at {@code byteOffset + k * rowStrideBytes}.
     *
     * @param ownerRank      the producer's worker id
     * @param regionId       the region's id on the producer
     * @param byteOffset     offset of the run's first row in the region
     * @param rowStrideBytes bytes from one row of the run to the next (0 repeats a row; negative walks back)
     * @param rows           number of rows, at least 1
     * @param dtype          element type
     * @param sampleShape    shape of one row
     */
    public record Run(int ownerRank, long regionId, long byteOffset, long rowStrideBytes, int rows, DType dtype,
                      Shape sampleShape) {
        /** @throws IllegalArgumentException if rows is not positive or a row's offset is negative or overflows */
        public Run {
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(sampleShape, "sampleShape");
            if (rows < 1) {
                throw new IllegalArgumentException("reference run needs a row: rows=" + rows);
            }
            if (rows == 1) {
                rowStrideBytes = 0;
            }
            long last;
            try {
                last = Math.addExact(byteOffset, Math.multiplyExact(rows - 1L, rowStrideBytes));
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("reference run end overflows a long: byteOffset=" + byteOffset
                        + ", rowStrideBytes=" + rowStrideBytes + ", rows=" + rows);
            }
            if (byteOffset < 0 || last < 0) {
                throw new IllegalArgumentException("reference run reaches a negative offset: byteOffset=" + byteOffset
                        + ", rowStrideBytes=" + rowStrideBytes + ", rows=" + rows);
            }
            new TensorRef(ownerRank, regionId, Math.max(byteOffset, last), dtype, sampleShape);
        }

        /** The reference of row {@code k} of this run. */
        TensorRef row(int k) {
            return new TensorRef(ownerRank, regionId, byteOffset + k * rowStrideBytes, dtype, sampleShape);
        }

        /** The region this run's rows live in. */
        public Region region() {
            return new Region(ownerRank, regionId);
        }

        private Run sub(int from, int count) {
            return new Run(ownerRank, regionId, byteOffset + from * rowStrideBytes, rowStrideBytes, count, dtype,
                    sampleShape);
        }
    }

    /**
     * A producer's region, as the controller names it.
     *
     * @param ownerRank the producer's worker id
     * @param regionId  the region's id on the producer
     */
    public record Region(int ownerRank, long regionId) {
    }

    private final Run[] runs;
    private final int[] starts;
    private final int size;

    private ReferenceColumn(List<Run> runs) {
        List<Run> merged = new ArrayList<>(runs.size());
        for (Run run : runs) {
            append(merged, run);
        }
        this.runs = merged.toArray(Run[]::new);
        this.starts = new int[this.runs.length + 1];
        long total = 0;
        for (int i = 0; i < this.runs.length; i++) {
            starts[i] = (int) total;
            total += this.runs[i].rows();
            if (total > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("reference column too long: rows=" + total);
            }
        }
        starts[this.runs.length] = (int) total;
        this.size = (int) total;
    }

    /**
     * The column of {@code runs}, in order (adjacent runs that continue each other are merged).
     *
     * @throws IllegalArgumentException if the column would be longer than {@code Integer.MAX_VALUE} rows
     */
    public static ReferenceColumn ofRuns(List<Run> runs) {
        return new ReferenceColumn(List.copyOf(runs));
    }

    /**
     * The rows of a region laid out contiguously from offset 0: rows {@code [0, rows)} of {@code sampleShape}.
     *
     * @throws IllegalArgumentException if rows is not positive
     */
    public static ReferenceColumn ofRegion(int ownerRank, long regionId, int rows, DType dtype, Shape sampleShape) {
        long stride = sampleShape.numel() * dtype.byteSize();
        return new ReferenceColumn(List.of(new Run(ownerRank, regionId, 0, stride, rows, dtype, sampleShape)));
    }

    /**
     * {@code values} as a compact column when every element is a {@link TensorRef} (the column itself when it is one
     * already), otherwise null.
     */
    public static ReferenceColumn compact(List<?> values) {
        if (values instanceof ReferenceColumn column) {
            return column;
        }
        if (values.isEmpty()) {
            return null;
        }
        List<Run> runs = new ArrayList<>();
        for (Object value : values) {
            if (!(value instanceof TensorRef ref)) {
                return null;
            }
            append(runs, new Run(ref.ownerRank(), ref.regionId(), ref.byteOffset(), 0, 1, ref.dtype(), ref.shape()));
        }
        return new ReferenceColumn(runs);
    }

    /** The runs, merged as far as they continue each other. */
    public List<Run> runs() {
        return List.of(runs);
    }

    /** The regions the rows live in, in order of first appearance, with the number of rows of each. */
    public Map<Region, Integer> regions() {
        Map<Region, Integer> regions = new LinkedHashMap<>();
        for (Run run : runs) {
            regions.merge(run.region(), run.rows(), Integer::sum);
        }
        return regions;
    }

    @Override
    public TensorRef get(int index) {
        Objects.checkIndex(index, size);
        int r = Arrays.binarySearch(starts, 0, runs.length, index);
        if (r < 0) {
            r = -r - 2;
        }
        return runs[r].row(index - starts[r]);
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public ReferenceColumn subList(int fromIndex, int toIndex) {
        Objects.checkFromToIndex(fromIndex, toIndex, size);
        List<Run> out = new ArrayList<>();
        for (int r = 0; r < runs.length; r++) {
            int from = Math.max(fromIndex, starts[r]);
            int to = Math.min(toIndex, starts[r + 1]);
            if (from < to) {
                out.add(runs[r].sub(from - starts[r], to - from));
            }
        }
        return new ReferenceColumn(out);
    }

    /**
     * The rows at {@code indices}, in that order (repeats allowed), as runs again.
     *
     * @throws IndexOutOfBoundsException if an index is outside the column
     */
    public ReferenceColumn select(int[] indices) {
        List<Run> out = new ArrayList<>();
        Run current = null;
        long stride = 0;
        int rows = 0;
        long offset = 0;
        for (int index : indices) {
            Objects.checkIndex(index, size);
            int r = Arrays.binarySearch(starts, 0, runs.length, index);
            if (r < 0) {
                r = -r - 2;
            }
            Run run = runs[r];
            long at = run.byteOffset() + (index - starts[r]) * run.rowStrideBytes();
            // extend the run being built while the rows continue it (no object per row)
            if (current != null && current.ownerRank() == run.ownerRank() && current.regionId() == run.regionId()
                    && current.dtype() == run.dtype() && current.sampleShape().equals(run.sampleShape())
                    && (rows == 1 || at == offset + rows * stride) && rows < Integer.MAX_VALUE) {
                if (rows == 1) {
                    stride = at - offset;
                }
                rows++;
                continue;
            }
            if (current != null) {
                out.add(new Run(current.ownerRank(), current.regionId(), offset, stride, rows, current.dtype(),
                        current.sampleShape()));
            }
            current = run;
            offset = at;
            stride = 0;
            rows = 1;
        }
        if (current != null) {
            out.add(new Run(current.ownerRank(), current.regionId(), offset, stride, rows, current.dtype(),
                    current.sampleShape()));
        }
        return new ReferenceColumn(out);
    }

    /** The columns one after another. */
    public static ReferenceColumn concat(List<ReferenceColumn> columns) {
        List<Run> out = new ArrayList<>();
        for (ReferenceColumn column : columns) {
            for (Run run : column.runs) {
                append(out, run);
            }
        }
        return new ReferenceColumn(out);
    }

    @Override
    public boolean equals(Object other) {
        if (other instanceof ReferenceColumn column && Arrays.equals(runs, column.runs)) {
            return true;
        }
        return super.equals(other);
    }

    @Override
    public int hashCode() {
        return super.hashCode();
    }

    @Override
    public String toString() {
        return "ReferenceColumn[rows=" + size + ", runs=" + Arrays.toString(runs) + "]";
    }

    /** Appends {@code run} to {@code runs}, extending the last run when {@code run} continues it. */
    private static void append(List<Run> runs, Run run) {
        if (!runs.isEmpty()) {
            Run last = runs.getLast();
            if (last.ownerRank() == run.ownerRank() && last.regionId() == run.regionId()
                    && last.dtype() == run.dtype() && last.sampleShape().equals(run.sampleShape())) {
                long stride = last.rows() == 1 ? run.byteOffset() - last.byteOffset() : last.rowStrideBytes();
                boolean strideFits = run.rows() == 1 || run.rowStrideBytes() == stride;
                long next = last.byteOffset() + last.rows() * stride;
                if (strideFits && run.byteOffset() == next && (long) last.rows() + run.rows() <= Integer.MAX_VALUE) {
                    runs.set(runs.size() - 1, new Run(last.ownerRank(), last.regionId(), last.byteOffset(), stride,
                            last.rows() + run.rows(), last.dtype(), last.sampleShape()));
                    return;
                }
            }
        }
        runs.add(run);
    }
}
