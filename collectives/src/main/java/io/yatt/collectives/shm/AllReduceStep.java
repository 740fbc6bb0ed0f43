package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

import static io.yatt.collectives.shm.ShmCommDescriptor.*;

/**
 * The all-reduce step of {@link ShmChannel}, by size: inline in the POST line up to
 * {@link ShmCommDescriptor#INLINE_CAPACITY} bytes, one staged round up to {@link #ONE_ROUND_ALL_REDUCE_BYTES}
 * (every rank reduces the whole buffer), and above that reduce-scatter into slices then all-gather of the reduced
 * slices, in rounds; on two ranks with every buffer in shared memory each rank instead pushes its reduced slice into
 * both outputs ({@link #pushed}). A flyweight; confined to the channel's thread.
 */
final class AllReduceStep {
    /** All-reduces up to this size: every rank reduces the whole buffer from staged copies in one round. */
    static final long ONE_ROUND_ALL_REDUCE_BYTES = 32 * 1024;
    /**
     * Bytes of its slice a rank reduces before copying them into its peer's buffer ({@link #pushed}): small enough
     * that the chunk is still in L1/L2 when it is copied, large enough that the kernel's per-call setup is noise.
     */
    static final long PUSH_CHUNK_BYTES = 64 * 1024;
    private static final VarHandle LONG = ShmRegion.LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LNG = ValueLayout.JAVA_LONG;
    private static final CollectiveKind KIND = CollectiveKind.ALL_REDUCE;

    private final ShmChannel ch;
    private boolean[] gathered = new boolean[0];

    AllReduceStep(ShmChannel ch) {
        this.ch = ch;
    }

    void run(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        long s = count * dtype.byteSize();
        if (s <= INLINE_CAPACITY) {
            inline(send, recv, count, dtype, op);
        } else if (s <= Math.min(ONE_ROUND_ALL_REDUCE_BYTES, ch.stagingHalf)) {
            oneRound(send, recv, count, dtype, op);
        } else {
            sliced(send, recv, count, dtype, op);
        }
    }

    /**
     * Up to {@link ShmCommDescriptor#INLINE_CAPACITY} bytes: the data, opcode, count and IDENT go into the first
     * cache line of POST line {@code k & 1}, published by one release store of SEQ (sequence-numbered, so no reset
     * round); each peer's line is read after one acquire spin on its SEQ, and every rank reduces all lines in rank
     * order. In place and out of place cost the same: the input is copied into the line first.
     */
    private void inline(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        int size = ch.size;
        MemorySegment own = ch.own;
        long k = ch.nextRound();
        long l = ch.postLine(k);
        int id = ShmChannel.ident(dtype.ordinal(), op.ordinal(), -1);
        int opcode = ShmChannel.opcode(KIND);
        MemorySegment.copy(send, 0, own, l + INLINE, count * dtype.byteSize());
        own.set(INT, l + OPCODE, opcode);
        own.set(INT, l + IDENT, id);
        own.set(LNG, l + COUNT, count);
        LONG.setRelease(own, l + SEQ, k);
        ch.ring();
        for (int p = 0; p < size; p++) {
            if (p == ch.rank) {
                continue;
            }
            ch.await(p, l + SEQ, k);
            MemorySegment s = ch.segs[p];
            if (s.get(INT, l + OPCODE) != opcode || s.get(LNG, l + COUNT) != count || s.get(INT, l + IDENT) != id) {
                ch.awaitPosts(k);
                ch.checkMatch(k, KIND, count, dtype, op.ordinal(), -1, true);
            }
        }
        ch.kernel.reduceSmall(dtype, op, ch.segs, size, l + INLINE, recv, 0, count, size);
        ch.counters.received(count * dtype.byteSize() * (size - 1));
        ch.counters.sent(count * dtype.byteSize() * (size - 1));
    }

    private void oneRound(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        int size = ch.size;
        long s = count * dtype.byteSize();
        long k = ch.nextRound();
        long st = ch.staging(k);
        ShmCopy.copy(send, 0, ch.own, st, s);
        ch.post(k, KIND, count, dtype, op.ordinal(), -1, 0, ch.ownRegion, st, -1, 0);
        ch.awaitPosts(k);
        ch.checkMatch(k, KIND, count, dtype, op.ordinal(), -1);
        for (int p = 0; p < size; p++) {
            ch.inSeg[p] = ch.ptrSeg(p, k);
            ch.inOff[p] = ch.ptrOff(p, k);
        }
        ch.kernel.reduce(dtype, op, ch.inSeg, ch.inOff, 0, size, recv, 0, count, size);
        ch.counters.received(s * (size - 1));
        ch.counters.sent(s * (size - 1));
    }

