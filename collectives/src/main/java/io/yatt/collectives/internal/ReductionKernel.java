package io.yatt.collectives.internal;

import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Element-wise reduction of n operands into one destination, on host memory, with {@link ReduceOp}'s rules:
 * operands are combined in operand order (pass them in rank order) in the accumulation type (F32 for F32, F16 and
 * BF16, rounded once at the end to nearest even; F64; I32 and I64 wrapping), {@code AVG} divides the sum once by
 * {@code divisor}. The result is bit-exact and independent of blocking and of how a backend slices the range.
 *
 * <p>Works block by block through heap scratch arrays, reading every operand of a block before writing it, so the
 * destination may be exactly one of the sources (same address): in-place reductions are safe. Allocates nothing per
 * call. Not thread-safe: one kernel per thread.
 */
public final class ReductionKernel {
    /** Elements per block: the scratch arrays stay in L1/L2. */
    public static final int BLOCK_ELEMENTS = 2048;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final float[] floatAcc = new float[BLOCK_ELEMENTS];
    private final float[] floatTmp = new float[BLOCK_ELEMENTS];
    private final short[] shortTmp = new short[BLOCK_ELEMENTS];
    private double[] doubleAcc;
    private double[] doubleTmp;
    private int[] intAcc;
    private int[] intTmp;
    private long[] longAcc;
    private long[] longTmp;

    private ReductionKernel() {
    }

    /** A kernel with its own scratch (about 30 KiB, more on first F64/I32/I64 use). */
    public static ReductionKernel create() {
        return new ReductionKernel();
    }

    /**
     * {@code dst[i] = op(srcs[0][i], ..., srcs[n-1][i])} for {@code i < count}, all operands at the same byte offset.
     * {@code AVG} divides by {@code n}.
     *
     * @throws IllegalArgumentException for an unsupported dtype or {@code n < 1}
     * @throws IndexOutOfBoundsException if a range is outside its segment
     */
    public void reduce(DType dtype, ReduceOp op, MemorySegment[] srcs, int n, long srcByteOffset,
                       MemorySegment dst, long dstByteOffset, long count) {
        reduce(dtype, op, srcs, null, srcByteOffset, n, dst, dstByteOffset, count, n);
    }

    /**
     * {@code dst[i] = op(srcs[0][i], ..., srcs[n-1][i])} for {@code i < count}, where operand {@code k} starts at
     * byte {@code srcByteOffsets[k]} (or at {@code srcByteOffset} for every operand when {@code srcByteOffsets} is
     * null) and the destination at {@code dstByteOffset}. {@code AVG} divides the sum by {@code divisor}.
     *
     * @throws IllegalArgumentException for an unsupported dtype, {@code n < 1} or {@code divisor < 1}
     * @throws IndexOutOfBoundsException if a range is outside its segment
     */
    public void reduce(DType dtype, ReduceOp op, MemorySegment[] srcs, long[] srcByteOffsets, long srcByteOffset,
                       int n, MemorySegment dst, long dstByteOffset, long count, int divisor) {
        if (n < 1 || divisor < 1) {
            throw new IllegalArgumentException("invalid reduction: operands=" + n + ", divisor=" + divisor
                    + ", expected >= 1");
        }
        if (!CollectiveChecks.isReducible(dtype)) {
            throw new IllegalArgumentException("unsupported dtype for reduction: dtype=" + dtype + ", op=" + op
                    + ", expected one of " + CollectiveChecks.REDUCIBLE);
        }
        long elementBytes = dtype.byteSize();
        for (long done = 0; done < count; done += BLOCK_ELEMENTS) {
            int len = (int) Math.min(BLOCK_ELEMENTS, count - done);
            long rel = done * elementBytes;
            long dstOffset = dstByteOffset + rel;
            switch (dtype) {
                case F32, F16, BF16 -> {
                    loadFloats(dtype, srcs[0], offset(srcByteOffsets, srcByteOffset, 0) + rel, floatAcc, len);
                    for (int k = 1; k < n; k++) {
                        loadFloats(dtype, srcs[k], offset(srcByteOffsets, srcByteOffset, k) + rel, floatTmp, len);
                        combine(op, floatAcc, floatTmp, len);
                    }
                    if (op == ReduceOp.AVG) {
                        float d = divisor;
                        for (int j = 0; j < len; j++) {
                            floatAcc[j] = floatAcc[j] / d;
                        }
                    }
                    storeFloats(dtype, floatAcc, dst, dstOffset, len);
                }
                case F64 -> {
                    if (doubleAcc == null) {
                        doubleAcc = new double[BLOCK_ELEMENTS];
                        doubleTmp = new double[BLOCK_ELEMENTS];
                    }
                    MemorySegment.copy(srcs[0], F64, offset(srcByteOffsets, srcByteOffset, 0) + rel, doubleAcc, 0, len);
                    for (int k = 1; k < n; k++) {
                        MemorySegment.copy(srcs[k], F64, offset(srcByteOffsets, srcByteOffset, k) + rel, doubleTmp, 0, len);
                        combine(op, doubleAcc, doubleTmp, len);
                    }
                    if (op == ReduceOp.AVG) {
                        double d = divisor;
                        for (int j = 0; j < len; j++) {
                            doubleAcc[j] = doubleAcc[j] / d;
                        }
                    }
                    MemorySegment.copy(doubleAcc, 0, dst, F64, dstOffset, len);
                }
                case I32 -> {
                    if (intAcc == null) {
                        intAcc = new int[BLOCK_ELEMENTS];
                        intTmp = new int[BLOCK_ELEMENTS];
                    }
                    MemorySegment.copy(srcs[0], I32, offset(srcByteOffsets, srcByteOffset, 0) + rel, intAcc, 0, len);
                    for (int k = 1; k < n; k++) {
                        MemorySegment.copy(srcs[k], I32, offset(srcByteOffsets, srcByteOffset, k) + rel, intTmp, 0, len);
                        combine(op, intAcc, intTmp, len);
                    }
                    if (op == ReduceOp.AVG) {
                        for (int j = 0; j < len; j++) {
                            intAcc[j] = intAcc[j] / divisor;
                        }
                    }
                    MemorySegment.copy(intAcc, 0, dst, I32, dstOffset, len);
                }
                case I64 -> {
                    if (longAcc == null) {
                        longAcc = new long[BLOCK_ELEMENTS];
                        longTmp = new long[BLOCK_ELEMENTS];
                    }
                    MemorySegment.copy(srcs[0], I64, offset(srcByteOffsets, srcByteOffset, 0) + rel, longAcc, 0, len);
                    for (int k = 1; k < n; k++) {
                        MemorySegment.copy(srcs[k], I64, offset(srcByteOffsets, srcByteOffset, k) + rel, longTmp, 0, len);
                        combine(op, longAcc, longTmp, len);
                    }
                    if (op == ReduceOp.AVG) {
                        for (int j = 0; j < len; j++) {
                            longAcc[j] = longAcc[j] / divisor;
                        }
                    }
                    MemorySegment.copy(longAcc, 0, dst, I64, dstOffset, len);
                }
                default -> throw new IllegalStateException("unreachable: dtype=" + dtype);
            }
        }
    }

