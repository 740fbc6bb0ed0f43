package io.yatt.controller;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Where a tensor that did not travel inline lives: its producer's rank, the region that holds it there (a shared
 * memory arena, a device allocation), the byte offset in that region, dtype and shape. Consumers pull the bytes over
 * the data plane; the producer's reference store frees them when the last consumer has them (see
 * {@link ReferenceColumn}, the runs of rows a result carries). A value;
 * thread-safe.
 *
 * @param ownerRank  the producer's rank
 * @param regionId   the region's id on the producer
 * @param byteOffset offset of the first element in the region, in bytes
 * @param dtype      element type
 * @param shape      dimensions (contiguous, row-major)
 */
public record TensorRef(int ownerRank, long regionId, long byteOffset, DType dtype, Shape shape) {
    /** Tensors larger than this many bytes travel as references by default, never inline (64 KiB). */
    public static final long DEFAULT_INLINE_LIMIT_BYTES = 64 * 1024;

    /** @throws IllegalArgumentException if a rank, id or offset is negative, or the byte size overflows a long */
    public TensorRef {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        if (ownerRank < 0 || regionId < 0 || byteOffset < 0) {
            throw new IllegalArgumentException("tensor reference field negative: ownerRank=" + ownerRank
                    + ", regionId=" + regionId + ", byteOffset=" + byteOffset);
        }
        try {
            Math.addExact(byteOffset, Math.multiplyExact(shape.numel(), (long) dtype.byteSize()));
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException("tensor reference end overflows a long: byteOffset=" + byteOffset
                    + ", dtype=" + dtype + ", shape=" + shape);
        }
    }

    /**
     * A reference to {@code tensor}, which lives at its own byte offset in region {@code regionId} of
     * {@code ownerRank} (the tensor's storage is the region).
     *
     * @throws IllegalArgumentException if the tensor is not contiguous
     */
    public static TensorRef of(int ownerRank, long regionId, Tensor tensor) {
        if (!tensor.isContiguous()) {
            throw new IllegalArgumentException("a tensor reference needs a contiguous tensor: shape=" + tensor.shape()
                    + ", dtype=" + tensor.dtype());
        }
        return new TensorRef(ownerRank, regionId, tensor.byteOffset(), tensor.dtype(), tensor.shape());
    }

    /**
     * Whether a tensor of {@code byteSize} bytes travels inline under {@code inlineLimitBytes}: only at or below it.
     *
     * @throws IllegalArgumentException if either value is negative
     */
    public static boolean travelsInline(long byteSize, long inlineLimitBytes) {
        if (byteSize < 0 || inlineLimitBytes < 0) {
            throw new IllegalArgumentException("negative size: byteSize=" + byteSize + ", inlineLimitBytes="
                    + inlineLimitBytes);
        }
        return byteSize <= inlineLimitBytes;
    }

    /** {@code numel * dtype.byteSize()}. */
    public long byteSize() {
        return shape.numel() * dtype.byteSize();
    }

    /**
     * A non-owning tensor over the referenced bytes of {@code region} (the mapped region on this host); it is valid
     * while the region is.
     *
     * @throws IllegalArgumentException if the referenced bytes do not fit in the region
     */
    public Tensor resolve(MemorySegment region) {
        if (byteOffset > region.byteSize() - byteSize()) {
            throw new IllegalArgumentException("reference outside its region: byteOffset=" + byteOffset
                    + ", byteSize=" + byteSize() + ", regionByteSize=" + region.byteSize() + ", ref=" + this);
        }
        return Tensor.wrap(region.asSlice(byteOffset, byteSize()), dtype, shape);
    }
}
