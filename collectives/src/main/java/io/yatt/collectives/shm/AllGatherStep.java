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
 * while peers arrive. When the whole gather fits one staging half it is one round in which a rank copies its peers
 * in the order they post (the first posted after it in ring order; it waits only when no posted peer is left); when
 * ranks share cores it then stages its chunk even from shared memory (up to {@link #STAGED_RELEASE_MAX_BYTES}), so
 * the round needs no closing barrier. Larger gathers run {@link ShmChannel#stagedRounds}. A flyweight re-pointed per
 * call; confined to the channel's thread.
 */
final class AllGatherStep implements ShmChannel.StagedStep {
    /**
     * Largest chunk that oversubscribed ranks stage although it lies in shared memory: the copy into staging (about
     * 40 us per MiB from cache) replaces the closing barrier, which between ranks that share cores costs a sleep and
     * a wake-up per rank and call (100-400 us measured at 1 MiB np=4 on 2 CPUs).
     */
    static final long STAGED_RELEASE_MAX_BYTES = 1L << 20;
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
        if (chunkBytes == 0 || chunkBytes > ShmChannel.roundDown(ch.stagingHalf, dtype.byteSize())) {
            ch.stagedRounds(this, CollectiveKind.ALL_GATHER, count, dtype, -1, -1, send, chunkBytes, 1);
            return;
        }
        oneRound(count, dtype);
    }

    /**
     * The whole gather in one round: post (staged, or this rank's tensor in place), copy the own chunk, then every
     * peer's chunk as it posts; a closing barrier only when some rank exposed its own tensor.
     */
    private void oneRound(long count, DType dtype) {
        int reg = ch.regionOf(send);
        if (reg >= 0 && ch.world.oversubscribed && chunkBytes <= STAGED_RELEASE_MAX_BYTES) {
            reg = -1; // staged: peers read a copy that stays put until round k + 2, so no barrier ends the call
        }
        long k = ch.nextRound();
        if (reg >= 0) {
            ch.post(k, CollectiveKind.ALL_GATHER, count, dtype, -1, -1, FLAG_WHOLE_INPUT, reg,
                ch.offsetIn(reg, send), -1, 0);
        } else {
            long st = ch.staging(k);
            stage(0, chunkBytes, st, chunkBytes);
            ch.post(k, CollectiveKind.ALL_GATHER, count, dtype, -1, -1, 0, ch.ownRegion, st, -1, 0);
        }
        whilePeersArrive();
        if (done == null) {
            done = new boolean[ch.size];
        }
        Arrays.fill(done, false);
        done[ch.rank] = true;
        for (int left = ch.size - 1; left > 0; left--) {
            int q = nextPosted(k);
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

    /** The first peer after this rank, in ring order, that posted round {@code k} and is not done; else waits. */
    private int nextPosted(long k) {
        int first = -1;
        for (int j = 1; j < ch.size; j++) {
            int q = (ch.rank + j) % ch.size;
            if (!done[q]) {
                if (ch.posted(q, k)) {
                    return q;
                }
                first = first < 0 ? q : first;
            }
        }
        ch.awaitPost(first, k);
        return first;
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
