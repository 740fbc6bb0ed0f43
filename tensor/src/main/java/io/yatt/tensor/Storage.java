package io.yatt.tensor;

import java.lang.foreign.MemorySegment;

/**
 * One block of memory that tensors view: host memory (an Arena segment, pinned memory, a mapped file or a wrapped
 * segment) or device memory (an address on one CUDA device). Owned storage is freed exactly once through its
 * release action; after that every tensor over it fails with an IllegalStateException naming it.
 */
final class Storage {
    private final Device device;
    private final MemorySegment hostSegment;
    private final long deviceAddress;
    private final long byteSize;
    private final Allocator allocator;
    private final String origin;
    private final boolean readOnly;
    private final AutoCloseable release;
    private final Throwable allocationSite;
    private volatile boolean closed;

    private Storage(Device device, MemorySegment hostSegment, long deviceAddress, long byteSize, Allocator allocator,
                    String origin, boolean readOnly, AutoCloseable release, Throwable allocationSite) {
        this.device = device;
        this.hostSegment = hostSegment;
        this.deviceAddress = deviceAddress;
        this.byteSize = byteSize;
        this.allocator = allocator;
        this.origin = origin;
        this.readOnly = readOnly;
        this.release = release;
        this.allocationSite = allocationSite;
    }

    /** Host memory owned by an allocator; {@code release} frees it. */
    static Storage host(MemorySegment segment, Allocator allocator, AutoCloseable release, Throwable site) {
        return new Storage(Device.host(), segment, 0, segment.byteSize(), allocator,
                "allocator=" + allocator.name(), false, release, site);
    }

    /** Device memory owned by an allocator; {@code release} returns it to the caching pool. */
    static Storage device(Device device, long address, long byteSize, Allocator allocator, AutoCloseable release,
                          Throwable site) {
        return new Storage(device, null, address, byteSize, allocator, "allocator=" + allocator.name(), false,
                release, site);
    }

    /** Host memory this library does not own (a wrapped segment or a mapped file). */
    static Storage external(MemorySegment segment, String origin, boolean readOnly) {
        return new Storage(Device.host(), segment, 0, segment.byteSize(), null, origin,
                readOnly || segment.isReadOnly(), null, null);
    }

    Device device() {
        return device;
    }

    boolean isHost() {
        return hostSegment != null;
    }

    /** The whole host segment; callers check {@link #closed()} first. */
    MemorySegment hostSegment() {
        return hostSegment;
    }

    long deviceAddress() {
        return deviceAddress;
    }

    long byteSize() {
        return byteSize;
    }

    Allocator allocator() {
        return allocator;
    }

    String origin() {
        return origin;
    }

    boolean readOnly() {
        return readOnly;
    }

    /** The pool allocation behind device storage, else null. */
    DeviceMemory.Allocation deviceAllocation() {
        return release instanceof DeviceMemory.Allocation allocation ? allocation : null;
    }

    boolean closed() {
        return closed;
    }

    Throwable allocationSite() {
        return allocationSite;
    }

    /** Marks the storage closed (so tensors over it report use after free) and frees owned memory. */
    void close() {
        closed = true;
        if (allocator != null) {
            allocator.released(this);
        }
        if (release != null) {
            try {
                release.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("failed to free storage: " + origin + ", byteSize=" + byteSize, e);
            }
        }
    }

    /** Marks external storage closed without freeing anything (its owner frees it). */
    void markClosed() {
        closed = true;
    }
}
