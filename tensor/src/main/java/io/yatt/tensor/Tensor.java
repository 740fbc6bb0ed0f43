package io.yatt.tensor;

import io.yatt.ffi.cuda.CudaStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A strided view of typed memory on the host or a CUDA device: dtype, shape, strides (in elements) and a byte offset
 * into a storage. A tensor from {@link #allocate} owns its storage and frees it on {@link #close()}; views
 * ({@link #narrow}, {@link #view}, {@link #chunk}, ...) share the storage and never own it, and fail with an
 * IllegalStateException once the storage is freed. Indices and sizes are {@code long}; tensors may exceed 2 GiB.
 * Not thread-safe for concurrent writes; reads of distinct tensors from several threads are fine.
 */
public final class Tensor implements AutoCloseable {
    private final Storage storage;
    private final DType dtype;
    private final Shape shape;
    private final long[] strides;
    private final long byteOffset;
    private final long byteSize;
    private final boolean owner;
    private final boolean contiguous;
    private volatile boolean closed;

    private Tensor(Storage storage, DType dtype, Shape shape, long[] strides, long byteOffset, boolean owner) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.byteOffset = byteOffset;
        this.byteSize = shape.numel() * dtype.byteSize();
        this.owner = owner;
        this.contiguous = computeContiguous(shape.dimsUnsafe(), strides);
    }

    /**
     * Allocates a zeroed, contiguous tensor on {@code device}, accounted to {@code allocator}.
     *
     * @throws IllegalStateException if the allocator is closed or the allocation exceeds a limit in its tree
     * @throws IllegalArgumentException if the byte size overflows a long
     * @throws io.yatt.ffi.cuda.CudaException if device memory cannot be allocated
     */
    public static Tensor allocate(Allocator allocator, DType dtype, Shape shape, Device device) {
        long byteSize = byteSizeOf(dtype, shape);
        String description = describe(dtype, shape, device);
        Storage storage = device.isHost()
                ? allocator.allocateHost(byteSize, description)
                : DeviceMemory.allocate(allocator, device, byteSize, description);
        return new Tensor(storage, dtype, shape, shape.contiguousStrides(), 0, true);
    }

    /**
     * Allocates a zeroed, contiguous tensor on the stream's device from the device's caching pool, for use in order
     * on {@code stream}: the zeroing is enqueued on it, and a block freed by work on that stream is reused at once.
     *
     * @throws IllegalStateException if the allocator is closed or the allocation exceeds a limit in its tree
     * @throws io.yatt.ffi.cuda.CudaException if device memory cannot be allocated
     */
    public static Tensor allocate(Allocator allocator, DType dtype, Shape shape, CudaStream stream) {
        long byteSize = byteSizeOf(dtype, shape);
        Device device = Device.cuda(stream.device());
        Storage storage = DeviceMemory.allocate(allocator, device, byteSize, describe(dtype, shape, device), stream);
        return new Tensor(storage, dtype, shape, shape.contiguousStrides(), 0, true);
    }

    /**
     * Allocates a zeroed, contiguous tensor in page-locked (pinned) host memory through CUDA, accounted to
     * {@code allocator}; its device is the host.
     *
     * @throws io.yatt.ffi.cuda.CudaException if CUDA cannot pin memory (no driver on this machine, for example)
     * @throws IllegalStateException if the allocator is closed or the allocation exceeds a limit in its tree
     */
    public static Tensor allocatePinned(Allocator allocator, DType dtype, Shape shape) {
        long byteSize = byteSizeOf(dtype, shape);
        Storage storage = DeviceMemory.allocatePinned(allocator, byteSize, describe(dtype, shape, Device.host())
                + " pinned");
        return new Tensor(storage, dtype, shape, shape.contiguousStrides(), 0, true);
    }

    /**
     * A contiguous tensor over the first {@code byteSize} bytes of a host segment (shared memory, a mapped file):
     * it does not own the memory, and {@link #close()} frees nothing. A read-only segment gives a read-only tensor.
     *
     * @throws IllegalArgumentException if the segment is smaller than the tensor
     */
    public static Tensor wrap(MemorySegment hostSegment, DType dtype, Shape shape) {
        long byteSize = byteSizeOf(dtype, shape);
        if (hostSegment.byteSize() < byteSize) {
            throw new IllegalArgumentException("segment too small: required=" + byteSize
                    + ", byteSize=" + hostSegment.byteSize());
        }
        return wrap(Storage.external(hostSegment, "wrapped", false), dtype, shape, 0);
    }

    static Tensor wrap(Storage storage, DType dtype, Shape shape, long byteOffset) {
        return new Tensor(storage, dtype, shape, shape.contiguousStrides(), byteOffset, false);
    }

    /** Element type. */
    public DType dtype() {
        return dtype;
    }

    /** Dimensions. */
    public Shape shape() {
        return shape;
    }

    /** A copy of the strides, in elements. */
    public long[] strides() {
        return strides.clone();
    }

    /** Offset of the first element from the start of the storage, in bytes. */
    public long byteOffset() {
        return byteOffset;
    }

    /** Where the memory lives. */
    public Device device() {
        return storage.device();
    }

    /** Number of elements. */
    public long numel() {
        return shape.numel();
    }

    /** {@code numel() * dtype().byteSize()}. */
    public long byteSize() {
        return byteSize;
    }

    /** Whether the elements are laid out densely in row-major order (size-1 dimensions' strides ignored). */
    public boolean isContiguous() {
        return contiguous;
    }

    /** Whether writes are refused (tensors of a memory-mapped safetensors file, read-only segments). */
    public boolean isReadOnly() {
        return storage.readOnly();
    }

    /** Whether this tensor owns its storage (it came from {@link #allocate} or {@link #allocatePinned}). */
    public boolean isOwner() {
        return owner;
    }

    /**
     * Exactly this tensor's bytes as a host segment.
     *
     * @throws IllegalStateException if the tensor is closed or freed, not on the host, or not contiguous
     */
    public MemorySegment segment() {
        checkUsable();
        if (!storage.isHost()) {
            throw new IllegalStateException("segment() needs a host tensor: " + fields());
        }
        if (!contiguous) {
            throw new IllegalStateException("segment() needs a contiguous tensor: " + fields()
                    + ", strides=" + Arrays.toString(strides));
        }
        return storage.hostSegment().asSlice(byteOffset, byteSize);
    }

    /**
     * A zero-length segment at the first element's address: a device pointer for CUDA tensors (never dereference
     * it from Java), a host address otherwise.
     *
     * @throws IllegalStateException if the tensor is closed or freed, or wraps heap memory (no native address)
     */
    public MemorySegment dataPointer() {
        checkUsable();
        if (storage.isHost() && !storage.hostSegment().isNative()) {
            throw new IllegalStateException("tensor has no native address (heap segment): " + fields());
        }
        return MemorySegment.ofAddress(address(byteOffset));
    }

    /**
     * The slice {@code [start, start + length)} of dimension {@code dim}.
     *
     * @throws IndexOutOfBoundsException if the dimension or the range is out of bounds
     */
    public Tensor narrow(int dim, long start, long length) {
        checkUsable();
        checkDim(dim);
        long size = shape.dimsUnsafe()[dim];
        if (start < 0 || length < 0 || start > size - length) {
            throw new IndexOutOfBoundsException("narrow out of range: dim=" + dim + ", start=" + start
                    + ", length=" + length + ", size=" + size);
        }
        return new Tensor(storage, dtype, shape.withDim(dim, length), strides,
                byteOffset + start * strides[dim] * dtype.byteSize(), false);
    }

    /**
     * The same elements under another shape with the same element count, sharing storage. Works for any layout
     * whose strides allow it (always for contiguous tensors); otherwise call {@link #contiguous} first.
     *
     * @throws IllegalArgumentException if the element counts differ or the strides do not allow the view
     */
    public Tensor view(Shape newShape) {
        checkUsable();
        if (newShape.numel() != shape.numel()) {
            throw new IllegalArgumentException("view element count mismatch: shape=" + shape + ", numel="
                    + shape.numel() + ", requested=" + newShape + ", requestedNumel=" + newShape.numel());
        }
        long[] newStrides = contiguous ? newShape.contiguousStrides()
                : viewStrides(shape.dimsUnsafe(), strides, newShape.dimsUnsafe());
        if (newStrides == null) {
            throw new IllegalArgumentException("view incompatible with strides: shape=" + shape + ", strides="
                    + Arrays.toString(strides) + ", requested=" + newShape + "; call contiguous() first");
        }
        return new Tensor(storage, dtype, newShape, newStrides, byteOffset, false);
    }

    /** A one-dimensional view of all elements (see {@link #view}). */
    public Tensor flatten() {
        return view(Shape.of(shape.numel()));
    }

    /**
     * Splits dimension {@code dim} into pieces of {@code ceil(size / chunks)} (PyTorch {@code chunk}): the last may
     * be smaller and there may be fewer than {@code chunks} pieces; an empty dimension gives one empty piece.
     *
     * @throws IllegalArgumentException if {@code chunks} is not positive
     * @throws IndexOutOfBoundsException if the dimension is out of range
     */
    public List<Tensor> chunk(int chunks, int dim) {
        if (chunks <= 0) {
            throw new IllegalArgumentException("chunk count must be positive: chunks=" + chunks);
        }
        checkDim(dim);
        long size = shape.dimsUnsafe()[dim];
        return split(Math.max(1, (size + chunks - 1) / chunks), dim);
    }

    /**
     * Splits dimension {@code dim} into pieces of {@code splitSize} (the last may be smaller); an empty dimension
     * gives one empty piece.
     *
     * @throws IllegalArgumentException if {@code splitSize} is not positive
     * @throws IndexOutOfBoundsException if the dimension is out of range
     */
    public List<Tensor> split(long splitSize, int dim) {
        checkUsable();
        if (splitSize <= 0) {
            throw new IllegalArgumentException("split size must be positive: splitSize=" + splitSize);
        }
        checkDim(dim);
        long size = shape.dimsUnsafe()[dim];
        if (size == 0) {
            return List.of(narrow(dim, 0, 0));
        }
        List<Tensor> pieces = new ArrayList<>((int) Math.min(Integer.MAX_VALUE - 8, (size + splitSize - 1) / splitSize));
        for (long start = 0; start < size; start += splitSize) {
            pieces.add(narrow(dim, start, Math.min(splitSize, size - start)));
        }
        return Collections.unmodifiableList(pieces);
    }

    /**
     * A contiguous tensor with these elements: a non-owning view of this one if it is contiguous already, else a new
     * tensor on the same device allocated from {@code allocator}. Close the result either way.
     */
    public Tensor contiguous(Allocator allocator) {
        checkUsable();
        if (contiguous) {
            return new Tensor(storage, dtype, shape, strides, byteOffset, false);
        }
        return copyTo(device(), allocator);
    }

    /**
     * These elements on {@code device}: a non-owning view of this tensor if it is there already, else a new
     * contiguous tensor allocated from {@code allocator}. Close the result either way.
     *
     * @throws io.yatt.ffi.cuda.CudaException if the device copy fails
     */
    public Tensor to(Device device, Allocator allocator) {
        checkUsable();
        if (device.equals(device())) {
            return new Tensor(storage, dtype, shape, strides, byteOffset, false);
        }
        return copyTo(device, allocator);
    }

    private Tensor copyTo(Device device, Allocator allocator) {
        Tensor copy = allocate(allocator, dtype, shape, device);
        try {
            copy.copyFrom(this);
        } catch (RuntimeException | Error e) {
            copy.close();
            throw e;
        }
        return copy;
    }

    /**
     * Copies {@code src} into this tensor: same dtype, and the same shape (any layouts) or the same element count
     * with both contiguous; any pair of devices (host, pinned, CUDA). Overlapping source and destination regions
     * are only supported when both are contiguous host tensors.
     *
     * @throws IllegalArgumentException if the dtypes or shapes do not match
     * @throws IllegalStateException if either tensor is closed or freed
     * @throws UnsupportedOperationException if this tensor is read-only
     */
    public void copyFrom(Tensor src) {
        checkUsable();
        src.checkUsable();
        checkWritable();
        if (src.dtype != dtype) {
            throw new IllegalArgumentException("copy dtype mismatch: dst=" + dtype + ", src=" + src.dtype);
        }
        boolean sameShape = shape.equals(src.shape);
        if (contiguous && src.contiguous && storage.isHost() && src.storage.isHost()) {
            if (!sameShape && numel() != src.numel()) {
                throw shapeMismatch(src);
            }
            MemorySegment.copy(src.storage.hostSegment(), src.byteOffset, storage.hostSegment(), byteOffset, byteSize);
            return;
        }
        if (!sameShape && !(numel() == src.numel() && contiguous && src.contiguous)) {
            throw shapeMismatch(src);
        }
        copySlow(src);
    }

    /**
     * Like {@link #copyFrom(Tensor)}, enqueued on {@code stream} when both tensors are contiguous (host memory should
     * be pinned for the copy to overlap); other layouts synchronize the stream and copy blockingly.
     *
     * @throws IllegalArgumentException if the dtypes or shapes do not match
     * @throws io.yatt.ffi.cuda.CudaException if the copy cannot be enqueued
     */
    public void copyFrom(Tensor src, CudaStream stream) {
        checkUsable();
        src.checkUsable();
        checkWritable();
        if (src.dtype != dtype) {
            throw new IllegalArgumentException("copy dtype mismatch: dst=" + dtype + ", src=" + src.dtype);
        }
        if (!shape.equals(src.shape) && !(numel() == src.numel() && contiguous && src.contiguous)) {
            throw shapeMismatch(src);
        }
        if (contiguous && src.contiguous) {
            if (byteSize > 0) {
                DeviceMemory.copyAsync(pointer(byteOffset, byteSize), src.pointer(src.byteOffset, byteSize), byteSize,
                        stream);
            }
            return;
        }
        stream.synchronize();
        copySlow(src);
    }

    /**
     * Marks this tensor's device memory as used by work enqueued on {@code stream}: when the storage is freed, the
     * caching pool reuses it only after that work completes. Does nothing for host tensors.
     */
    public void recordStream(CudaStream stream) {
        checkUsable();
        DeviceMemory.Allocation allocation = storage.deviceAllocation();
        if (allocation != null) {
            allocation.recordStream(stream);
        }
    }

    private IllegalArgumentException shapeMismatch(Tensor src) {
        return new IllegalArgumentException("copy shape mismatch: dst=" + shape + ", src=" + src.shape
                + ", expected equal shapes, or equal numel with both contiguous");
    }

    private void copySlow(Tensor src) {
        int elementByteSize = dtype.byteSize();
        long[] dims = shape.dimsUnsafe();
        long[] dstStrides = Strided.byteStrides(strides, elementByteSize);
        long[] srcStrides = Strided.byteStrides(src.strides, elementByteSize);
        if (!shape.equals(src.shape)) {
            dims = new long[] {numel()};
            dstStrides = new long[] {elementByteSize};
            srcStrides = new long[] {elementByteSize};
        }
        if (storage.isHost() && src.storage.isHost()) {
            Strided.copyHost(storage.hostSegment(), byteOffset, dstStrides, src.storage.hostSegment(), src.byteOffset,
                    srcStrides, dims, elementByteSize);
            return;
        }
        if (byteSize == 0) {
            return;
        }
        if (contiguous && src.contiguous) {
            DeviceMemory.copy(pointer(byteOffset, byteSize), src.pointer(src.byteOffset, byteSize), byteSize);
            return;
        }
        if (storage.isHost()) {
            // Device source, host destination: one copy of the source's span, then a host gather.
            long span = src.spanByteSize();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staging = arena.allocate(span, Allocator.HOST_ALIGNMENT_BYTES);
                DeviceMemory.copy(staging, src.pointer(src.byteOffset, span), span);
                Strided.copyHost(storage.hostSegment(), byteOffset, dstStrides, staging, 0, srcStrides, dims,
                        elementByteSize);
            }
            return;
        }
        if (!src.contiguous) {
            // Device destination, strided source: make the source contiguous on the host first.
            try (Arena arena = Arena.ofConfined()) {
                Tensor staging = wrap(arena.allocate(byteSize, Allocator.HOST_ALIGNMENT_BYTES), dtype, src.shape);
                staging.copyFrom(src);
                copyFrom(staging);
            }
            return;
        }
        // Device destination, strided; contiguous source anywhere: one copy per run that is contiguous in both.
        Strided.forEachRun(dims, dstStrides, byteOffset, srcStrides, src.byteOffset, elementByteSize,
                (dstOffset, srcOffset, runBytes) ->
                        DeviceMemory.copy(pointer(dstOffset, runBytes), src.pointer(srcOffset, runBytes), runBytes));
    }

    /**
     * Sets every element to {@code value} converted to the dtype (floats round to nearest even; integers truncate
     * toward zero and saturate; BOOL stores 1 for any non-zero value).
     *
     * @throws UnsupportedOperationException if this tensor is read-only
     */
    public void fill(double value) {
        checkUsable();
        checkWritable();
        if (!storage.isHost()) {
            withHostStaging(staging -> staging.fill(value));
            return;
        }
        MemorySegment segment = storage.hostSegment();
        int elementByteSize = dtype.byteSize();
        if (contiguous) {
            if (byteSize == 0) {
                return;
            }
            Elements.write(segment, byteOffset, dtype, value);
            if (elementByteSize == 1) {
                segment.asSlice(byteOffset, byteSize).fill(segment.get(Elements.BYTE, byteOffset));
                return;
            }
            long filled = elementByteSize;
            while (filled < byteSize) {
                long chunk = Math.min(filled, byteSize - filled);
                MemorySegment.copy(segment, byteOffset, segment, byteOffset + filled, chunk);
                filled += chunk;
            }
            return;
        }
        long[] byteStrides = Strided.byteStrides(strides, elementByteSize);
        Strided.forEachPair(shape.dimsUnsafe(), byteStrides, byteOffset, byteStrides, byteOffset,
                (ordinal, offset, unused) -> Elements.write(segment, offset, dtype, value));
    }

    /**
     * Fills with a deterministic pseudo-random sequence for {@code seed} in row-major element order (the same values
     * for any layout and device): floats uniform in [-1, 1), signed integers in [-8, 8), U8 in [0, 16), BOOL 0 or 1.
     *
     * @throws UnsupportedOperationException if this tensor is read-only
     */
    public void fillRandom(long seed) {
        checkUsable();
        checkWritable();
        if (!storage.isHost()) {
            withHostStaging(staging -> staging.fillRandom(seed));
            return;
        }
        MemorySegment segment = storage.hostSegment();
        SplittableRandom random = new SplittableRandom(seed);
        long[] byteStrides = Strided.byteStrides(strides, dtype.byteSize());
        Strided.forEachPair(shape.dimsUnsafe(), byteStrides, byteOffset, byteStrides, byteOffset,
                (ordinal, offset, unused) -> Elements.writeRandom(segment, offset, dtype, random));
    }

    /**
     * The element at {@code index} (one index per dimension) as a double (I64 beyond 2^53 loses precision).
     *
     * @throws IndexOutOfBoundsException if the index count or an index is out of range
     */
    public double getDouble(long... index) {
        checkUsable();
        long offset = elementOffset(index);
        if (storage.isHost()) {
            return Elements.read(storage.hostSegment(), offset, dtype);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(dtype.byteSize(), 8);
            DeviceMemory.copy(staging, pointer(offset, dtype.byteSize()), dtype.byteSize());
            return Elements.read(staging, 0, dtype);
        }
    }

    /**
     * Sets the element at {@code index} to {@code value} converted to the dtype (as in {@link #fill}).
     *
     * @throws IndexOutOfBoundsException if the index count or an index is out of range
     * @throws UnsupportedOperationException if this tensor is read-only
     */
    public void setDouble(double value, long... index) {
        checkUsable();
        checkWritable();
        long offset = elementOffset(index);
        if (storage.isHost()) {
            Elements.write(storage.hostSegment(), offset, dtype, value);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(dtype.byteSize(), 8);
            Elements.write(staging, 0, dtype, value);
            DeviceMemory.copy(pointer(offset, dtype.byteSize()), staging, dtype.byteSize());
        }
    }

    /**
     * Whether {@code other} has the same dtype, shape and bytes element by element, in any layouts and on any
     * devices (bitwise: {@code -0.0 != 0.0}, a NaN equals the same NaN bits).
     */
    public boolean contentEquals(Tensor other) {
        checkUsable();
        other.checkUsable();
        if (dtype != other.dtype || !shape.equals(other.shape)) {
            return false;
        }
        if (!storage.isHost() || !other.storage.isHost()) {
            try (Arena arena = Arena.ofConfined()) {
                return hostView(arena).contentEquals(other.hostView(arena));
            }
        }
        int elementByteSize = dtype.byteSize();
        if (contiguous && other.contiguous) {
            return MemorySegment.mismatch(storage.hostSegment(), byteOffset, byteOffset + byteSize,
                    other.storage.hostSegment(), other.byteOffset, other.byteOffset + byteSize) == -1;
        }
        return Strided.equalHost(storage.hostSegment(), byteOffset, Strided.byteStrides(strides, elementByteSize),
                other.storage.hostSegment(), other.byteOffset, Strided.byteStrides(other.strides, elementByteSize),
                shape.dimsUnsafe(), elementByteSize);
    }

    /**
     * Whether {@code other} has the same shape and every pair of elements satisfies
     * {@code |a - b| <= atol + rtol * |b|} (NumPy's rule; equal infinities match, NaN matches nothing); dtypes may
     * differ. False for different shapes.
     */
    public boolean allClose(Tensor other, double rtol, double atol) {
        checkUsable();
        other.checkUsable();
        if (!shape.equals(other.shape)) {
            return false;
        }
        if (!storage.isHost() || !other.storage.isHost()) {
            try (Arena arena = Arena.ofConfined()) {
                return hostView(arena).allClose(other.hostView(arena), rtol, atol);
            }
        }
        MemorySegment a = storage.hostSegment();
        MemorySegment b = other.storage.hostSegment();
        DType typeB = other.dtype;
        boolean[] close = {true};
        Strided.forEachPair(shape.dimsUnsafe(), Strided.byteStrides(strides, dtype.byteSize()), byteOffset,
                Strided.byteStrides(other.strides, typeB.byteSize()), other.byteOffset, (ordinal, offsetA, offsetB) -> {
                    if (close[0]) {
                        double x = Elements.read(a, offsetA, dtype);
                        double y = Elements.read(b, offsetB, typeB);
                        close[0] = x == y || (Double.isFinite(x) && Double.isFinite(y)
                                && Math.abs(x - y) <= atol + rtol * Math.abs(y));
                    }
                });
        return close[0];
    }

    /**
     * Frees the storage if this tensor owns it; a view only becomes unusable. Views of freed storage throw
     * IllegalStateException on use.
     *
     * @throws IllegalStateException if this tensor is already closed
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("tensor already closed: " + fields());
            }
            closed = true;
        }
        if (owner) {
            storage.close();
        }
    }

    /** Whether {@link #close()} was called on this tensor (a view's storage may be freed while it is open). */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "Tensor[" + fields() + "]";
    }

    // ---- package-private helpers ----

    /**
     * A view with explicit strides (elements, non-negative) and byte offset into this tensor's storage, for layouts
     * the public views cannot express (a transpose, a broadcast with stride 0).
     *
     * @throws IndexOutOfBoundsException if the view reaches outside the storage
     */
    Tensor asStrided(Shape newShape, long[] newStrides, long newByteOffset) {
        checkUsable();
        if (newStrides.length != newShape.rank()) {
            throw new IllegalArgumentException("strides rank mismatch: shape=" + newShape + ", strides="
                    + Arrays.toString(newStrides));
        }
        Tensor view = new Tensor(storage, dtype, newShape, newStrides.clone(), newByteOffset, false);
        for (long stride : newStrides) {
            if (stride < 0) {
                throw new IllegalArgumentException("negative stride: strides=" + Arrays.toString(newStrides));
            }
        }
        if (newByteOffset < 0 || (newShape.numel() > 0 && newByteOffset + view.spanByteSize() > storage.byteSize())) {
            throw new IndexOutOfBoundsException("strided view outside storage: shape=" + newShape + ", strides="
                    + Arrays.toString(newStrides) + ", byteOffset=" + newByteOffset + ", storageByteSize="
                    + storage.byteSize());
        }
        return view;
    }

    Storage storage() {
        return storage;
    }

    void checkUsable() {
        if (closed) {
            throw new IllegalStateException("tensor used after close: " + fields());
        }
        if (storage.closed()) {
            throw new IllegalStateException("tensor used after free: " + fields() + ", " + storage.origin());
        }
    }

    private void checkWritable() {
        if (storage.readOnly()) {
            throw new UnsupportedOperationException("tensor is read-only: " + fields() + ", " + storage.origin());
        }
    }

    private String fields() {
        return "dtype=" + dtype + ", shape=" + shape + ", device=" + storage.device();
    }

    private void checkDim(int dim) {
        if (dim < 0 || dim >= shape.rank()) {
            throw new IndexOutOfBoundsException("dimension out of range: dim=" + dim + ", rank=" + shape.rank());
        }
    }

    private long elementOffset(long[] index) {
        long[] dims = shape.dimsUnsafe();
        if (index.length != dims.length) {
            throw new IndexOutOfBoundsException("index rank mismatch: index=" + Arrays.toString(index)
                    + ", shape=" + shape);
        }
        long elements = 0;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= dims[i]) {
                throw new IndexOutOfBoundsException("index out of range: index=" + Arrays.toString(index)
                        + ", shape=" + shape);
            }
            elements += index[i] * strides[i];
        }
        return byteOffset + elements * dtype.byteSize();
    }

    /** Bytes from the first element to the end of the last one, given non-negative strides. */
    private long spanByteSize() {
        if (numel() == 0) {
            return 0;
        }
        long last = 0;
        long[] dims = shape.dimsUnsafe();
        for (int i = 0; i < dims.length; i++) {
            last += (dims[i] - 1) * strides[i];
        }
        return (last + 1) * dtype.byteSize();
    }

    private long address(long storageByteOffset) {
        return storage.isHost() ? storage.hostSegment().address() + storageByteOffset
                : storage.deviceAddress() + storageByteOffset;
    }

    /** Memory at a storage offset for a native copy: a host slice, or a zero-length device address segment. */
    private MemorySegment pointer(long storageByteOffset, long length) {
        if (storage.isHost()) {
            return storage.hostSegment().asSlice(storageByteOffset, length);
        }
        return MemorySegment.ofAddress(storage.deviceAddress() + storageByteOffset);
    }

    /** This tensor itself if it is on the host, else a contiguous host copy in {@code arena}. */
    private Tensor hostView(Arena arena) {
        if (storage.isHost()) {
            return this;
        }
        Tensor staging = wrap(arena.allocate(Math.max(byteSize, 1), Allocator.HOST_ALIGNMENT_BYTES), dtype, shape);
        staging.copyFrom(this);
        return staging;
    }

    private void withHostStaging(java.util.function.Consumer<Tensor> action) {
        try (Arena arena = Arena.ofConfined()) {
            Tensor staging = wrap(arena.allocate(Math.max(byteSize, 1), Allocator.HOST_ALIGNMENT_BYTES), dtype, shape);
            action.accept(staging);
            copyFrom(staging);
        }
    }

    static long byteSizeOf(DType dtype, Shape shape) {
        try {
            return Math.multiplyExact(shape.numel(), (long) dtype.byteSize());
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException("tensor byte size overflows a long: dtype=" + dtype + ", shape=" + shape);
        }
    }

    static String describe(DType dtype, Shape shape, Device device) {
        return "tensor dtype=" + dtype + ", shape=" + shape + ", device=" + device;
    }

    private static boolean computeContiguous(long[] dims, long[] strides) {
        long expected = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            if (dims[i] == 0) {
                return true;
            }
            if (dims[i] != 1 && strides[i] != expected) {
                return false;
            }
            expected *= dims[i];
        }
        return true;
    }

    /**
     * Strides for viewing a strided layout under a new shape without copying, or null if impossible (the algorithm
     * of PyTorch's {@code computeStride}: each run of old dimensions that is contiguous in memory may be regrouped).
     */
    static long[] viewStrides(long[] oldDims, long[] oldStrides, long[] newDims) {
        long[] newStrides = new long[newDims.length];
        if (oldDims.length == 0) {
            Arrays.fill(newStrides, 1);
            return newStrides;
        }
        int viewDim = newDims.length - 1;
        long chunkBaseStride = oldStrides[oldStrides.length - 1];
        long tensorNumel = 1;
        long viewNumel = 1;
        for (int tensorDim = oldDims.length - 1; tensorDim >= 0; tensorDim--) {
            tensorNumel *= oldDims[tensorDim];
            if (tensorDim == 0 || (oldDims[tensorDim - 1] != 1
                    && oldStrides[tensorDim - 1] != tensorNumel * chunkBaseStride)) {
                while (viewDim >= 0 && (viewNumel < tensorNumel || newDims[viewDim] == 1)) {
                    newStrides[viewDim] = viewNumel * chunkBaseStride;
                    viewNumel *= newDims[viewDim];
                    viewDim--;
                }
                if (viewNumel != tensorNumel) {
                    return null;
                }
                if (tensorDim > 0) {
                    chunkBaseStride = oldStrides[tensorDim - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewDim == -1 ? newStrides : null;
    }
}