    private long sliceStart(long count, int q) {
        long base = count / ch.size;
        long rem = count % ch.size;
        return q * base + Math.min(q, rem);
    }

    private long sliceCount(long count, int q) {
        return count / ch.size + (q < count % ch.size ? 1 : 0);
    }

    private static long clampLen(long sliceCount, long i, long unit) {
        return Math.max(0, Math.min(unit, sliceCount - i * unit));
    }

    /**
     * Reduce-scatter into slices, then all-gather of the slices; rounds of at most stagingHalf / size per slice. In
     * each round a rank announces its reduced slice on the SYNC counter and copies every peer's slice as soon as that
     * peer announced it, ready ones first: one arrival per round instead of a barrier between the two phases.
     */
    private void sliced(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        int rank = ch.rank;
        int size = ch.size;
        int es = dtype.byteSize();
        long maxSlice = (count + size - 1) / size;
        long unitStaged = Math.min(maxSlice, Math.max(1, ch.stagingHalf / size / es));
        int inReg = ch.regionOf(send);
        int outReg = ch.regionOf(recv);
        long k = ch.nextRound();
        postRound(k, send, recv, count, dtype, op, inReg, outReg, 0, unitStaged);
        ch.awaitPosts(k);
        ch.checkMatch(k, KIND, count, dtype, op.ordinal(), -1);
        boolean whole = ch.allFlag(k, FLAG_WHOLE_INPUT) && ch.allFlag(k, FLAG_WHOLE_OUTPUT);
        boolean exposed = ch.anyFlag(k, FLAG_WHOLE_INPUT | FLAG_WHOLE_OUTPUT);
        if (whole && size == 2) {
            pushed(k, send, recv, count, dtype, op);
            ch.sync(); // the peer has written its slice into recv and is done reading send
            return;
        }
        long unit = whole ? maxSlice : unitStaged;
        long rounds = (maxSlice + unit - 1) / unit;
        for (long i = 0; i < rounds; i++) {
            if (i > 0) {
                k = ch.nextRound();
                postRound(k, send, recv, count, dtype, op, inReg, outReg, i, unit);
                ch.awaitPosts(k);
            }
            // phase 1: reduce my slice's sub-range from every rank's input
            long myLen = clampLen(sliceCount(count, rank), i, unit);
            long myStart = sliceStart(count, rank) + i * unit;
            if (myLen > 0) {
                for (int p = 0; p < size; p++) {
                    if (p == rank) {
                        ch.inSeg[p] = send;
                        ch.inOff[p] = myStart * es;
                    } else {
                        ch.inSeg[p] = ch.ptrSeg(p, k);
                        boolean z = (ch.flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0;
                        ch.inOff[p] = ch.ptrOff(p, k) + (z ? myStart * es : rank * unit * es);
                    }
                }
                if (outReg >= 0) {
                    ch.kernel.reduce(dtype, op, ch.inSeg, ch.inOff, 0, size, recv, myStart * es, myLen, size);
                } else {
                    ch.kernel.reduce(dtype, op, ch.inSeg, ch.inOff, 0, size, ch.own, ch.staging(k) + rank * unit * es,
                        myLen, size);
                }
                ch.counters.received(myLen * es * (size - 1));
            }
            for (int p = 0; p < size; p++) {
                if (p != rank) {
                    ch.counters.sent(clampLen(sliceCount(count, p), i, unit) * es); // p reduces its slice from mine
                }
            }
            // phase 2: gather every slice's reduced sub-range, each as soon as its rank has reduced it (ready
            // slices first, no barrier in between: ranks that share a core copy while the others still reduce)
            long phase = ch.arrive();
            if (outReg < 0 && myLen > 0) {
                ShmCopy.copy(ch.own, ch.staging(k) + rank * unit * es, recv, myStart * es, myLen * es);
            }
            int left = size - 1;
            if (gathered.length != size) {
                gathered = new boolean[size]; // the channel is built after its steps: size is known here
            }
            boolean[] done = gathered;
            Arrays.fill(done, false);
            done[rank] = true;
            while (left > 0) {
                int next = -1;
                for (int d = 1; d < size; d++) {
                    int p = (rank + d) % size;
                    if (done[p]) {
                        continue;
                    }
                    if (ch.arrived(p, phase)) {
                        next = p;
                        break;
                    }
                    if (next < 0) {
                        next = p; // none ready yet: wait for the first pending one
                    }
                }
                ch.awaitArrival(next, phase);
                copySlice(next, k, i, unit, count, es, recv);
                done[next] = true;
                left--;
            }
            ch.counters.sent(myLen * es * (size - 1)); // peers copy my slice
        }
        if (exposed) {
            ch.sync();
        }
    }

    /**
     * Two ranks with every input and output in shared memory (round {@code k} posted and matched): each rank reduces
     * its slice chunk by chunk from both inputs into its own {@code recv} and at once copies the chunk, still in
     * cache, into the peer's {@code recv}. No rank waits for the other's reduction or reads lines the other just
     * wrote; the caller's closing barrier says both slices are in place. A rank reads and writes only its own slice
     * of every buffer (in place, it reads each chunk before writing it), so any mix of in-place and out-of-place
     * ranks is safe.
     */
    private void pushed(long k, MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        int rank = ch.rank;
        int peer = 1 - rank;
        int es = dtype.byteSize();
        long myStart = sliceStart(count, rank);
        long myCount = sliceCount(count, rank);
        MemorySegment peerRecv = ch.resSeg(peer, k);
        long peerRecvOff = ch.resOff(peer, k);
        long peerSendOff = ch.ptrOff(peer, k);
        ch.inSeg[rank] = send;
        ch.inSeg[peer] = ch.ptrSeg(peer, k);
        long chunk = Math.max(1, PUSH_CHUNK_BYTES / es);
        for (long c = 0; c < myCount; c += chunk) {
            long len = Math.min(chunk, myCount - c);
            long at = (myStart + c) * es;
            ch.inOff[rank] = at;
            ch.inOff[peer] = peerSendOff + at;
            ch.kernel.reduce(dtype, op, ch.inSeg, ch.inOff, 0, 2, recv, at, len, 2);
            ShmCopy.copy(recv, at, peerRecv, peerRecvOff + at, len * es);
        }
        // the same bytes as the pull scheme: the peer's input slice and its reduced slice in, mine out twice
        long peerCount = sliceCount(count, peer);
        ch.counters.received((myCount + peerCount) * es);
        ch.counters.sent((peerCount + myCount) * es);
    }

    /** Copies rank {@code p}'s reduced sub-range {@code i} of round {@code k} into {@code recv}. */
    private void copySlice(int p, long k, long i, long unit, long count, int es, MemorySegment recv) {
        long len = clampLen(sliceCount(count, p), i, unit);
        if (len <= 0) {
            return;
        }
        long start = sliceStart(count, p) + i * unit;
        boolean z = (ch.flagsOf(p, k) & FLAG_WHOLE_OUTPUT) != 0;
        long src = ch.resOff(p, k) + (z ? start * es : p * unit * es);
        ShmCopy.copy(ch.resSeg(p, k), src, recv, start * es, len * es);
        ch.counters.received(len * es);
    }

    private void postRound(long k, MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op,
                           int inReg, int outReg, long i, long unit) {
        int es = dtype.byteSize();
        long st = ch.staging(k);
        int flags = 0;
        int ptrReg;
        long ptr;
        if (inReg >= 0) {
            flags |= FLAG_WHOLE_INPUT;
            ptrReg = inReg;
            ptr = ch.offsetIn(inReg, send);
        } else {
            ptrReg = ch.ownRegion;
            ptr = st;
            for (int p = 0; p < ch.size; p++) {
                long len = clampLen(sliceCount(count, p), i, unit);
                if (p != ch.rank && len > 0) {
                    ShmCopy.copy(send, (sliceStart(count, p) + i * unit) * es, ch.own, st + p * unit * es, len * es);
                }
            }
        }
        int resReg;
        long res;
        if (outReg >= 0) {
            flags |= FLAG_WHOLE_OUTPUT;
            resReg = outReg;
            res = ch.offsetIn(outReg, recv);
        } else {
            resReg = ch.ownRegion;
            res = st;
        }
        ch.post(k, KIND, count, dtype, op.ordinal(), -1, flags, ptrReg, ptr, resReg, res);
    }
}
