package io.yatt.collectives.internal;

import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaStream;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Device-to-device copies between two same-shaped views of any layouts, enqueued on a stream as few calls as the
 * layouts allow: the views' dimensions are coalesced where both are contiguous across neighbours, the innermost
 * contiguous run is a row and the next dimension its rows, so that a strided column block (a row-parallel slot) is
 * one {@code cudaMemcpy2DAsync}; outer dimensions repeat it. Pointers are used as they are (unified virtual
 * addressing: the two views may be on different devices of one process). Stateless.
 */
public final class DeviceCopies {
    /** Largest pitch handed to {@code cudaMemcpy2DAsync} (its limit, {@code cudaDevAttrMaxPitch}, is at least this). */
    static final long MAX_PITCH_BYTES = Integer.MAX_VALUE;

    private DeviceCopies() {
    }

    /**
     * The copy of {@code src} into {@code dst} as 2D blocks, both described by their first element's address and
     * byte strides; shapes equal (checked by the caller).
     *
     * @param dims       the shared shape
     * @param dstStrides byte strides of the destination
     * @param srcStrides byte strides of the source
     * @param elementBytes bytes per element
     * @return the blocks, outermost first
     */
    static Block[] plan(long[] dims, long[] dstStrides, long[] srcStrides, int elementBytes) {
        long[] d = new long[dims.length];
        long[] a = new long[dims.length];
        long[] b = new long[dims.length];
        int n = 0;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == 0) {
                return new Block[0];
            }
            if (dims[i] == 1) {
                continue;
            }
            if (n > 0 && a[n - 1] == dims[i] * dstStrides[i] && b[n - 1] == dims[i] * srcStrides[i]) {
                d[n - 1] *= dims[i];
                a[n - 1] = dstStrides[i];
                b[n - 1] = srcStrides[i];
            } else {
                d[n] = dims[i];
                a[n] = dstStrides[i];
                b[n] = srcStrides[i];
                n++;
            }
        }
        if (n == 0) {
            return new Block[] {new Block(0, 0, elementBytes, 1, elementBytes, elementBytes)};
        }
        boolean innerContiguous = a[n - 1] == elementBytes && b[n - 1] == elementBytes;
        long width;
        long height;
        long dstPitch;
        long srcPitch;
        int outer;
        if (innerContiguous) {
            width = d[n - 1] * elementBytes;
            height = n >= 2 ? d[n - 2] : 1;
            dstPitch = n >= 2 ? a[n - 2] : width;
            srcPitch = n >= 2 ? b[n - 2] : width;
            outer = Math.max(n - 2, 0);
        } else {
            width = elementBytes;
            height = d[n - 1];
            dstPitch = a[n - 1];
            srcPitch = b[n - 1];
            outer = n - 1;
        }
        long blocks = 1;
        for (int i = 0; i < outer; i++) {
            blocks = Math.multiplyExact(blocks, d[i]);
        }
        Block[] out = new Block[Math.toIntExact(blocks)];
        long[] index = new long[outer];
        long dstOffset = 0;
        long srcOffset = 0;
        for (int k = 0; k < out.length; k++) {
            out[k] = new Block(dstOffset, srcOffset, width, height, dstPitch, srcPitch);
            int i = outer - 1;
            while (i >= 0) {
                index[i]++;
                dstOffset += a[i];
                srcOffset += b[i];
                if (index[i] < d[i]) {
                    break;
                }
                dstOffset -= index[i] * a[i];
                srcOffset -= index[i] * b[i];
                index[i] = 0;
                i--;
            }
        }
        return out;
    }

    /**
     * One 2D copy: {@code height} rows of {@code widthBytes}, rows {@code dstPitchBytes} and {@code srcPitchBytes}
     * apart, from the byte offsets relative to each view's first element.
     */
    record Block(long dstOffsetBytes, long srcOffsetBytes, long widthBytes, long height, long dstPitchBytes,
                 long srcPitchBytes) {
        /** Whether one {@code cudaMemcpy2DAsync} can do it (pitches within limits and not below the width). */
        boolean fits2D() {
            return height == 1 || (dstPitchBytes >= widthBytes && srcPitchBytes >= widthBytes
                    && dstPitchBytes <= MAX_PITCH_BYTES && srcPitchBytes <= MAX_PITCH_BYTES);
        }
    }

    /**
     * Enqueues the copy of {@code src} (a view on some device) into {@code dst} (a view on some device) on
     * {@code stream}; same dtype and shape (checked by the caller). Returns the bytes copied.
     *
     * @throws io.yatt.ffi.cuda.CudaException if a copy cannot be enqueued
     */
    public static long copy(Tensor dst, Tensor src, CudaStream stream) {
        long bytes = dst.byteSize();
        if (bytes == 0) {
            return 0;
        }
        int es = dst.dtype().byteSize();
        copy(dst.dataPointer().address(), byteStrides(dst.strides(), es), src.dataPointer().address(),
                byteStrides(src.strides(), es), dst.shape().dims(), es, stream);
        return bytes;
    }

    /**
     * Enqueues the copy between two views given by address and byte strides (a peer's view, published as such).
     *
     * @throws io.yatt.ffi.cuda.CudaException if a copy cannot be enqueued
     */
    public static void copy(long dstAddress, long[] dstStrides, long srcAddress, long[] srcStrides, long[] dims,
                            int elementBytes, CudaStream stream) {
        for (Block block : plan(dims, dstStrides, srcStrides, elementBytes)) {
            long dst = dstAddress + block.dstOffsetBytes();
            long src = srcAddress + block.srcOffsetBytes();
            if (block.height() == 1) {
                Cuda.memcpyAsync(pointer(dst), pointer(src), block.widthBytes(), stream);
            } else if (block.fits2D()) {
                Cuda.memcpy2DAsync(pointer(dst), block.dstPitchBytes(), pointer(src), block.srcPitchBytes(),
                        block.widthBytes(), block.height(), stream);
            } else {
                for (long row = 0; row < block.height(); row++) {
                    Cuda.memcpyAsync(pointer(dst + row * block.dstPitchBytes()),
                            pointer(src + row * block.srcPitchBytes()), block.widthBytes(), stream);
                }
            }
        }
    }

    /** Strides in bytes. */
    public static long[] byteStrides(long[] strides, int elementBytes) {
        long[] bytes = Arrays.copyOf(strides, strides.length);
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] *= elementBytes;
        }
        return bytes;
    }

    private static MemorySegment pointer(long address) {
        return MemorySegment.ofAddress(address);
    }
}