    /** Rounds a float to bfloat16, nearest even; NaN stays a quiet NaN. Matches {@code io.yatt.tensor.Half}. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    private static long offset(long[] offsets, long common, int k) {
        return offsets == null ? common : offsets[k];
    }

    private void loadFloats(DType dtype, MemorySegment src, long offset, float[] out, int len) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, F32, offset, out, 0, len);
            case BF16 -> {
                MemorySegment.copy(src, I16, offset, shortTmp, 0, len);
                for (int j = 0; j < len; j++) {
                    out[j] = Float.intBitsToFloat(shortTmp[j] << 16);
                }
            }
            case F16 -> {
                MemorySegment.copy(src, I16, offset, shortTmp, 0, len);
                for (int j = 0; j < len; j++) {
                    out[j] = Float.float16ToFloat(shortTmp[j]);
                }
            }
            default -> throw new IllegalStateException("unreachable: dtype=" + dtype);
        }
    }

    private void storeFloats(DType dtype, float[] in, MemorySegment dst, long offset, int len) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(in, 0, dst, F32, offset, len);
            case BF16 -> {
                for (int j = 0; j < len; j++) {
                    shortTmp[j] = floatToBf16(in[j]);
                }
                MemorySegment.copy(shortTmp, 0, dst, I16, offset, len);
            }
            case F16 -> {
                for (int j = 0; j < len; j++) {
                    shortTmp[j] = Float.floatToFloat16(in[j]);
                }
                MemorySegment.copy(shortTmp, 0, dst, I16, offset, len);
            }
            default -> throw new IllegalStateException("unreachable: dtype=" + dtype);
        }
    }

    private static void combine(ReduceOp op, float[] acc, float[] x, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x[j];
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x[j];
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x[j]);
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x[j]);
                }
            }
        }
    }

    private static void combine(ReduceOp op, double[] acc, double[] x, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x[j];
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x[j];
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x[j]);
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x[j]);
                }
            }
        }
    }

    private static void combine(ReduceOp op, int[] acc, int[] x, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x[j];
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x[j];
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x[j]);
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x[j]);
                }
            }
        }
    }

    private static void combine(ReduceOp op, long[] acc, long[] x, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x[j];
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x[j];
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x[j]);
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x[j]);
                }
            }
        }
    }
}
