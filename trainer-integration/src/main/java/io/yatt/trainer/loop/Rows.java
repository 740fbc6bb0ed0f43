package io.yatt.trainer.loop;

import io.yatt.controller.DataBatch;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Row-major arrays in and out of {@link DataBatch} tensors (little-endian host memory), the form rollouts, log-probs
 * and metrics take between the driver and the workers. Stateless.
 */
final class Rows {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private Rows() {
    }

    /**
     * An I32 tensor {@code [rows, cols]} (or {@code [rows]} when cols is 0) holding {@code values}; nothing stays
     * allocated when it throws.
     *
     * @throws IndexOutOfBoundsException if {@code values} holds more than {@code rows * max(cols, 1)} entries
     */
    static Tensor ints(Allocator allocator, int[] values, int rows, int cols) {
        return filled(allocator, DType.I32, cols == 0 ? Shape.of(rows) : Shape.of(rows, cols),
                seg -> MemorySegment.copy(values, 0, seg, INT, 0, values.length));
    }

    /**
     * An F32 tensor {@code [rows, cols]} holding {@code values}; nothing stays allocated when it throws.
     *
     * @throws IndexOutOfBoundsException if {@code values} holds more than {@code rows * cols} entries
     */
    static Tensor floats(Allocator allocator, float[] values, int rows, int cols) {
        return filled(allocator, DType.F32, Shape.of(rows, cols),
                seg -> MemorySegment.copy(values, 0, seg, FLOAT, 0, values.length));
    }

    /** An F64 tensor {@code [rows]} holding {@code values}. */
    static Tensor doubles(Allocator allocator, double[] values) {
        return filled(allocator, DType.F64, Shape.of(values.length),
                seg -> MemorySegment.copy(values, 0, seg, DOUBLE, 0, values.length));
    }

    /** An I64 tensor {@code [rows]} holding {@code values}. */
    static Tensor longs(Allocator allocator, long[] values) {
        return filled(allocator, DType.I64, Shape.of(values.length),
                seg -> MemorySegment.copy(values, 0, seg, LONG, 0, values.length));
    }

    /** A host tensor filled by {@code copy}; closed again if the copy throws. */
    private static Tensor filled(Allocator allocator, DType dtype, Shape shape,
                                 java.util.function.Consumer<MemorySegment> copy) {
        Tensor t = Tensor.allocate(allocator, dtype, shape, Device.host());
        try {
            copy.accept(t.segment());
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** A request or result batch whose tensors are made from arrays one by one; see {@link Builder}. */
    static Builder batch(Allocator allocator) {
        return new Builder(allocator);
    }

    /**
     * Builds a {@link DataBatch} from row-major arrays. It owns every tensor it made until {@link #build()} hands
     * them to the batch: when making a tensor, adding it or building fails, it closes all it made before
     * rethrowing, so a failure partway through leaves nothing allocated. Not thread-safe; one batch per builder.
     */
    static final class Builder {
        private final Allocator allocator;
        private final DataBatch.Builder batch;
        private final java.util.List<Tensor> made = new java.util.ArrayList<>();

        private Builder(Allocator allocator) {
            this.allocator = allocator;
            this.batch = DataBatch.builder(allocator);
        }

        /** Adds {@link Rows#ints(Allocator, int[], int, int)} under {@code key}. */
        Builder ints(String key, int[] values, int rows, int cols) {
            return add(key, () -> Rows.ints(allocator, values, rows, cols));
        }

        /** Adds {@link Rows#floats(Allocator, float[], int, int)} under {@code key}. */
        Builder floats(String key, float[] values, int rows, int cols) {
            return add(key, () -> Rows.floats(allocator, values, rows, cols));
        }

        /** Adds {@link Rows#doubles(Allocator, double[])} under {@code key}. */
        Builder doubles(String key, double... values) {
            return add(key, () -> Rows.doubles(allocator, values));
        }

        /** Adds {@link Rows#longs(Allocator, long[])} under {@code key}. */
        Builder longs(String key, long[] values) {
            return add(key, () -> Rows.longs(allocator, values));
        }

        /** Adds a host copy of {@code source} under {@code key}. */
        Builder copy(String key, Tensor source) {
            return add(key, () -> filled(allocator, source.dtype(), source.shape(),
                    seg -> MemorySegment.copy(source.segment(), 0, seg, 0, source.byteSize())));
        }

        /**
         * Adds a tensor of {@code dtype} and {@code shape} holding {@code bytes} under {@code key}.
         *
         * @throws IllegalArgumentException if {@code bytes} is missing or does not hold exactly the tensor's bytes
         */
        Builder bytes(String key, DType dtype, Shape shape, byte[] bytes) {
            long expected = shape.numel() * dtype.byteSize();
            if (bytes == null || bytes.length != expected) {
                IllegalArgumentException e = new IllegalArgumentException("tensor bytes do not match: key=" + key
                        + ", bytes=" + (bytes == null ? "none" : bytes.length) + ", expected=" + expected);
                release(e);
                throw e;
            }
            return add(key, () -> filled(allocator, dtype, shape,
                    seg -> MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes.length)));
        }

        /** Adds a metadata entry. */
        Builder metadata(String key, Object value) {
            try {
                batch.metadata(key, value);
            } catch (RuntimeException | Error e) {
                release(e);
                throw e;
            }
            return this;
        }

        /**
         * The batch, owning every tensor made; on failure nothing stays allocated.
         *
         * @throws IllegalArgumentException if two keys have different sample counts, naming both
         */
        DataBatch build() {
            try {
                DataBatch out = batch.build();
                made.clear();
                return out;
            } catch (RuntimeException | Error e) {
                release(e);
                throw e;
            }
        }

        private Builder add(String key, java.util.function.Supplier<Tensor> make) {
            Tensor t = null;
            try {
                t = make.get();
                made.add(t);
                batch.tensor(key, t);
            } catch (RuntimeException | Error e) {
                if (t != null && !made.contains(t)) {
                    t.close();
                }
                release(e);
                throw e;
            }
            return this;
        }

        private void release(Throwable primary) {
            for (Tensor t : made) {
                try {
                    t.close();
                } catch (RuntimeException | Error e) {
                    primary.addSuppressed(e);
                }
            }
            made.clear();
        }
    }

    /**
     * The prompts of a batch without their left padding: row i of {@code prompt_ids} (I32 {@code [n, promptLen]},
     * left-padded) cut to its last {@code prompt_length[i]} tokens.
     */
    static List<int[]> promptIds(DataBatch prompts, int promptLen) {
        int n = prompts.length();
        int[] ids = ints(prompts, "prompt_ids");
        int[] plen = ints(prompts, "prompt_length");
        List<int[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int[] p = new int[plen[i]];
            System.arraycopy(ids, i * promptLen + promptLen - plen[i], p, 0, plen[i]);
            out.add(p);
        }
        return out;
    }

    static long[] longs(DataBatch batch, String key) {
        return batch.tensor(key).segment().toArray(LONG);
    }

    static int[] ints(DataBatch batch, String key) {
        return batch.tensor(key).segment().toArray(INT);
    }

    static float[] floats(DataBatch batch, String key) {
        return batch.tensor(key).segment().toArray(FLOAT);
    }

    static double[] doubles(DataBatch batch, String key) {
        return batch.tensor(key).segment().toArray(DOUBLE);
    }

    /** Row {@code i} of a row-major {@code [*, cols]} float array. */
    static float[] row(float[] all, int i, int cols) {
        float[] out = new float[cols];
        System.arraycopy(all, i * cols, out, 0, cols);
        return out;
    }
}
