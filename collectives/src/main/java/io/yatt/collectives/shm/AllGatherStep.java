package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;

import static io.yatt.collectives.shm.ShmCommDescriptor.FLAG_WHOLE_INPUT;

/**
 * The all-gather step of {@link ShmChannel}: staged rounds in which each rank copies every peer's chunk (straight
 * from the peer's tensor when that is in shared memory) into its own receive buffer; its own chunk is copied while
 * peers arrive. A flyweight re-pointed per call; confined to the channel's thread.
 */
final class AllGatherStep implements ShmChannel.StagedStep {
    private final ShmChannel ch;
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
        ch.stagedRounds(this, CollectiveKind.ALL_GATHER, count, dtype, -1, -1, send, chunkBytes, 1);
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
            if (p == ch.rank) {
                continue;
            }
            long src = ch.ptrOff(p, k) + ((ch.flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0 ? off : 0);
            ShmCopy.copy(ch.ptrSeg(p, k), src, recv, p * chunkBytes + off, len);
            ch.counters.received(len);
            ch.counters.sent(len); // peer p copies the same range of this rank's input
        }
    }
}
