package io.yatt.collectives.shm;

import io.yatt.collectives.ShmContext;
import java.util.Map;
import java.util.TreeMap;

/**
 * First-fit allocator of byte ranges inside this rank's own region (the arena part). Offsets are relative to the
 * region start, aligned to {@link ShmCommDescriptor#ARENA_ALIGNMENT}; peers resolve them in their own mapping of the
 * region. Thread-safe (synchronized); not on the data path.
 */
final class ShmArena {
    private final long start;
    private final long end;
    private final TreeMap<Long, Long> free = new TreeMap<>(); // offset -> bytes
    private final TreeMap<Long, Long> used = new TreeMap<>();
    private long usedBytes;
    private long peakBytes;

    ShmArena(long start, long end) {
        this.start = start;
        this.end = end;
        if (end > start) {
            free.put(start, end - start);
        }
    }

    /**
     * Reserves {@code byteSize} bytes (rounded up to the alignment; 0 reserves one unit so every allocation has a
     * distinct offset).
     *
     * @throws IllegalStateException if the arena has no free range that large
     */
    synchronized long allocate(long byteSize) {
        long size = Math.max(ShmCommDescriptor.ARENA_ALIGNMENT,
            (byteSize + ShmCommDescriptor.ARENA_ALIGNMENT - 1) / ShmCommDescriptor.ARENA_ALIGNMENT
                * ShmCommDescriptor.ARENA_ALIGNMENT);
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            if (e.getValue() >= size) {
                long offset = e.getKey();
                free.remove(offset);
                if (e.getValue() > size) {
                    free.put(offset + size, e.getValue() - size);
                }
                used.put(offset, size);
                usedBytes += size;
                peakBytes = Math.max(peakBytes, usedBytes);
                return offset;
            }
        }
        throw new IllegalStateException("shm arena exhausted: requested=" + byteSize + ", usedBytes=" + usedBytes
            + ", capacityBytes=" + (end - start) + "; raise ShmContext.arenaBytes");
    }

    /**
     * Returns a range obtained from {@link #allocate(long)}.
     *
     * @throws IllegalArgumentException if {@code offset} is not an allocated range
     */
    synchronized void free(long offset) {
        Long size = used.remove(offset);
        if (size == null) {
            throw new IllegalArgumentException("not an arena allocation: offset=" + offset);
        }
        usedBytes -= size;
        long off = offset;
        long len = size;
        Map.Entry<Long, Long> next = free.ceilingEntry(off);
        if (next != null && next.getKey() == off + len) {
            len += next.getValue();
            free.remove(next.getKey());
        }
        Map.Entry<Long, Long> prev = free.floorEntry(off);
        if (prev != null && prev.getKey() + prev.getValue() == off) {
            off = prev.getKey();
            len += prev.getValue();
        }
        free.put(off, len);
    }

    synchronized boolean isAllocated(long offset) {
        return used.containsKey(offset);
    }

    synchronized long usedBytes() {
        return usedBytes;
    }

    synchronized long peakBytes() {
        return peakBytes;
    }

    long capacityBytes() {
        return end - start;
    }
}
