package io.yatt.bench.controller;

import io.yatt.controller.ReferenceRegistry;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The data plane of workers that are threads of one JVM: a producer's off-heap region is readable by every consumer
 * in the JVM, so a pull is one copy out of the owner's region; the owner's {@link ReferenceRegistry} is told when a
 * consumer has its bytes. Region ids are unique in the JVM. Thread-safe.
 */
final class LocalRegions {

    /** A producer's region and the registry that frees it. */
    record Region(MemorySegment segment, ReferenceRegistry owner) {
    }

    private final ConcurrentHashMap<Long, Region> regions = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong();

    /** Adds a region and returns its id. */
    long add(MemorySegment segment, ReferenceRegistry owner) {
        long id = nextId.getAndIncrement();
        regions.put(id, new Region(segment, owner));
        return id;
    }

    /**
     * The region with this id.
     *
     * @throws IllegalArgumentException if there is none (freed, or never added)
     */
    Region get(long regionId) {
        Region r = regions.get(regionId);
        if (r == null) {
            throw new IllegalArgumentException("no such region: regionId=" + regionId + ", live=" + regions.size());
        }
        return r;
    }

    void remove(long regionId) {
        regions.remove(regionId);
    }

    int size() {
        return regions.size();
    }
}
