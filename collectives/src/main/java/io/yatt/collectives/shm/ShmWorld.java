package io.yatt.collectives.shm;

import io.yatt.collectives.ShmContext;
import io.yatt.collectives.rendezvous.Rendezvous;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The process-level state of a shm job: this rank's region (owned) and every peer's region (attached), the pids of
 * all ranks, the arena allocator of the own region, and the channel ids handed out to communicators. Created once
 * by {@code ShmCommunicator.create}; released when the last communicator on it closes or aborts.
 */
final class ShmWorld {
    final int rank;
    final int size;
    final long[] pids;
    final ShmRegion[] regions;
    final MemorySegment[] segs;
    final long[] bases;
    final long[] byteSizes;
    final ShmArena arena;
    final ShmContext context;
    final boolean oversubscribed;
    /** This world instance's identity: the job id and the nonce rank 0 drew, the same on every rank. */
    final String instanceId;
    private final ProcessHandle[] handles;
    private int nextChannel = 1;
    private int references;
    private volatile boolean released;

    private ShmWorld(int rank, int size, long[] pids, ShmRegion[] regions, ShmContext context, String instanceId) {
        this.rank = rank;
        this.instanceId = instanceId;
        this.size = size;
        this.pids = pids;
        this.regions = regions;
        this.context = context;
        this.segs = new MemorySegment[size];
        this.bases = new long[size];
        this.byteSizes = new long[size];
        for (int i = 0; i < size; i++) {
            segs[i] = regions[i].segment();
            bases[i] = segs[i].address();
            byteSizes[i] = segs[i].byteSize();
        }
        this.handles = new ProcessHandle[size];
        for (int i = 0; i < size; i++) {
            handles[i] = ProcessHandle.of(pids[i]).orElse(null);
        }
        this.arena = new ShmArena(ShmCommDescriptor.arenaOffset(size), segs[rank].byteSize());
        int localRanks = context.localWorldSize() > 0 ? context.localWorldSize() : size;
        // a rank pinned to one core sees availableProcessors() == 1: pinned ranks are not oversubscribed
        this.oversubscribed = !context.boundToCores() && localRanks > Runtime.getRuntime().availableProcessors();
    }

    /**
     * Creates this rank's region, exchanges names and pids through the rendezvous, attaches every peer's region,
     * waits until all ranks attached and unlinks the own file. On any failure every file of this job instance that
     * this process can see is removed.
     */
    static ShmWorld create(Rendezvous rendezvous, ShmContext context) {
        int rank = rendezvous.rank();
        int size = rendezvous.worldSize();
        if (size > ShmCommDescriptor.MAX_RANKS) {
            throw new IllegalArgumentException("shm world too large: worldSize=" + size + ", max="
                + ShmCommDescriptor.MAX_RANKS);
        }
        Path dir = context.directory();
        ShmSweeper.sweep(dir);
        byte[] nonce = new byte[6];
        new SecureRandom().nextBytes(nonce);
        String instance = new String(rendezvous.broadcast("shm/instance",
            HexFormat.of().formatHex(nonce).getBytes(StandardCharsets.UTF_8), 0), StandardCharsets.UTF_8);
        String prefix = ShmRegionDescriptor.NAME_PREFIX + rendezvous.config().jobId() + "-";
        Path own = dir.resolve(prefix + rank + "-comm-" + instance);
        long regionBytes = ShmCommDescriptor.arenaOffset(size) + context.arenaBytes();
        ShmRegion[] regions = new ShmRegion[size];
        List<Path> names = new ArrayList<>();
        names.add(own);
        try {
            regions[rank] = ShmRegion.create(own, regionBytes, rank, size);
            ByteBuffer info = ByteBuffer.allocate(8 + own.toString().getBytes(StandardCharsets.UTF_8).length);
            info.putLong(ProcessHandle.current().pid()).put(own.toString().getBytes(StandardCharsets.UTF_8));
            byte[][] all = rendezvous.allGather("shm/regions", info.array());
            long[] pids = new long[size];
            for (int i = 0; i < size; i++) {
                ByteBuffer b = ByteBuffer.wrap(all[i]);
                pids[i] = b.getLong();
                byte[] name = new byte[b.remaining()];
                b.get(name);
                Path p = Path.of(new String(name, StandardCharsets.UTF_8));
                names.add(p);
                if (i != rank) {
                    regions[i] = ShmRegion.attach(p);
                }
            }
            rendezvous.barrier("shm/attached");
            regions[rank].unlink();
            return new ShmWorld(rank, size, pids, regions, context, rendezvous.config().jobId() + "-" + instance);
        } catch (RuntimeException e) {
            for (ShmRegion r : regions) {
                if (r != null && !r.isClosed()) {
                    r.close();
                }
            }
            for (Path p : names) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // the sweeper removes it once its owner is gone
                }
            }
            throw e;
        }
    }

    synchronized void retain() {
        references++;
    }

    /** Drops one reference; the last one unmaps every region. */
    synchronized void release() {
        references--;
        if (references <= 0 && !released) {
            released = true;
            for (ShmRegion r : regions) {
                if (!r.isClosed()) {
                    r.close();
                }
            }
        }
    }

    boolean isReleased() {
        return released;
    }

    /** A new channel id agreed collectively: the maximum of every member's next id (see {@code split}). */
    synchronized int nextChannel() {
        return nextChannel;
    }

    synchronized void useChannel(int channel) {
        if (channel >= ShmCommDescriptor.MAX_CHANNELS) {
            throw new IllegalStateException("too many shm communicators: channel=" + channel + ", max="
                + ShmCommDescriptor.MAX_CHANNELS);
        }
        nextChannel = Math.max(nextChannel, channel + 1);
    }

    /** The world rank whose region holds {@code [address, address + byteSize)}, or -1. */
    int regionOf(long address, long byteSize) {
        for (int i = 0; i < size; i++) {
            if (address >= bases[i] && address + byteSize <= bases[i] + byteSizes[i]) {
                return i;
            }
        }
        return -1;
    }

    /** Whether world rank {@code r}'s process is alive (pid start time checked by the JDK, so reuse is caught). */
    boolean isAlive(int r) {
        ProcessHandle h = handles[r];
        return h != null && h.isAlive();
    }

    Optional<ProcessHandle> handle(int r) {
        return Optional.ofNullable(handles[r]);
    }
}
