package io.yatt.ffi.cuda;

import io.yatt.ffi.cuda.raw.CudaRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Page-locked host memory from {@code cudaHostAlloc} (portable: pinned for every device), for fast
 * asynchronous copies. {@link #segment()} is host-accessible and becomes inaccessible at
 * {@link #close()}, so a use after free throws instead of crashing. A buffer that becomes unreachable
 * unclosed is reported as a leak. Safe to share between threads; {@code close()} exactly once.
 */
@SuppressWarnings("restricted")
public final class PinnedHostBuffer implements AutoCloseable {
    private final long address;
    private final long byteSize;
    private final Arena arena;
    private final MemorySegment segment;
    private final Leaks.Tracker tracker;

    PinnedHostBuffer(long address, long byteSize) {
        this.address = address;
        this.byteSize = byteSize;
        this.arena = Arena.ofShared();
        this.segment = MemorySegment.ofAddress(address).reinterpret(byteSize, arena, null);
        this.tracker = Leaks.track(this, "PinnedHostBuffer: " + describe(address, byteSize));
    }

    /**
     * Allocates pinned host memory ({@code cudaHostAlloc}, {@code cudaHostAllocPortable}).
     *
     * @param byteSize bytes to allocate
     * @return the buffer, owned by the caller
     * @throws IllegalArgumentException when {@code byteSize} is negative
     * @throws CudaException when the allocation fails or there is no driver
     */
    public static PinnedHostBuffer allocate(long byteSize) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize must not be negative: byteSize=" + byteSize);
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            Check.cuda(CudaRuntime.cudaHostAlloc(out, byteSize, CudaRuntime.cudaHostAllocPortable), "cudaHostAlloc",
                    "byteSize", byteSize);
            return new PinnedHostBuffer(out.get(ADDRESS, 0).address(), byteSize);
        }
    }

    /** @return the memory, {@link #byteSize()} long, accessible until {@link #close()} */
    public MemorySegment segment() {
        return segment;
    }

    /** @return the size in bytes */
    public long byteSize() {
        return byteSize;
    }

    /** @return the host address */
    public long address() {
        return address;
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return tracker.isClosed();
    }

    /**
     * Frees the memory ({@code cudaFreeHost}).
     *
     * @throws IllegalStateException when already closed
     * @throws CudaException when the runtime reports an error (the buffer is closed regardless)
     */
    @Override
    public void close() {
        if (!tracker.close()) {
            throw new IllegalStateException("PinnedHostBuffer already closed: " + describe(address, byteSize));
        }
        arena.close();
        if (address != 0) {
            Check.cuda(CudaRuntime.cudaFreeHost(MemorySegment.ofAddress(address)), "cudaFreeHost", "address", address,
                    "byteSize", byteSize);
        }
    }

    @Override
    public String toString() {
        return "PinnedHostBuffer: " + describe(address, byteSize);
    }

    private static String describe(long address, long byteSize) {
        return "address=0x" + Long.toHexString(address) + ", byteSize=" + byteSize;
    }
}
