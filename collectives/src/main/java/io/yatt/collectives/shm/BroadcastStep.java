package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.yatt.collectives.shm.ShmCommDescriptor.*;

/**
 * The broadcast step of {@link ShmChannel}: receivers copy from the root's buffer, in one round when the root's
 * buffer is in shared memory (and then, when every buffer is and the root is in place, the root writes the first
 * {@code 1/n} of each receiver's buffer while receivers copy the rest), else in staged rounds. A flyweight;
 * confined to the channel's thread.
 */
final class BroadcastStep {
    private static final CollectiveKind KIND = CollectiveKind.BROADCAST;

    private final ShmChannel ch;

    BroadcastStep(ShmChannel ch) {
        this.ch = ch;
    }

    void run(MemorySegment send, MemorySegment recv, long count, DType dtype, int root) {
        int es = dtype.byteSize();
        long s = count * es;
        int size = ch.size;
        boolean isRoot = ch.rank == root;
        int inReg = isRoot ? ch.regionOf(send) : -1;
        int outReg = ch.regionOf(recv);
        long r = s == 0 ? 0 : Math.min(s, ShmChannel.roundDown(ch.stagingHalf, es));
        long k = ch.nextRound();
        int flags = outReg >= 0 ? FLAG_WHOLE_OUTPUT : 0;
        int ptrReg = ch.ownRegion;
        long ptr = 0;
        if (isRoot) {
            if (inReg >= 0) {
                flags |= FLAG_WHOLE_INPUT;
                ptrReg = inReg;
                ptr = ch.offsetIn(inReg, send);
            } else {
                ptr = ch.staging(k);
                ShmCopy.copy(send, 0, ch.own, ptr, r);
            }
        }
        ch.post(k, KIND, count, dtype, -1, root, flags, ptrReg, ptr, outReg >= 0 ? outReg : -1,
            outReg >= 0 ? ch.offsetIn(outReg, recv) : 0);
        ch.awaitPosts(k);
        ch.checkMatch(k, KIND, count, dtype, -1, root);
        if (s == 0) {
            return;
        }
        boolean whole = (ch.flagsOf(root, k) & FLAG_WHOLE_INPUT) != 0;
        MemorySegment rootSeg = ch.segs[root];
        long line = ch.postLine(k);
        boolean rootInPlace = rootSeg.get(ValueLayout.JAVA_LONG, line + RES_OFFSET) == ch.ptrOff(root, k)
            && rootSeg.get(ValueLayout.JAVA_INT, line + RES_REGION) == rootSeg.get(ValueLayout.JAVA_INT,
            line + PTR_REGION);
        if (isRoot && send.address() != recv.address()) {
            ShmCopy.copy(send, 0, recv, 0, s);
        }
        if (whole) {
            boolean coop = rootInPlace && ch.allFlag(k, FLAG_WHOLE_OUTPUT);
            long part = coop ? ShmChannel.roundDown(s / size, es) : 0;
            if (part >= s) {
                part = 0;
            }
            if (isRoot) {
                for (int p = 0; p < size && part > 0; p++) {
                    if (p != root) {
                        ShmCopy.copy(send, 0, ch.resSeg(p, k), ch.resOff(p, k), part);
                    }
                }
                ch.counters.sent(s * (size - 1)); // part pushed by the root, the rest pulled by each peer
            } else {
                ShmCopy.copy(ch.ptrSeg(root, k), ch.ptrOff(root, k) + part, recv, part, s - part);
                ch.counters.received(s);
            }
            ch.sync();
            return;
        }
        long rounds = (s + r - 1) / r;
        for (long i = 0; i < rounds; i++) {
            long off = i * r;
            long len = Math.min(r, s - off);
            if (i > 0) {
                k = ch.nextRound();
                if (isRoot) {
                    long st = ch.staging(k);
                    ShmCopy.copy(send, off, ch.own, st, len);
                    ch.post(k, KIND, count, dtype, -1, root, 0, ch.ownRegion, st, -1, 0);
                } else {
                    ch.post(k, KIND, count, dtype, -1, root, 0, ch.ownRegion, 0, -1, 0);
                }
                ch.awaitPosts(k);
            }
            if (!isRoot) {
                ShmCopy.copy(ch.ptrSeg(root, k), ch.ptrOff(root, k), recv, off, len);
                ch.counters.received(len);
            } else {
                ch.counters.sent(len * (size - 1));
            }
        }
    }
}
