package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;

import static io.yatt.collectives.shm.ShmCommDescriptor.FLAG_WHOLE_INPUT;

/**
 * The all-to-all step of {@link ShmChannel}: staged rounds in which each rank copies its block from every peer
 * (straight from the peer's tensor, or from the slot of the peer's staging that holds it). A flyweight re-pointed
 * per call; confined to the channel's thread.
 */
final class AllToAllStep implements ShmChannel.StagedStep {
    private final ShmChannel ch;
    private MemorySegment send;
    private MemorySegment recv;
    private long blockBytes;

    AllToAllStep(ShmChannel ch) {
        this.ch = ch;
    }

    void run(MemorySegment send, MemorySegment recv, long count, DType dtype) {
        this.send = send;
        this.recv = recv;
        this.blockBytes = count / ch.size * dtype.byteSize();
        ch.stagedRounds(this, CollectiveKind.ALL_TO_ALL, count, dtype, -1, -1, send, blockBytes, ch.size);
    }

    @Override
    public void stage(long off, long len, long staging, long slotBytes) {
        ch.stageSlices(send, blockBytes, off, len, staging, slotBytes);
    }

    @Override
    public void consume(long k, long off, long len, long slotBytes) {
        int rank = ch.rank;
        long b = blockBytes;
        if (off == 0) {
            ShmCopy.copy(send, rank * b, recv, rank * b, b); // own block, once
        }
        for (int p = 0; p < ch.size; p++) {
            if (p == rank) {
                continue;
            }
            boolean z = (ch.flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0;
            long src = ch.ptrOff(p, k) + (z ? rank * b + off : rank * slotBytes);
            ShmCopy.copy(ch.ptrSeg(p, k), src, recv, p * b + off, len);
            ch.counters.received(len);
            ch.counters.sent(len); // peer p copies block p of this rank's input, the same range
        }
    }
}
