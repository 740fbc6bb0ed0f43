package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;

import static io.yatt.collectives.shm.ShmCommDescriptor.FLAG_WHOLE_INPUT;

/**
 * The reduce-scatter step of {@link ShmChannel}: staged rounds in which each rank reduces its slice, reading every
 * rank's input in rank order straight from shared memory (the peer's tensor, or the slot of the peer's staging
 * that holds this rank's slice). A flyweight re-pointed per call; confined to the channel's thread.
 */
final class ReduceScatterStep implements ShmChannel.StagedStep {
    private final ShmChannel ch;
    private MemorySegment send;
    private MemorySegment recv;
    private long sliceBytes;
    private DType dtype;
    private ReduceOp op;

    ReduceScatterStep(ShmChannel ch) {
        this.ch = ch;
    }

    void run(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        this.send = send;
        this.recv = recv;
        this.sliceBytes = count * dtype.byteSize();
        this.dtype = dtype;
        this.op = op;
        ch.stagedRounds(this, CollectiveKind.REDUCE_SCATTER, count, dtype, op.ordinal(), -1, send, sliceBytes,
            ch.size);
    }

    @Override
    public void stage(long off, long len, long staging, long slotBytes) {
        ch.stageSlices(send, sliceBytes, off, len, staging, slotBytes);
    }

    @Override
    public void consume(long k, long off, long len, long slotBytes) {
        int rank = ch.rank;
        int size = ch.size;
        for (int p = 0; p < size; p++) {
            if (p == rank) {
                ch.inSeg[p] = send;
                ch.inOff[p] = rank * sliceBytes + off;
            } else {
                ch.inSeg[p] = ch.ptrSeg(p, k);
                boolean z = (ch.flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0;
                ch.inOff[p] = ch.ptrOff(p, k) + (z ? rank * sliceBytes + off : rank * slotBytes);
            }
        }
        ch.kernel.reduce(dtype, op, ch.inSeg, ch.inOff, 0, size, recv, off, len / dtype.byteSize(), size);
        ch.counters.received(len * (size - 1));
        ch.counters.sent(len * (size - 1)); // every peer reads the same range of its slice of this rank's input
    }
}
