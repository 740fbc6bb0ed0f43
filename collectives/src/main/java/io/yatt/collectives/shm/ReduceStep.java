package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;

import static io.yatt.collectives.shm.ShmCommDescriptor.FLAG_WHOLE_INPUT;

/**
 * The reduce step of {@link ShmChannel}: staged rounds in which the root reduces every rank's input, read in rank
 * order straight from shared memory; the other ranks only publish theirs. A flyweight re-pointed per call;
 * confined to the channel's thread.
 */
final class ReduceStep implements ShmChannel.StagedStep {
    private final ShmChannel ch;
    private MemorySegment send;
    private MemorySegment recv;
    private DType dtype;
    private ReduceOp op;
    private int root;

    ReduceStep(ShmChannel ch) {
        this.ch = ch;
    }

    void run(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op, int root) {
        this.send = send;
        this.recv = recv;
        this.dtype = dtype;
        this.op = op;
        this.root = root;
        ch.stagedRounds(this, CollectiveKind.REDUCE, count, dtype, op.ordinal(), root, send,
            count * dtype.byteSize(), 1);
    }

    @Override
    public void stage(long off, long len, long staging, long slotBytes) {
        if (ch.rank != root) {
            ShmCopy.copy(send, off, ch.own, staging, len);
        }
    }

    @Override
    public void consume(long k, long off, long len, long slotBytes) {
        int size = ch.size;
        if (ch.rank != root) {
            ch.counters.sent(len); // the root reads this range of this rank's input
            return;
        }
        for (int p = 0; p < size; p++) {
            if (p == ch.rank) {
                ch.inSeg[p] = send;
                ch.inOff[p] = off;
            } else {
                ch.inSeg[p] = ch.ptrSeg(p, k);
                ch.inOff[p] = ch.ptrOff(p, k) + ((ch.flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0 ? off : 0);
            }
        }
        ch.kernel.reduce(dtype, op, ch.inSeg, ch.inOff, 0, size, recv, off, len / dtype.byteSize(), size);
        ch.counters.received(len * (size - 1));
    }
}
