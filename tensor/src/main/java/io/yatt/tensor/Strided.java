package io.yatt.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Layout arithmetic over strided tensors: walking the elements of one or two same-shaped layouts in row-major
 * order, and copying between them by the longest runs that are contiguous in both. Strides here are in bytes.
 * Stateless.
 */
final class Strided {
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    private Strided() {
    }

    /** Receives the byte offsets of one element in each of two layouts, in row-major order of the shared shape. */
    @FunctionalInterface
    interface PairVisitor {
        void visit(long ordinal, long offsetA, long offsetB);
    }

    /** Receives one run of {@code byteSize} bytes that is contiguous in both layouts. */
    @FunctionalInterface
    interface RunVisitor {
        void visit(long offsetA, long offsetB, long byteSize);
    }

    /**
     * Dimensions with size-1 dimensions dropped and neighbours merged where both layouts are contiguous across
     * them; {@code dims.length == 0} means a single element, {@code empty} means no element.
     */
    record Plan(long[] dims, long[] stridesA, long[] stridesB, boolean empty) {
        static Plan of(long[] dims, long[] stridesA, long[] stridesB) {
            long[] d = new long[dims.length];
            long[] a = new long[dims.length];
            long[] b = new long[dims.length];
            int n = 0;
            for (int i = 0; i < dims.length; i++) {
                if (dims[i] == 0) {
                    return new Plan(new long[0], new long[0], new long[0], true);
                }
                if (dims[i] == 1) {
                    continue;
                }
                if (n > 0 && a[n - 1] == dims[i] * stridesA[i] && b[n - 1] == dims[i] * stridesB[i]) {
                    d[n - 1] *= dims[i];
                    a[n - 1] = stridesA[i];
                    b[n - 1] = stridesB[i];
                } else {
                    d[n] = dims[i];
                    a[n] = stridesA[i];
                    b[n] = stridesB[i];
                    n++;
                }
            }
            return new Plan(java.util.Arrays.copyOf(d, n), java.util.Arrays.copyOf(a, n),
                    java.util.Arrays.copyOf(b, n), false);
        }
    }

    static long[] byteStrides(long[] strides, int elementByteSize) {
        long[] bytes = new long[strides.length];
        for (int i = 0; i < strides.length; i++) {
            bytes[i] = strides[i] * elementByteSize;
        }
        return bytes;
    }

    /** Visits every element of two layouts of the same shape in row-major order (not coalesced: ordinals matter). */
    static void forEachPair(long[] dims, long[] stridesA, long baseA, long[] stridesB, long baseB, PairVisitor visitor) {
        int rank = dims.length;
        for (long dim : dims) {
            if (dim == 0) {
                return;
            }
        }
        if (rank == 0) {
            visitor.visit(0, baseA, baseB);
            return;
        }
        long[] index = new long[rank];
        long inner = dims[rank - 1];
        long innerA = stridesA[rank - 1];
        long innerB = stridesB[rank - 1];
        long offsetA = baseA;
        long offsetB = baseB;
        long ordinal = 0;
        while (true) {
            for (long i = 0; i < inner; i++) {
                visitor.visit(ordinal++, offsetA + i * innerA, offsetB + i * innerB);
            }
            int d = rank - 2;
            while (d >= 0) {
                index[d]++;
                offsetA += stridesA[d];
                offsetB += stridesB[d];
                if (index[d] < dims[d]) {
                    break;
                }
                offsetA -= index[d] * stridesA[d];
                offsetB -= index[d] * stridesB[d];
                index[d] = 0;
                d--;
            }
            if (d < 0) {
                return;
            }
        }
    }

