package io.yatt.collectives.shm;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A file in /dev/shm mapped into this process as a {@link MemorySegment}. The creating process is the owner: its
 * pid sits in the header ({@link ShmRegionDescriptor}) so that {@link ShmSweeper} can remove the file if the owner
 * dies, and the owner unlinks the file as soon as every peer has mapped it ({@link #unlink()}); the mappings stay
 * valid, so nothing is left in /dev/shm even if a process is killed later.
 *
 * <p>The mapping is shared between threads; {@link #close()} unmaps it (a second close throws).
 */
public final class ShmRegion implements AutoCloseable {
    static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;
    private final boolean owner;
    private boolean unlinked;
    private boolean closed;

    private ShmRegion(Path path, Arena arena, MemorySegment segment, boolean owner) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
        this.owner = owner;
    }

    /**
     * Creates {@code path} (which must not exist) with {@code byteSize} bytes (sparse: pages cost memory when touched),
     * maps it and writes the header with this process as owner.
     *
     * @throws IllegalArgumentException if {@code byteSize} is smaller than the header or the name lacks the prefix
     * @throws IllegalStateException if the file exists or cannot be created or mapped
     */
    public static ShmRegion create(Path path, long byteSize, int rank, int worldSize) {
        Objects.requireNonNull(path, "path");
        if (byteSize < ShmRegionDescriptor.HEADER_LENGTH) {
            throw new IllegalArgumentException("region too small: byteSize=" + byteSize + ", minimum="
                + ShmRegionDescriptor.HEADER_LENGTH);
        }
        if (!path.getFileName().toString().startsWith(ShmRegionDescriptor.NAME_PREFIX)) {
            throw new IllegalArgumentException("region name must start with " + ShmRegionDescriptor.NAME_PREFIX
                + ": path=" + path);
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
            // write the owner pid first through the channel, so a sweeper never sees an ownerless non-empty file
            MemorySegment seg;
            try {
                ch.truncate(0);
                java.nio.ByteBuffer pid = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                pid.putLong(0, ProcessHandle.current().pid());
                ch.write(pid, ShmRegionDescriptor.OWNER_PID_OFFSET);
                // RandomAccess-style extension: position a byte at the end
                ch.write(java.nio.ByteBuffer.allocate(1), byteSize - 1);
                seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, byteSize, arena);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(path);
                throw e;
            }
            seg.set(ValueLayout.JAVA_INT, ShmRegionDescriptor.VERSION_OFFSET, ShmRegionDescriptor.VERSION);
            seg.set(ValueLayout.JAVA_INT, ShmRegionDescriptor.HEADER_LENGTH_OFFSET, ShmRegionDescriptor.HEADER_LENGTH);
            seg.set(ValueLayout.JAVA_LONG, ShmRegionDescriptor.OWNER_PID_OFFSET, ProcessHandle.current().pid());
            seg.set(ValueLayout.JAVA_LONG, ShmRegionDescriptor.REGION_BYTES_OFFSET, byteSize);
            seg.set(ValueLayout.JAVA_LONG, ShmRegionDescriptor.CREATED_EPOCH_MS_OFFSET, System.currentTimeMillis());
            seg.set(ValueLayout.JAVA_INT, ShmRegionDescriptor.RANK_OFFSET, rank);
            seg.set(ValueLayout.JAVA_INT, ShmRegionDescriptor.WORLD_SIZE_OFFSET, worldSize);
            LONG.setRelease(seg, (long) ShmRegionDescriptor.MAGIC_OFFSET, ShmRegionDescriptor.MAGIC);
            return new ShmRegion(path, arena, seg, true);
        } catch (FileAlreadyExistsException e) {
            arena.close();
            throw new IllegalStateException("shm region exists: path=" + path, e);
        } catch (IOException e) {
            arena.close();
            throw new IllegalStateException("shm region create failed: path=" + path + ", byteSize=" + byteSize
                + ", error=" + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Maps an existing region created by another process and checks its header.
     *
     * @throws IllegalStateException if the file is missing, not a Yatt region, or of another layout version
     */
    public static ShmRegion attach(Path path) {
        Objects.requireNonNull(path, "path");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            if (size < ShmRegionDescriptor.HEADER_LENGTH) {
                throw new IllegalStateException("not a yatt shm region: path=" + path + ", byteSize=" + size);
            }
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            long magic = (long) LONG.getAcquire(seg, (long) ShmRegionDescriptor.MAGIC_OFFSET);
            int version = seg.get(ValueLayout.JAVA_INT, ShmRegionDescriptor.VERSION_OFFSET);
            if (magic != ShmRegionDescriptor.MAGIC || version != ShmRegionDescriptor.VERSION) {
                throw new IllegalStateException("not a yatt shm region: path=" + path + ", magic=0x"
                    + Long.toHexString(magic) + ", version=" + version + ", expected version="
                    + ShmRegionDescriptor.VERSION);
            }
            return new ShmRegion(path, arena, seg, false);
        } catch (IOException e) {
            arena.close();
            throw new IllegalStateException("shm region attach failed: path=" + path + ", error=" + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The mapped bytes, header included. */
    public MemorySegment segment() {
        return segment;
    }

    /** The file this region was created from (it may already be unlinked). */
    public Path path() {
        return path;
    }

    /** Total bytes, header included. */
    public long byteSize() {
        return segment.byteSize();
    }

    /** Whether this process created the region. */
    public boolean isOwner() {
        return owner;
    }

    /** The owner's pid, from the header. */
    public long ownerPid() {
        return segment.get(ValueLayout.JAVA_LONG, ShmRegionDescriptor.OWNER_PID_OFFSET);
    }

    /** Whether the file is already unlinked by this process. */
    public boolean isUnlinked() {
        return unlinked;
    }

    /**
     * Removes the file from /dev/shm; the mapping stays valid until {@link #close()}. Only the owner unlinks; a second
     * call does nothing.
     *
     * @throws IllegalStateException if this process is not the owner
     */
    public void unlink() {
        if (!owner) {
            throw new IllegalStateException("only the owner unlinks a shm region: path=" + path);
        }
        if (unlinked) {
            return;
        }
        unlinked = true;
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new IllegalStateException("shm region unlink failed: path=" + path + ", error=" + e, e);
        }
    }

    /**
     * Unmaps the region; the owner also unlinks the file if it has not yet done so.
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("shm region already closed: path=" + path);
        }
        closed = true;
        try {
            if (owner && !unlinked) {
                unlinked = true;
                Files.deleteIfExists(path);
            }
        } catch (IOException ignored) {
            // the sweeper removes it later (owner pid dead)
        } finally {
            arena.close();
        }
    }

    /** Whether {@link #close()} ran. */
    public boolean isClosed() {
        return closed;
    }
}
