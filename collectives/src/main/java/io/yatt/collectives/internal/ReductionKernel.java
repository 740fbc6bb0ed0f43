package io.yatt.collectives.internal;

import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Element-wise reduction of n operands into one destination, on host memory, with {@link ReduceOp}'s rules:
 * operands are combined in operand order (pass them in rank order) in the accumulation type (F32 for F32, F16 and
 * BF16, rounded once at the end to nearest even; F64; I32 and I64 wrapping), {@code AVG} divides the sum once by
 * {@code divisor}. The result is bit-exact and independent of blocking and of how a backend slices the range.
 *
 * <p>Works block by block with one heap accumulator block (L1/L2 resident): every operand is read straight from its
 * own segment (a peer's shared memory, say) inside the loop that combines it, never copied first; the destination is
 * written only after every operand of the block was read, so it may be exactly one of the sources (same address):
 * in-place reductions are safe. Allocates no arrays per call. Not thread-safe: one kernel per thread.
 *
 * <p>Speed: the inner loops are plain {@code int}-indexed loops over a segment slice and the accumulator. C2 (JDK 25)
 * vectorizes them for I32, I64 and F16 ({@code Float.float16ToFloat} is an intrinsic) and for BF16, which is read as
 * {@code int} pairs and split into the f32 bits of its even and odd elements ({@code w << 16},
 * {@code w & 0xFFFF0000}), accumulated in two deinterleaved float halves (bits turned into floats by a bulk copy,
 * since C2 vectorizes no {@code Float.intBitsToFloat}) and rounded back with branch-free integer arithmetic. F32 and
 * F64 loads from a segment are {@code intBitsToFloat} / {@code longBitsToDouble} of integer loads inside the JDK, which
 * C2 does not vectorize; so when every operand is native (shared memory, arenas) each is read through one
 * {@link FloatBuffer} / {@link DoubleBuffer} view per window of 16M elements, whose {@code get(int)} is a plain float
 * load that C2 vectorizes (about 4x faster per operand from cache; no arrays, no objects per block). F32 sums take up
 * to four operands per pass over a block ({@code acc = ((a + b) + c) + d}, then {@code ((acc + e) + f) + g}): the
 * additions and their order are those of one operand at a time, the accumulator is touched once per pass. Other F32
 * ops combine the first two operands in one pass ({@code acc = a op b}), then one per pass. Operands on the heap (no
 * buffer view) take the per-block loops, scalar for F32/F64.
 * {@link #reduceSmall} is the scalar form for a few elements (inline all-reduces).
 */
public final class ReductionKernel {
    /** Elements per block: the scratch arrays stay in L1/L2. */
    public static final int BLOCK_ELEMENTS = 2048;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private static final int PAIRS = BLOCK_ELEMENTS / 2;
    /** Elements of each native F32/F64 operand covered by one buffer view (128 MiB of F64: within a view's int range). */
    private static final int WINDOW_ELEMENTS = 1 << 24;

    private final float[] floatAcc = new float[BLOCK_ELEMENTS];
    private final float[] floatTmp = new float[BLOCK_ELEMENTS];
    private final short[] shortTmp = new short[BLOCK_ELEMENTS];
    private final MemorySegment floatAccSeg = MemorySegment.ofArray(floatAcc);
    private final MemorySegment floatTmpSeg = MemorySegment.ofArray(floatTmp);
    private int[] words;
    private int[] evenBits;
    private int[] oddBits;
    private MemorySegment evenBitsSeg;
    private MemorySegment oddBitsSeg;
    private double[] doubleAcc;
    private int[] intAcc;
    private long[] longAcc;
    private final int windowElements;
    private FloatBuffer[] floatViews = new FloatBuffer[0];
    private DoubleBuffer[] doubleViews = new DoubleBuffer[0];

    private ReductionKernel(int windowElements) {
        this.windowElements = windowElements;
    }

    /** A kernel with its own scratch (about 30 KiB, more on first F64/I32/I64 use). */
    public static ReductionKernel create() {
        return new ReductionKernel(WINDOW_ELEMENTS);
    }

    /**
     * A kernel whose native F32/F64 operands are viewed {@code windowElements} elements at a time (tests use small
     * windows to cross window edges with little memory).
     *
     * @throws IllegalArgumentException if {@code windowElements < 1}
     */
    static ReductionKernel withWindow(int windowElements) {
        if (windowElements < 1) {
            throw new IllegalArgumentException("window out of range: windowElements=" + windowElements
                + ", expected >= 1");
        }
        return new ReductionKernel(windowElements);
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
        if ((dtype == DType.F32 || dtype == DType.F64) && allNative(srcs, n)) {
            if (dtype == DType.F32) {
                reduceF32Native(op, srcs, srcByteOffsets, srcByteOffset, n, dst, dstByteOffset, count, divisor);
            } else {
                reduceF64Native(op, srcs, srcByteOffsets, srcByteOffset, n, dst, dstByteOffset, count, divisor);
            }
            return;
        }
        long elementBytes = dtype.byteSize();
        for (long done = 0; done < count; done += BLOCK_ELEMENTS) {
            int len = (int) Math.min(BLOCK_ELEMENTS, count - done);
            long rel = done * elementBytes;
            long blockBytes = len * elementBytes;
            long dstOffset = dstByteOffset + rel;
            switch (dtype) {
                case BF16 -> reduceBf16Block(op, srcs, srcByteOffsets, srcByteOffset, n, rel, dst, dstOffset, len,
                    divisor);
                case F32, F16 -> {
                    MemorySegment first = operand(srcs, srcByteOffsets, srcByteOffset, 0, rel, blockBytes);
                    int k = 1;
                    if (dtype == DType.F32 && n > 1) {
                        // one pass over the first two operands, not a load pass and a combine pass
                        MemorySegment second = operand(srcs, srcByteOffsets, srcByteOffset, 1, rel, blockBytes);
                        if (first.isNative() && second.isNative()) {
                            combinePair(op, floatAcc, floats(first), floats(second), 0, len);
                        } else {
                            combineF32Pair(op, floatAcc, first, second, len);
                        }
                        k = 2;
                    } else {
                        loadFloats(dtype, first, floatAcc, len);
                    }
                    for (; k < n; k++) {
                        combineFloats(dtype, op, floatAcc,
                            operand(srcs, srcByteOffsets, srcByteOffset, k, rel, blockBytes), len);
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
                    }
                    double[] acc = doubleAcc;
                    MemorySegment first = operand(srcs, srcByteOffsets, srcByteOffset, 0, rel, blockBytes);
                    MemorySegment.copy(first, F64, 0, acc, 0, len);
                    for (int k = 1; k < n; k++) {
                        MemorySegment x = operand(srcs, srcByteOffsets, srcByteOffset, k, rel, blockBytes);
                        if (x.isNative()) {
                            combine(op, acc, doubles(x), 0, len);
                        } else {
                            combine(op, acc, x, len);
                        }
                    }
                    if (op == ReduceOp.AVG) {
                        double d = divisor;
                        for (int j = 0; j < len; j++) {
                            acc[j] = acc[j] / d;
                        }
                    }
                    MemorySegment.copy(acc, 0, dst, F64, dstOffset, len);
                }
                case I32 -> {
                    if (intAcc == null) {
                        intAcc = new int[BLOCK_ELEMENTS];
                    }
                    int[] acc = intAcc;
                    MemorySegment first = operand(srcs, srcByteOffsets, srcByteOffset, 0, rel, blockBytes);
                    for (int j = 0; j < len; j++) {
                        acc[j] = first.getAtIndex(I32, j);
                    }
                    for (int k = 1; k < n; k++) {
                        combine(op, acc, operand(srcs, srcByteOffsets, srcByteOffset, k, rel, blockBytes), len);
                    }
                    if (op == ReduceOp.AVG) {
                        for (int j = 0; j < len; j++) {
                            acc[j] = acc[j] / divisor;
                        }
                    }
                    MemorySegment.copy(acc, 0, dst, I32, dstOffset, len);
                }
                case I64 -> {
                    if (longAcc == null) {
                        longAcc = new long[BLOCK_ELEMENTS];
                    }
                    long[] acc = longAcc;
                    MemorySegment first = operand(srcs, srcByteOffsets, srcByteOffset, 0, rel, blockBytes);
                    for (int j = 0; j < len; j++) {
                        acc[j] = first.getAtIndex(I64, j);
                    }
                    for (int k = 1; k < n; k++) {
                        combine(op, acc, operand(srcs, srcByteOffsets, srcByteOffset, k, rel, blockBytes), len);
                    }
                    if (op == ReduceOp.AVG) {
                        for (int j = 0; j < len; j++) {
                            acc[j] = acc[j] / divisor;
                        }
                    }
                    MemorySegment.copy(acc, 0, dst, I64, dstOffset, len);
                }
                default -> throw new IllegalStateException("unreachable: dtype=" + dtype);
            }
        }
    }

    /** Operand {@code k}'s bytes of the block at {@code rel}: a slice of its segment, read in place (no copy). */
    private static MemorySegment operand(MemorySegment[] srcs, long[] offsets, long common, int k, long rel,
                                         long bytes) {
        return srcs[k].asSlice(offset(offsets, common, k) + rel, bytes);
    }

    /**
     * One block of BF16: elements {@code 2j} and {@code 2j + 1} accumulate in the first and second half of the
     * float scratch (f32 bits {@code w << 16} and {@code w & 0xFFFF0000} of the j-th int word, read straight from
     * the operand); an odd last element goes through the scalar path.
     */
    private void reduceBf16Block(ReduceOp op, MemorySegment[] srcs, long[] srcByteOffsets, long srcByteOffset, int n,
                                 long rel, MemorySegment dst, long dstOffset, int len, int divisor) {
        if (evenBits == null) {
            words = new int[PAIRS];
            evenBits = new int[PAIRS];
            oddBits = new int[PAIRS];
            evenBitsSeg = MemorySegment.ofArray(evenBits);
            oddBitsSeg = MemorySegment.ofArray(oddBits);
        }
        int pairs = len >> 1;
        long pairBytes = 4L * pairs;
        if (pairs > 0) {
            splitBf16(operand(srcs, srcByteOffsets, srcByteOffset, 0, rel, pairBytes), pairs, floatAccSeg);
            for (int k = 1; k < n; k++) {
                splitBf16(operand(srcs, srcByteOffsets, srcByteOffset, k, rel, pairBytes), pairs, floatTmpSeg);
                combine(op, floatAcc, floatTmp, pairs, PAIRS);
            }
            if (op == ReduceOp.AVG) {
                float d = divisor;
                for (int j = 0; j < pairs; j++) {
                    floatAcc[j] = floatAcc[j] / d;
                }
                for (int j = PAIRS; j < PAIRS + pairs; j++) {
                    floatAcc[j] = floatAcc[j] / d;
                }
            }
            MemorySegment.copy(floatAccSeg, 0, evenBitsSeg, 0, pairBytes);
            MemorySegment.copy(floatAccSeg, 4L * PAIRS, oddBitsSeg, 0, pairBytes);
            int[] w = words;
            int[] ev = evenBits;
            int[] od = oddBits;
            for (int j = 0; j < pairs; j++) {
                w[j] = (roundBf16Bits(ev[j]) & 0xFFFF) | (roundBf16Bits(od[j]) << 16);
            }
            MemorySegment.copy(w, 0, dst, I32, dstOffset, pairs);
        }
        if ((len & 1) != 0) {
            long last = 2L * (len - 1);
            float acc = bf16ToFloat(srcs[0].get(I16, offset(srcByteOffsets, srcByteOffset, 0) + rel + last));
            for (int k = 1; k < n; k++) {
                acc = combine(op, acc, bf16ToFloat(srcs[k].get(I16, offset(srcByteOffsets, srcByteOffset, k) + rel
                    + last)));
            }
            if (op == ReduceOp.AVG) {
                acc = acc / (float) divisor;
            }
            dst.set(I16, dstOffset + last, floatToBf16(acc));
        }
    }

    /**
     * Splits the {@code pairs} int words of BF16 pairs of {@code src} (read in place) into the f32 bits of their even
     * (first half of {@code floats}) and odd elements (second half); the bits become floats by a bulk copy, since C2
     * does not vectorize {@code Float.intBitsToFloat}.
     */
    private void splitBf16(MemorySegment src, int pairs, MemorySegment floats) {
        int[] ev = evenBits;
        int[] od = oddBits;
        for (int j = 0; j < pairs; j++) {
            int x = src.getAtIndex(I32, j);
            ev[j] = x << 16;
            od[j] = x & 0xFFFF_0000;
        }
        MemorySegment.copy(evenBitsSeg, 0, floats, 0, 4L * pairs);
        MemorySegment.copy(oddBitsSeg, 0, floats, 4L * PAIRS, 4L * pairs);
    }

    /** {@link #floatToBf16} on raw float bits, branch-free (vectorizable); the result is in the low 16 bits. */
    private static int roundBf16Bits(int bits) {
        int rounded = (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
        int nanMask = (0x7F80_0000 - (bits & 0x7FFF_FFFF)) >> 31; // -1 exactly when bits is a NaN
        return (rounded & ~nanMask) | (((bits >>> 16) | 0x0040) & nanMask);
    }

    private static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /**
     * As {@link #reduce(DType, ReduceOp, MemorySegment[], long[], long, int, MemorySegment, long, long, int)} with
     * every operand at {@code srcByteOffset}, element by element without scratch or blocking: for a few elements
     * (inline all-reduces), where the blocked path's setup would dominate. Bit-exact with it.
     *
     * @throws IllegalArgumentException for an unsupported dtype
     * @throws IndexOutOfBoundsException if a range is outside its segment
     */
    public void reduceSmall(DType dtype, ReduceOp op, MemorySegment[] srcs, int n, long srcByteOffset,
                            MemorySegment dst, long dstByteOffset, long count, int divisor) {
        for (long i = 0; i < count; i++) {
            switch (dtype) {
                case F32 -> {
                    long o = srcByteOffset + 4 * i;
                    float acc = srcs[0].get(F32, o);
                    for (int k = 1; k < n; k++) {
                        acc = combine(op, acc, srcs[k].get(F32, o));
                    }
                    dst.set(F32, dstByteOffset + 4 * i, op == ReduceOp.AVG ? acc / (float) divisor : acc);
                }
                case F64 -> {
                    long o = srcByteOffset + 8 * i;
                    double acc = srcs[0].get(F64, o);
                    for (int k = 1; k < n; k++) {
                        double x = srcs[k].get(F64, o);
                        acc = switch (op) {
                            case SUM, AVG -> acc + x;
                            case PROD -> acc * x;
                            case MAX -> Math.max(acc, x);
                            case MIN -> Math.min(acc, x);
                        };
                    }
                    dst.set(F64, dstByteOffset + 8 * i, op == ReduceOp.AVG ? acc / (double) divisor : acc);
                }
                case I32 -> {
                    long o = srcByteOffset + 4 * i;
                    int acc = srcs[0].get(I32, o);
                    for (int k = 1; k < n; k++) {
                        int x = srcs[k].get(I32, o);
                        acc = switch (op) {
                            case SUM, AVG -> acc + x;
                            case PROD -> acc * x;
                            case MAX -> Math.max(acc, x);
                            case MIN -> Math.min(acc, x);
                        };
                    }
                    dst.set(I32, dstByteOffset + 4 * i, op == ReduceOp.AVG ? acc / divisor : acc);
                }
                case I64 -> {
                    long o = srcByteOffset + 8 * i;
                    long acc = srcs[0].get(I64, o);
                    for (int k = 1; k < n; k++) {
                        long x = srcs[k].get(I64, o);
                        acc = switch (op) {
                            case SUM, AVG -> acc + x;
                            case PROD -> acc * x;
                            case MAX -> Math.max(acc, x);
                            case MIN -> Math.min(acc, x);
                        };
                    }
                    dst.set(I64, dstByteOffset + 8 * i, op == ReduceOp.AVG ? acc / divisor : acc);
                }
                case BF16, F16 -> {
                    long o = srcByteOffset + 2 * i;
                    boolean bf = dtype == DType.BF16;
                    short first = srcs[0].get(I16, o);
                    float acc = bf ? bf16ToFloat(first) : Float.float16ToFloat(first);
                    for (int k = 1; k < n; k++) {
                        short x = srcs[k].get(I16, o);
                        acc = combine(op, acc, bf ? bf16ToFloat(x) : Float.float16ToFloat(x));
                    }
                    if (op == ReduceOp.AVG) {
                        acc = acc / (float) divisor;
                    }
                    dst.set(I16, dstByteOffset + 2 * i, bf ? floatToBf16(acc) : Float.floatToFloat16(acc));
                }
                default -> throw new IllegalArgumentException("unsupported dtype for reduction: dtype=" + dtype
                    + ", op=" + op + ", expected one of " + CollectiveChecks.REDUCIBLE);
            }
        }
    }

    private static float combine(ReduceOp op, float acc, float x) {
        return switch (op) {
            case SUM, AVG -> acc + x;
            case PROD -> acc * x;
            case MAX -> Math.max(acc, x);
            case MIN -> Math.min(acc, x);
        };
    }

    /** {@link #combine(ReduceOp, float[], float[], int)} on {@code [0, len)} and {@code [second, second + len)}. */
    private static void combine(ReduceOp op, float[] acc, float[] x, int len, int second) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x[j];
                }
                for (int j = second; j < second + len; j++) {
                    acc[j] += x[j];
                }
            }
            default -> {
                combine(op, acc, x, len);
                combineFrom(op, acc, x, second, len);
            }
        }
    }

    private static void combineFrom(ReduceOp op, float[] acc, float[] x, int from, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = from; j < from + len; j++) {
                    acc[j] += x[j];
                }
            }
            case PROD -> {
                for (int j = from; j < from + len; j++) {
                    acc[j] *= x[j];
                }
            }
            case MAX -> {
                for (int j = from; j < from + len; j++) {
                    acc[j] = Math.max(acc[j], x[j]);
                }
            }
            case MIN -> {
                for (int j = from; j < from + len; j++) {
                    acc[j] = Math.min(acc[j], x[j]);
                }
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

    /** {@code out[j] = src[j]} widened to f32, read straight from {@code src}. */
    private static void loadFloats(DType dtype, MemorySegment src, float[] out, int len) {
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, F32, 0, out, 0, len);
            case F16 -> {
                for (int j = 0; j < len; j++) {
                    out[j] = Float.float16ToFloat(src.getAtIndex(I16, j));
                }
            }
            default -> throw new IllegalStateException("unreachable: dtype=" + dtype);
        }
    }

    /** {@code acc[j] = op(a[j], b[j])} for F32 operands read straight from their segments. */
    private static void combineF32Pair(ReduceOp op, float[] acc, MemorySegment a, MemorySegment b, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = a.getAtIndex(F32, j) + b.getAtIndex(F32, j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = a.getAtIndex(F32, j) * b.getAtIndex(F32, j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(a.getAtIndex(F32, j), b.getAtIndex(F32, j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(a.getAtIndex(F32, j), b.getAtIndex(F32, j));
                }
            }
        }
    }

    /** {@code acc[j] = op(acc[j], src[j])} with {@code src} widened to f32 and read straight from its segment. */
    private static void combineFloats(DType dtype, ReduceOp op, float[] acc, MemorySegment src, int len) {
        if (dtype == DType.F16) {
            switch (op) {
                case SUM, AVG -> {
                    for (int j = 0; j < len; j++) {
                        acc[j] += Float.float16ToFloat(src.getAtIndex(I16, j));
                    }
                }
                case PROD -> {
                    for (int j = 0; j < len; j++) {
                        acc[j] *= Float.float16ToFloat(src.getAtIndex(I16, j));
                    }
                }
                case MAX -> {
                    for (int j = 0; j < len; j++) {
                        acc[j] = Math.max(acc[j], Float.float16ToFloat(src.getAtIndex(I16, j)));
                    }
                }
                case MIN -> {
                    for (int j = 0; j < len; j++) {
                        acc[j] = Math.min(acc[j], Float.float16ToFloat(src.getAtIndex(I16, j)));
                    }
                }
            }
            return;
        }
        if (src.isNative()) {
            combine(op, acc, floats(src), 0, len);
            return;
        }
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += src.getAtIndex(F32, j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= src.getAtIndex(F32, j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], src.getAtIndex(F32, j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], src.getAtIndex(F32, j));
                }
            }
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

    private static void combine(ReduceOp op, double[] acc, MemorySegment x, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x.getAtIndex(F64, j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x.getAtIndex(F64, j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x.getAtIndex(F64, j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x.getAtIndex(F64, j));
                }
            }
        }
    }

    private static void combine(ReduceOp op, int[] acc, MemorySegment x, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x.getAtIndex(I32, j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x.getAtIndex(I32, j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x.getAtIndex(I32, j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x.getAtIndex(I32, j));
                }
            }
        }
    }

    private static void combine(ReduceOp op, long[] acc, MemorySegment x, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x.getAtIndex(I64, j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x.getAtIndex(I64, j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x.getAtIndex(I64, j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x.getAtIndex(I64, j));
                }
            }
        }
    }
    /**
     * A float view of a native segment slice (native order, as {@code JAVA_FLOAT}). Its {@code get(int)} is an
     * intrinsic float load that C2 vectorizes, where a segment's float load is an int load plus
     * {@code Float.intBitsToFloat} that it does not.
     */
    private static FloatBuffer floats(MemorySegment nativeSlice) {
        return nativeSlice.asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** A double view of a native segment slice; see {@link #floats}. */
    private static DoubleBuffer doubles(MemorySegment nativeSlice) {
        return nativeSlice.asByteBuffer().order(ByteOrder.nativeOrder()).asDoubleBuffer();
    }

    /** {@code acc[j] = op(a[base + j], b[base + j])}, both read straight from native memory through buffer views. */
    private static void combinePair(ReduceOp op, float[] acc, FloatBuffer a, FloatBuffer b, int base, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = a.get(base + j) + b.get(base + j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = a.get(base + j) * b.get(base + j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(a.get(base + j), b.get(base + j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(a.get(base + j), b.get(base + j));
                }
            }
        }
    }

    /** {@code acc[j] = op(acc[j], x[base + j])}, {@code x} read straight from native memory through a buffer view. */
    private static void combine(ReduceOp op, float[] acc, FloatBuffer x, int base, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x.get(base + j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x.get(base + j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x.get(base + j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x.get(base + j));
                }
            }
        }
    }

    /** {@code acc[j] = op(acc[j], x[base + j])}, {@code x} read straight from native memory through a buffer view. */
    private static void combine(ReduceOp op, double[] acc, DoubleBuffer x, int base, int len) {
        switch (op) {
            case SUM, AVG -> {
                for (int j = 0; j < len; j++) {
                    acc[j] += x.get(base + j);
                }
            }
            case PROD -> {
                for (int j = 0; j < len; j++) {
                    acc[j] *= x.get(base + j);
                }
            }
            case MAX -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.max(acc[j], x.get(base + j));
                }
            }
            case MIN -> {
                for (int j = 0; j < len; j++) {
                    acc[j] = Math.min(acc[j], x.get(base + j));
                }
            }
        }
    }

    private static boolean allNative(MemorySegment[] srcs, int n) {
        for (int k = 0; k < n; k++) {
            if (!srcs[k].isNative()) {
                return false;
            }
        }
        return true;
    }

    /**
     * F32 with every operand in native memory: one float view per operand per window (not per block), and sums
     * fused so that one pass over a block reads up to four operands ({@code acc = ((a + b) + c) + d}, then
     * {@code acc = ((acc + e) + f) + g}, ...): the same additions in the same order as one operand at a time, so the
     * same bits, with the accumulator read and written once per four operands instead of once per operand.
     */
    private void reduceF32Native(ReduceOp op, MemorySegment[] srcs, long[] offsets, long common, int n,
                                 MemorySegment dst, long dstByteOffset, long count, int divisor) {
        if (floatViews.length < n) {
            floatViews = new FloatBuffer[n];
        }
        FloatBuffer[] v = floatViews;
        float[] acc = floatAcc;
        boolean sum = op == ReduceOp.SUM || op == ReduceOp.AVG;
        try {
            for (long w = 0; w < count; w += windowElements) {
                int wl = (int) Math.min(windowElements, count - w);
                for (int k = 0; k < n; k++) {
                    v[k] = floats(operand(srcs, offsets, common, k, 4 * w, 4L * wl));
                }
                for (int base = 0; base < wl; base += BLOCK_ELEMENTS) {
                    int len = Math.min(BLOCK_ELEMENTS, wl - base);
                    int k;
                    if (n == 1) {
                        v[0].get(base, acc, 0, len);
                        k = 1;
                    } else if (!sum) {
                        combinePair(op, acc, v[0], v[1], base, len);
                        k = 2;
                    } else {
                        k = sumFirst(acc, v, n, base, len);
                    }
                    while (k < n) {
                        if (sum) {
                            k += sumNext(acc, v, k, n, base, len);
                        } else {
                            combine(op, acc, v[k++], base, len);
                        }
                    }
                    if (op == ReduceOp.AVG) {
                        float d = divisor;
                        for (int j = 0; j < len; j++) {
                            acc[j] = acc[j] / d;
                        }
                    }
                    MemorySegment.copy(acc, 0, dst, F32, dstByteOffset + 4 * (w + base), len);
                }
            }
        } finally {
            Arrays.fill(v, 0, n, null); // keep no view of a peer's memory past the call
        }
    }

    /** The first pass of an F32 sum over {@code n >= 2} operands: sums the first two to four; returns how many. */
    private static int sumFirst(float[] acc, FloatBuffer[] v, int n, int base, int len) {
        FloatBuffer a = v[0];
        FloatBuffer b = v[1];
        if (n == 2) {
            for (int j = 0; j < len; j++) {
                acc[j] = a.get(base + j) + b.get(base + j);
            }
            return 2;
        }
        FloatBuffer c = v[2];
        if (n == 3) {
            for (int j = 0; j < len; j++) {
                acc[j] = a.get(base + j) + b.get(base + j) + c.get(base + j);
            }
            return 3;
        }
        FloatBuffer d = v[3];
        for (int j = 0; j < len; j++) {
            acc[j] = a.get(base + j) + b.get(base + j) + c.get(base + j) + d.get(base + j);
        }
        return 4;
    }

    /** A later pass of an F32 sum: adds operands {@code k, ...} (up to three) to {@code acc}; returns how many. */
    private static int sumNext(float[] acc, FloatBuffer[] v, int k, int n, int base, int len) {
        FloatBuffer a = v[k];
        if (n - k == 1) {
            for (int j = 0; j < len; j++) {
                acc[j] = acc[j] + a.get(base + j);
            }
            return 1;
        }
        FloatBuffer b = v[k + 1];
        if (n - k == 2) {
            for (int j = 0; j < len; j++) {
                acc[j] = acc[j] + a.get(base + j) + b.get(base + j);
            }
            return 2;
        }
        FloatBuffer c = v[k + 2];
        for (int j = 0; j < len; j++) {
            acc[j] = acc[j] + a.get(base + j) + b.get(base + j) + c.get(base + j);
        }
        return 3;
    }

    /** F64 with every operand in native memory: one double view per operand per window, operands added in turn. */
    private void reduceF64Native(ReduceOp op, MemorySegment[] srcs, long[] offsets, long common, int n,
                                 MemorySegment dst, long dstByteOffset, long count, int divisor) {
        if (doubleAcc == null) {
            doubleAcc = new double[BLOCK_ELEMENTS];
        }
        if (doubleViews.length < n) {
            doubleViews = new DoubleBuffer[n];
        }
        DoubleBuffer[] v = doubleViews;
        double[] acc = doubleAcc;
        try {
            for (long w = 0; w < count; w += windowElements) {
                int wl = (int) Math.min(windowElements, count - w);
                for (int k = 0; k < n; k++) {
                    v[k] = doubles(operand(srcs, offsets, common, k, 8 * w, 8L * wl));
                }
                for (int base = 0; base < wl; base += BLOCK_ELEMENTS) {
                    int len = Math.min(BLOCK_ELEMENTS, wl - base);
                    v[0].get(base, acc, 0, len);
                    for (int k = 1; k < n; k++) {
                        combine(op, acc, v[k], base, len);
                    }
                    if (op == ReduceOp.AVG) {
                        double d = divisor;
                        for (int j = 0; j < len; j++) {
                            acc[j] = acc[j] / d;
                        }
                    }
                    MemorySegment.copy(acc, 0, dst, F64, dstByteOffset + 8 * (w + base), len);
                }
            }
        } finally {
            Arrays.fill(v, 0, n, null);
        }
    }
}
