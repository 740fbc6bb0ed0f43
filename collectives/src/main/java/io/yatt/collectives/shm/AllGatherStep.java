package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.yatt.collectives.shm.ShmCommDescriptor.FLAG_WHOLE_INPUT;

/**
 * The all-gather step of {@link ShmChannel}: each rank copies every peer's chunk (straight from the peer's tensor
 * when that is in shared memory, else from the peer's staging) into its own receive buffer; its own chunk is copied
 * while peers arrive. Gathers run {@link ShmChannel#stagedRounds}, except small ones between ranks that share cores
 * (oversubscribed, chunks up to {@link #STAGED_RELEASE_MAX_BYTES}): those stage the chunk even from shared memory and
 * run one round in which a rank copies its peers in the order they post, with no closing barrier. A flyweight
 * re-pointed per call; confined to the channel's thread.
 */
final class AllGatherStep implements ShmChannel.StagedStep {
    /**
     * Largest chunk that oversubscribed ranks stage although it lies in shared memory, so that no closing barrier ends
     * the call. Measured at np=4 on 2 CPUs (load average about 20 from other processes), median batch per call, old
     * (barrier) against staged: 64 KiB gathers (16 KiB chunks) 52 -> 34 us; 256 KiB gathers (64 KiB chunks) in place
     * 62-79 -> 104 us; 1 MiB gathers 296-392 -> 375-722 us. Staging halves the sleeps per call (1.8 -> 0.9 per rank
     * at 1 MiB), but from 64 KiB chunks up it costs more than the barrier's hand-off (likely because peers then read
     * lines the owner just wrote, from its core's cache, instead of its clean tensor). Copying peers in the order
     * they post while keeping the barrier showed no gain at 64 KiB or 1 MiB either, so larger gathers keep the
     * staged rounds.
     */
    static final long STAGED_RELEASE_MAX_BYTES = 32 * 1024;
    private final ShmChannel ch;
    /** Peers copied in this round (allocated at the first call: the channel's fields are set after its steps). */
    private boolean[] done;
    private MemorySegment send;
    private MemorySegment recv;
    private long chunkBytes;
    private boolean inPlace;

    AllGatherStep(ShmChannel ch) {
        this.ch = ch;
    }

    void run(MemorySegment send, MemorySegment recv, long count, DType dtype) {
        this.send = send;
        this.recv = recv;
        this.chunkBytes = count * dtype.byteSize();
        this.inPlace = send.address() == recv.address() + ch.rank * chunkBytes && chunkBytes > 0;
        if (chunkBytes > 0 && chunkBytes <= STAGED_RELEASE_MAX_BYTES && ch.world.oversubscribed) {
            stagedRelease(count, dtype);
            return;
        }
        ch.stagedRounds(this, CollectiveKind.ALL_GATHER, count, dtype, -1, -1, send, chunkBytes, 1);
    }

    /**
     * The whole gather in one round, this rank's chunk staged (where it lies, shared memory included): peers read a
     * copy that stays put until round {@code k + 2}, which they reach only after this rank posted {@code k + 1}, so the
     * call needs no closing barrier. The own chunk is copied, then every peer's chunk as it posts; a barrier only
     * when some peer exposed its own tensor.
     */
    private void stagedRelease(long count, DType dtype) {
        long k = ch.nextRound();
        long st = ch.staging(k);
        stage(0, chunkBytes, st, chunkBytes);
        ch.post(k, CollectiveKind.ALL_GATHER, count, dtype, -1, -1, 0, ch.ownRegion, st, -1, 0);
        whilePeersArrive();
        if (done == null) {
            done = new boolean[ch.size];
        }
        Arrays.fill(done, false);
        done[ch.rank] = true;
        for (int left = ch.size - 1; left > 0; left--) {
            int q = ch.nextPosted(k, done);
            try {
                ch.checkMatch(k, q, CollectiveKind.ALL_GATHER, count, dtype, -1, -1);
            } catch (CollectiveMismatchException e) {
                // reported as the rank-ordered check of every other path reports it: the lowest mismatched rank
                ch.awaitPosts(k);
                ch.checkMatch(k, CollectiveKind.ALL_GATHER, count, dtype, -1, -1);
                throw e;
            }
            done[q] = true;
            copyFrom(q, k, 0, chunkBytes);
        }
        ch.checkMatch(k, CollectiveKind.ALL_GATHER, count, dtype, -1, -1); // and no peer aborted, as every path checks
        if (ch.anyFlag(k, FLAG_WHOLE_INPUT)) {
            ch.sync();
        }
    }

    @Override
    public void stage(long off, long len, long staging, long slotBytes) {
        ShmCopy.copy(send, off, ch.own, staging, len);
    }

    @Override
    public void whilePeersArrive() {
        if (!inPlace) {
            ShmCopy.copy(send, 0, recv, ch.rank * chunkBytes, chunkBytes);
        }
    }

    @Override
    public void consume(long k, long off, long len, long slotBytes) {
        for (int p = 0; p < ch.size; p++) {
            if (p != ch.rank) {
                copyFrom(p, k, off, len);
            }
        }
    }

    /** Copies sub-range {@code [off, off + len)} of member {@code p}'s chunk, as posted in round {@code k}. */
    private void copyFrom(int p, long k, long off, long len) {
        long src = ch.ptrOff(p, k) + ((ch.flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0 ? off : 0);
        ShmCopy.copy(ch.ptrSeg(p, k), src, recv, p * chunkBytes + off, len);
        ch.counters.received(len);
        ch.counters.sent(len); // peer p copies the same range of this rank's input
    }
}
