package io.yatt.collectives;

import io.yatt.tensor.Allocator;
import java.lang.foreign.MemorySegment;

/**
 * The shared host memory of a shm world as code outside the collectives uses it: every rank's region is mapped in
 * every rank's process, so a rank reads bytes a peer keeps in its arena in place, with no copy through a socket. Got
 * from {@link Communicators#sharedMemory(Communicator)}; keeps the world's mappings valid until closed. Thread-safe.
 */
public interface SharedMemory extends AutoCloseable {

    /** This world instance's identity (job id and a nonce drawn when it was created): equal on its ranks only. */
    String worldId();

    /** This process's rank in the world. */
    int rank();

    /** Number of ranks in the world. */
    int size();

    /**
     * A root allocator whose host tensors live in this rank's arena, where every peer can read them; freed to the
     * arena when closed.
     *
     * @throws IllegalArgumentException if the name is empty or contains '/'
     * @throws IllegalStateException if this view is closed
     */
    Allocator allocator(String name);

    /** Bytes of this rank's arena in use. */
    long arenaUsedBytes();

    /**
     * The offset of {@code bytes} in this rank's region (what a peer passes to {@link #peerBytes}), or -1 when they do
     * not lie in this rank's arena.
     */
    long offsetOf(MemorySegment bytes);

    /**
     * The bytes {@code [offset, offset + byteSize)} of rank {@code rank}'s arena, read in place (valid while this view
     * is open).
     *
     * @throws IllegalArgumentException if the rank is not in the world or the bytes do not lie in its arena
     * @throws IllegalStateException if this view is closed
     */
    MemorySegment peerBytes(int rank, long offset, long byteSize);

    /**
     * Whether rank {@code rank}'s process is alive.
     *
     * @throws IllegalArgumentException if the rank is not in the world
     */
    boolean isAlive(int rank);

    /**
     * The pid of rank {@code rank}'s process.
     *
     * @throws IllegalArgumentException if the rank is not in the world
     */
    long pid(int rank);

    /** Releases this view's hold on the mappings (they are unmapped when the world's last holder lets go). */
    @Override
    void close();
}
