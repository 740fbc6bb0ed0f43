package io.yatt.collectives.shm;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The view table of a direct {@code allGatherv}: each rank writes one record per send piece (where its first
 * element lives, its dtype, dims and element strides) into shared memory; peers read the table and copy every piece
 * straight from the owner's memory into their strided receive views, by runs contiguous on both sides.
 *
 * <p>Table layout (little-endian, from the block's start): {@code 0 pieces (int)}, then per piece {@code REGION (int,
 * -1 for an empty piece), DTYPE (int), NDIM (int), pad (int), OFFSET (long, byte offset of the first element in that
 * region), DIMS (ndim longs), STRIDES (ndim longs, in elements)}. Stateless.
 */
final class ShmViews {
    static final int HEADER_BYTES = 8;
    static final int PIECE_FIXED_BYTES = 24;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LNG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final DType[] DTYPES = DType.values();

    private ShmViews() {
    }

    /** Bytes of the table describing {@code pieces}. */
    static long tableBytes(List<Tensor> pieces) {
        long bytes = HEADER_BYTES;
        for (Tensor t : pieces) {
            bytes += PIECE_FIXED_BYTES + 16L * t.shape().rank();
        }
        return bytes;
    }

    /** Bytes from the first to one past the last element of {@code t} (0 when empty). */
    static long spanBytes(Tensor t) {
        if (t.numel() == 0) {
            return 0;
        }
        long[] dims = t.shape().dims();
        long[] strides = t.strides();
        long last = 0;
        for (int d = 0; d < dims.length; d++) {
            last += (dims[d] - 1) * strides[d];
        }
        return (last + 1) * t.dtype().byteSize();
    }

    /** Writes the header of a table of {@code pieces} records at {@code at}. */
    static void writeHeader(MemorySegment seg, long at, int pieces) {
        seg.set(INT, at, pieces);
        seg.set(INT, at + 4, 0);
    }

    /**
     * Writes the record of {@code piece} at {@code at} as living at {@code (region, offset)} with element strides
     * {@code strides}; returns the offset after it.
     */
    static long writePiece(MemorySegment seg, long at, Tensor piece, int region, long offset, long[] strides) {
        long[] dims = piece.shape().dims();
        seg.set(INT, at, piece.numel() == 0 ? -1 : region);
        seg.set(INT, at + 4, piece.dtype().ordinal());
        seg.set(INT, at + 8, dims.length);
        seg.set(INT, at + 12, 0);
        seg.set(LNG, at + 16, offset);
        long p = at + PIECE_FIXED_BYTES;
        for (long dim : dims) {
            seg.set(LNG, p, dim);
            p += 8;
        }
        for (long stride : strides) {
            seg.set(LNG, p, stride);
            p += 8;
        }
        return p;
    }

    /** Contiguous element strides of {@code dims}. */
    static long[] contiguousStrides(long[] dims) {
        long[] strides = new long[dims.length];
        long s = 1;
        for (int d = dims.length - 1; d >= 0; d--) {
            strides[d] = s;
            s *= dims[d];
        }
        return strides;
    }

    static int pieces(MemorySegment seg, long at) {
        return seg.get(INT, at);
    }

    static int region(MemorySegment seg, long at) {
        return seg.get(INT, at);
    }

    /** The dtype of a record, or null for an ordinal no dtype has. */
    static DType dtype(MemorySegment seg, long at) {
        int d = seg.get(INT, at + 4);
        return d >= 0 && d < DTYPES.length ? DTYPES[d] : null;
    }

    static int ndim(MemorySegment seg, long at) {
        return seg.get(INT, at + 8);
    }

    static long offset(MemorySegment seg, long at) {
        return seg.get(LNG, at + 16);
    }

    static long dim(MemorySegment seg, long at, int d) {
        return seg.get(LNG, at + PIECE_FIXED_BYTES + 8L * d);
    }

    static long stride(MemorySegment seg, long at, int ndim, int d) {
        return seg.get(LNG, at + PIECE_FIXED_BYTES + 8L * (ndim + d));
    }

    /** Offset of the record after the one at {@code at}. */
    static long next(MemorySegment seg, long at) {
        return at + PIECE_FIXED_BYTES + 16L * ndim(seg, at);
    }

    /** The shape a record describes, for messages ({@code null} when its rank is out of range). */
    static Shape shape(MemorySegment seg, long at, int maxRank) {
        int ndim = ndim(seg, at);
        if (ndim < 0 || ndim > maxRank) {
            return null;
        }
        long[] dims = new long[ndim];
        for (int d = 0; d < ndim; d++) {
            dims[d] = dim(seg, at, d);
        }
        return Shape.of(dims);
    }

    /**
     * Copies {@code dims} elements of {@code elementBytes} from {@code src} (first element at byte {@code srcOffset},
     * element strides {@code srcStrides}) into {@code dst} likewise: one bulk copy per run of elements that is
     * contiguous on both sides ({@link ShmCopy#place}). Dimensions of extent 1 are ignored.
     */
    static void copyRuns(MemorySegment src, long srcOffset, long[] srcStrides, MemorySegment dst, long dstOffset,
                         long[] dstStrides, long[] dims, int elementBytes) {
        int n = dims.length;
        long run = 1;
        int cut = n; // dimensions [cut, n) form one contiguous run on both sides
        while (cut > 0) {
            int d = cut - 1;
            if (dims[d] == 0) {
                return;
            }
            if (dims[d] != 1 && (srcStrides[d] != run || dstStrides[d] != run)) {
                break;
            }
            run *= dims[d];
            cut--;
        }
        long runBytes = run * elementBytes;
        for (int d = 0; d < cut; d++) {
            if (dims[d] == 0) {
                return;
            }
        }
        long[] index = new long[cut];
        long s = srcOffset;
        long t = dstOffset;
        while (true) {
            ShmCopy.place(src, s, dst, t, runBytes);
            int d = cut - 1;
            while (d >= 0) {
                index[d]++;
                s += srcStrides[d] * elementBytes;
                t += dstStrides[d] * elementBytes;
                if (index[d] < dims[d]) {
                    break;
                }
                s -= dims[d] * srcStrides[d] * elementBytes;
                t -= dims[d] * dstStrides[d] * elementBytes;
                index[d] = 0;
                d--;
            }
            if (d < 0) {
                return;
            }
        }
    }
}
