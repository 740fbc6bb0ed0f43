package io.yatt.collectives.shm;

import io.yatt.collectives.SharedMemory;
import io.yatt.tensor.Allocator;
import java.lang.foreign.MemorySegment;

/** {@link SharedMemory} of a {@link ShmWorld}: holds one reference on the world, so its regions stay mapped. */
final class ShmSharedMemory implements SharedMemory {
    private final ShmWorld world;
    private final long arenaStart;
    private boolean closed;

    private ShmSharedMemory(ShmWorld world) {
        this.world = world;
        this.arenaStart = ShmCommDescriptor.arenaOffset(world.size);
    }

    /** A view of {@code world} holding a reference on it. */
    static ShmSharedMemory of(ShmWorld world) {
        world.retain();
        return new ShmSharedMemory(world);
    }

    @Override
    public String worldId() {
        return world.instanceId;
    }

    @Override
    public int rank() {
        return world.rank;
    }

    @Override
    public int size() {
        return world.size;
    }

    @Override
    public synchronized Allocator allocator(String name) {
        checkOpen();
        return Allocator.root(name, Allocator.UNLIMITED, new ShmCommunicator.ArenaMemory(world));
    }

    @Override
    public long arenaUsedBytes() {
        return world.arena.usedBytes();
    }

    @Override
    public long offsetOf(MemorySegment bytes) {
        long offset = bytes.address() - world.bases[world.rank];
        if (offset < arenaStart || offset > world.byteSizes[world.rank] - bytes.byteSize()) {
            return -1;
        }
        return offset;
    }

    @Override
    public synchronized MemorySegment peerBytes(int rank, long offset, long byteSize) {
        checkOpen();
        checkRank(rank);
        if (byteSize < 0 || offset < arenaStart || offset > world.byteSizes[rank] - byteSize) {
            throw new IllegalArgumentException("bytes outside the rank's shared arena: rank=" + rank + ", offset="
                + offset + ", byteSize=" + byteSize + ", expected within [" + arenaStart + ", "
                + world.byteSizes[rank] + ")");
        }
        return world.segs[rank].asSlice(offset, byteSize);
    }

    @Override
    public boolean isAlive(int rank) {
        checkRank(rank);
        return world.isAlive(rank);
    }

    @Override
    public long pid(int rank) {
        checkRank(rank);
        return world.pids[rank];
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        world.release();
    }

    private void checkRank(int rank) {
        if (rank < 0 || rank >= world.size) {
            throw new IllegalArgumentException("rank not in the shm world: rank=" + rank + ", worldSize="
                + world.size);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("shared memory view closed: rank=" + world.rank + ", world="
                + world.instanceId);
        }
    }

    @Override
    public String toString() {
        return "SharedMemory{world=" + world.instanceId + ", rank=" + world.rank + ", size=" + world.size + "}";
    }
}
