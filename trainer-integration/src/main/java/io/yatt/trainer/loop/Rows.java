package io.yatt.trainer.loop;

import io.yatt.controller.DataBatch;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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

    /** An I32 tensor {@code [rows, cols]} (or {@code [rows]} when cols is 0) holding {@code values}. */
    static Tensor ints(Allocator allocator, int[] values, int rows, int cols) {
        Tensor t = Tensor.allocate(allocator, DType.I32, cols == 0 ? Shape.of(rows) : Shape.of(rows, cols),
                Device.host());
        MemorySegment.copy(values, 0, t.segment(), INT, 0, values.length);
        return t;
    }

    /** An F32 tensor {@code [rows, cols]} holding {@code values}. */
    static Tensor floats(Allocator allocator, float[] values, int rows, int cols) {
        Tensor t = Tensor.allocate(allocator, DType.F32, Shape.of(rows, cols), Device.host());
        MemorySegment.copy(values, 0, t.segment(), FLOAT, 0, values.length);
        return t;
    }

    /** An F64 tensor {@code [rows]} holding {@code values}. */
    static Tensor doubles(Allocator allocator, double[] values) {
        Tensor t = Tensor.allocate(allocator, DType.F64, Shape.of(values.length), Device.host());
        MemorySegment.copy(values, 0, t.segment(), DOUBLE, 0, values.length);
        return t;
    }

    /** An I64 tensor {@code [rows]} holding {@code values}. */
    static Tensor longs(Allocator allocator, long[] values) {
        Tensor t = Tensor.allocate(allocator, DType.I64, Shape.of(values.length), Device.host());
        MemorySegment.copy(values, 0, t.segment(), LONG, 0, values.length);
        return t;
    }

    static long[] longs(DataBatch batch, String key) {
        MemorySegment s = batch.tensor(key).segment();
        long[] out = new long[Math.toIntExact(s.byteSize() / Long.BYTES)];
        MemorySegment.copy(s, LONG, 0, out, 0, out.length);
        return out;
    }

    static int[] ints(DataBatch batch, String key) {
        MemorySegment s = batch.tensor(key).segment();
        int[] out = new int[Math.toIntExact(s.byteSize() / Integer.BYTES)];
        MemorySegment.copy(s, INT, 0, out, 0, out.length);
        return out;
    }

    static float[] floats(DataBatch batch, String key) {
        MemorySegment s = batch.tensor(key).segment();
        float[] out = new float[Math.toIntExact(s.byteSize() / Float.BYTES)];
        MemorySegment.copy(s, FLOAT, 0, out, 0, out.length);
        return out;
    }

    static double[] doubles(DataBatch batch, String key) {
        MemorySegment s = batch.tensor(key).segment();
        double[] out = new double[Math.toIntExact(s.byteSize() / Double.BYTES)];
        MemorySegment.copy(s, DOUBLE, 0, out, 0, out.length);
        return out;
    }

    /** Row {@code i} of a row-major {@code [*, cols]} float array. */
    static float[] row(float[] all, int i, int cols) {
        float[] out = new float[cols];
        System.arraycopy(all, i * cols, out, 0, cols);
        return out;
    }
}