    /** Visits the runs that are contiguous in both layouts (elements of {@code elementByteSize} at the least). */
    static void forEachRun(long[] dims, long[] stridesA, long baseA, long[] stridesB, long baseB, int elementByteSize,
                           RunVisitor visitor) {
        Plan plan = Plan.of(dims, stridesA, stridesB);
        if (plan.empty()) {
            return;
        }
        int rank = plan.dims().length;
        if (rank == 0) {
            visitor.visit(baseA, baseB, elementByteSize);
            return;
        }
        long[] d = plan.dims();
        long[] a = plan.stridesA();
        long[] b = plan.stridesB();
        boolean innerContiguous = a[rank - 1] == elementByteSize && b[rank - 1] == elementByteSize;
        long runBytes = innerContiguous ? d[rank - 1] * elementByteSize : elementByteSize;
        long innerCount = innerContiguous ? 1 : d[rank - 1];
        int outerRank = rank - 1;
        long[] index = new long[Math.max(outerRank, 0)];
        long offsetA = baseA;
        long offsetB = baseB;
        while (true) {
            for (long i = 0; i < innerCount; i++) {
                visitor.visit(offsetA + i * a[rank - 1], offsetB + i * b[rank - 1], runBytes);
            }
            int k = outerRank - 1;
            while (k >= 0) {
                index[k]++;
                offsetA += a[k];
                offsetB += b[k];
                if (index[k] < d[k]) {
                    break;
                }
                offsetA -= index[k] * a[k];
                offsetB -= index[k] * b[k];
                index[k] = 0;
                k--;
            }
            if (k < 0) {
                return;
            }
        }
    }

    /** Copies a strided host layout into another of the same shape (regions must not overlap). */
    static void copyHost(MemorySegment dst, long dstBase, long[] dstStrides, MemorySegment src, long srcBase,
                         long[] srcStrides, long[] dims, int elementByteSize) {
        Plan plan = Plan.of(dims, dstStrides, srcStrides);
        if (plan.empty()) {
            return;
        }
        int rank = plan.dims().length;
        if (rank == 0) {
            MemorySegment.copy(src, srcBase, dst, dstBase, elementByteSize);
            return;
        }
        long[] d = plan.dims();
        long[] ds = plan.stridesA();
        long[] ss = plan.stridesB();
        long inner = d[rank - 1];
        long innerDst = ds[rank - 1];
        long innerSrc = ss[rank - 1];
        boolean innerContiguous = innerDst == elementByteSize && innerSrc == elementByteSize;
        long runBytes = inner * elementByteSize;
        int outerRank = rank - 1;
        long[] index = new long[outerRank];
        long dstOffset = dstBase;
        long srcOffset = srcBase;
        while (true) {
            if (innerContiguous) {
                MemorySegment.copy(src, srcOffset, dst, dstOffset, runBytes);
            } else {
                copyElements(dst, dstOffset, innerDst, src, srcOffset, innerSrc, inner, elementByteSize);
            }
            int k = outerRank - 1;
            while (k >= 0) {
                index[k]++;
                dstOffset += ds[k];
                srcOffset += ss[k];
                if (index[k] < d[k]) {
                    break;
                }
                dstOffset -= index[k] * ds[k];
                srcOffset -= index[k] * ss[k];
                index[k] = 0;
                k--;
            }
            if (k < 0) {
                return;
            }
        }
    }

    private static void copyElements(MemorySegment dst, long dstOffset, long dstStride, MemorySegment src,
                                     long srcOffset, long srcStride, long count, int elementByteSize) {
        switch (elementByteSize) {
            case 1 -> {
                for (long i = 0; i < count; i++) {
                    dst.set(BYTE, dstOffset + i * dstStride, src.get(BYTE, srcOffset + i * srcStride));
                }
            }
            case 2 -> {
                for (long i = 0; i < count; i++) {
                    dst.set(SHORT, dstOffset + i * dstStride, src.get(SHORT, srcOffset + i * srcStride));
                }
            }
            case 4 -> {
                for (long i = 0; i < count; i++) {
                    dst.set(INT, dstOffset + i * dstStride, src.get(INT, srcOffset + i * srcStride));
                }
            }
            case 8 -> {
                for (long i = 0; i < count; i++) {
                    dst.set(LONG, dstOffset + i * dstStride, src.get(LONG, srcOffset + i * srcStride));
                }
            }
            default -> {
                for (long i = 0; i < count; i++) {
                    MemorySegment.copy(src, srcOffset + i * srcStride, dst, dstOffset + i * dstStride, elementByteSize);
                }
            }
        }
    }

    /** Whether two host layouts hold the same bytes element by element. */
    static boolean equalHost(MemorySegment a, long baseA, long[] stridesA, MemorySegment b, long baseB,
                             long[] stridesB, long[] dims, int elementByteSize) {
        boolean[] equal = {true};
        forEachRun(dims, stridesA, baseA, stridesB, baseB, elementByteSize, (offsetA, offsetB, byteSize) -> {
            if (equal[0] && MemorySegment.mismatch(a, offsetA, offsetA + byteSize, b, offsetB, offsetB + byteSize) != -1) {
                equal[0] = false;
            }
        });
        return equal[0];
    }
}
