package io.yatt.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Where a root {@link Allocator}'s host memory comes from, for memory other than a fresh {@code Arena} per tensor:
 * the shm collectives backend supplies its shared arena, so tensors land where peer processes read them in place.
 * The allocator tree still accounts, limits and frees every tensor. Implementations must be thread-safe.
 */
public interface HostMemory {
    /**
     * A zeroed segment of {@code byteSize} bytes whose address is a multiple of {@code alignmentBytes}.
     *
     * @throws IllegalStateException if there is no room
     */
    MemorySegment allocate(long byteSize, long alignmentBytes);

    /**
     * Returns a segment obtained from {@link #allocate}; called exactly once per segment, when its tensor's storage
     * is closed.
     */
    void free(MemorySegment segment);
}
