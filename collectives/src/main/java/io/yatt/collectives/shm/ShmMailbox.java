package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

import static io.yatt.collectives.shm.ShmCommDescriptor.*;

/**
 * The point-to-point step of {@link ShmChannel}: a mailbox per pair of ranks (two SEND lines, a chunk counter, an
 * ACK counter) with two slots per peer in this rank's staging. Sends and receives of one batch progress together
 * by polling, so a ring exchange never deadlocks. A batch that cannot progress waits as the collectives do
 * ({@link ShmChannel#idle}): it spins, yields, then sleeps on the doorbell of the peer its first unfinished op waits
 * for (at most {@link ShmChannel#PARK_NS} per sleep, so progress on another peer is seen within that); every SEND
 * line and ACK this rank publishes rings its own doorbell. Confined to the channel's thread.
 */
final class ShmMailbox {
    private static final VarHandle LONG = ShmRegion.LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LNG = ValueLayout.JAVA_LONG;
    private static final DType[] DTYPES = DType.values();

    private final ShmChannel ch;
    private final long p2pBase;
    private final long p2pSlot;
    private final long[] sendChunks;
    private final long[] recvChunks;

    ShmMailbox(ShmChannel ch, long p2pBase, long p2pSlot) {
        this.ch = ch;
        this.p2pBase = p2pBase;
        this.p2pSlot = p2pSlot;
        this.sendChunks = new long[ch.size];
        this.recvChunks = new long[ch.size];
    }

    /** One send or receive of a point-to-point batch. */
    static final class P2p {
        final boolean isSend;
        final MemorySegment buf;
        final long count;
        final DType dtype;
        final int peer;
        long doneBytes;
        long firstChunk;
        long lastChunk;
        boolean posted;
        boolean complete;

        P2p(boolean isSend, MemorySegment buf, long count, DType dtype, int peer) {
            this.isSend = isSend;
            this.buf = buf;
            this.count = count;
            this.dtype = dtype;
            this.peer = peer;
        }
    }

    private long sendLine(int to, long chunk) {
        return ch.ch + P2P_OFFSET + (long) to * P2P_PEER_BYTES + (chunk & 1) * LINE;
    }

    private long ackLine(int from) {
        return ch.ch + P2P_OFFSET + (long) from * P2P_PEER_BYTES + P2P_ACK_OFFSET;
    }

    private long p2pSlotOffset(int to, long chunk) {
        return p2pBase + ((long) to * 2 + (chunk & 1)) * p2pSlot;
    }

    /**
     * Runs sends and receives together without deadlock: every step polls every peer, and an idle step sleeps on one
     * peer's doorbell for at most {@link ShmChannel#PARK_NS}. Sends to one peer go in order; each completes when the
     * peer acknowledged its last chunk. Messages to oneself are copied.
     */
    void run(List<P2p> ops) {
        matchSelf(ops);
        long idleSince = System.nanoTime();
        ch.arm(idleSince);
        while (true) {
            boolean progress = false;
            boolean allDone = true;
            boolean[] sendBusy = new boolean[ch.size];
            boolean[] recvBusy = new boolean[ch.size];
            for (P2p op : ops) {
                if (op.complete) {
                    continue;
                }
                allDone = false;
                if (op.isSend) {
                    if (sendBusy[op.peer]) {
                        continue;
                    }
                    sendBusy[op.peer] = true;
                    progress |= progressSend(op);
                } else {
                    if (recvBusy[op.peer]) {
                        continue;
                    }
                    recvBusy[op.peer] = true;
                    progress |= progressRecv(op);
                }
            }
            if (allDone) {
                return;
            }
            if (!progress) {
                Thread.onSpinWait();
                List<Integer> waiting = new ArrayList<>();
                P2p head = null;
                for (P2p op : ops) {
                    if (!op.complete && !waiting.contains(op.peer)) {
                        waiting.add(op.peer);
                        head = head == null ? op : head;
                    }
                }
                // the first unfinished op waits on its peer's doorbell, as the collectives' waits do
                ch.idle(idleSince, head.peer, awaitedOffset(head), awaitedTarget(head), waiting);
            } else {
                idleSince = System.nanoTime();
            }
        }
    }

    /**
     * Where in its peer's region the head op of a peer waits: a receive for the peer's next SEND line, a send for the
     * peer's ACK counter.
     */
    private long awaitedOffset(P2p op) {
        return op.isSend ? ackLine(ch.rank) : sendLine(ch.rank, recvChunks[op.peer] + 1) + SEND_SEQ;
    }

    /**
     * The value the counter at {@link #awaitedOffset} must reach for {@code op} to progress: the next chunk for a
     * receive; for a send, its last chunk once all of it is posted, else the chunk whose slot the next one reuses.
     */
    private long awaitedTarget(P2p op) {
        if (!op.isSend) {
            return recvChunks[op.peer] + 1;
        }
        long bytes = op.count * op.dtype.byteSize();
        return op.posted && op.doneBytes >= bytes ? op.lastChunk : sendChunks[op.peer] + 1 - 2;
    }

    private void matchSelf(List<P2p> ops) {
        List<P2p> sends = new ArrayList<>();
        List<P2p> recvs = new ArrayList<>();
        for (P2p op : ops) {
            if (op.peer == ch.rank) {
                (op.isSend ? sends : recvs).add(op);
            }
        }
        if (sends.size() != recvs.size()) {
            throw new CollectiveMismatchException("mismatched point-to-point to self: rank " + ch.rank + " posted "
                + sends.size() + " sends and " + recvs.size() + " receives to itself");
        }
        for (int i = 0; i < sends.size(); i++) {
            P2p s = sends.get(i);
            P2p r = recvs.get(i);
            if (s.count != r.count || s.dtype != r.dtype) {
                throw new CollectiveMismatchException("mismatched point-to-point: rank " + ch.rank + " sent (count="
                    + s.count + ", dtype=" + s.dtype + ") but rank " + ch.rank + " received (count=" + r.count
                    + ", dtype=" + r.dtype + ")");
            }
            ShmCopy.copy(s.buf, 0, r.buf, 0, s.count * s.dtype.byteSize());
            s.complete = true;
            r.complete = true;
        }
    }

    private boolean progressSend(P2p op) {
        long bytes = op.count * op.dtype.byteSize();
        MemorySegment peerSeg = ch.segs[op.peer];
        long acked = (long) LONG.getAcquire(peerSeg, ackLine(ch.rank));
        if (op.posted && (long) LONG.getAcquire(peerSeg, ackLine(ch.rank) + NACK_CHUNK) == op.firstChunk) {
            int dt = peerSeg.get(INT, ackLine(ch.rank) + NACK_DTYPE);
            throw new CollectiveMismatchException(p2pMismatch(ch.rank, op.count, op.dtype, op.peer,
                peerSeg.get(LNG, ackLine(ch.rank) + NACK_COUNT), dt >= 0 && dt < DTYPES.length ? DTYPES[dt] : null));
        }
        if (op.posted && op.doneBytes >= bytes) {
            if (acked >= op.lastChunk) {
                op.complete = true;
                ch.counters.sent(bytes);
                return true;
            }
            return false;
        }
        long chunk = sendChunks[op.peer] + 1;
        if (acked < chunk - 2) {
            return false; // slot chunk & 1 still holds chunk - 2
        }
        int reg = ch.regionOf(op.buf);
        long line = sendLine(op.peer, chunk);
        long len;
        int ptrReg;
        long ptr;
        if (reg >= 0) {
            len = bytes;
            ptrReg = reg;
            ptr = ch.offsetIn(reg, op.buf);
        } else {
            len = Math.min(p2pSlot, bytes - op.doneBytes);
            ptrReg = ch.ownRegion;
            ptr = p2pSlotOffset(op.peer, chunk);
            ShmCopy.copy(op.buf, op.doneBytes, ch.own, ptr, len);
        }
        ch.own.set(INT, line + SEND_DTYPE, op.dtype.ordinal());
        ch.own.set(INT, line + SEND_FLAGS, op.doneBytes == 0 ? 1 : 0);
        ch.own.set(LNG, line + SEND_COUNT, op.count);
        ch.own.set(INT, line + SEND_PTR_REGION, ptrReg);
        ch.own.set(LNG, line + SEND_PTR_OFFSET, ptr);
        ch.own.set(LNG, line + SEND_CHUNK_BYTES, len);
        LONG.setRelease(ch.own, line + SEND_SEQ, chunk);
        ch.ring();
        sendChunks[op.peer] = chunk;
        if (!op.posted) {
            op.firstChunk = chunk;
        }
        op.doneBytes += len;
        op.lastChunk = chunk;
        op.posted = true;
        return true;
    }

    /** The message both sides of a mismatched send/recv report, lower rank first. */
    private static String p2pMismatch(int sender, long sendCount, DType sendType, int receiver, long recvCount,
                                      DType recvType) {
        String send = CallSignature.describe(CollectiveKind.SEND, sendCount, sendType, null, receiver);
        String recv = CallSignature.describe(CollectiveKind.RECV, recvCount, recvType, null, sender);
        return sender < receiver ? CallSignature.mismatchMessage(sender, send, receiver, recv)
            : CallSignature.mismatchMessage(receiver, recv, sender, send);
    }

    private boolean progressRecv(P2p op) {
        long bytes = op.count * op.dtype.byteSize();
        MemorySegment peerSeg = ch.segs[op.peer];
        long chunk = recvChunks[op.peer] + 1;
        long line = sendLine(ch.rank, chunk);
        if ((long) LONG.getAcquire(peerSeg, line + SEND_SEQ) < chunk) {
            return false;
        }
        if (op.doneBytes == 0) {
            int dt = peerSeg.get(INT, line + SEND_DTYPE);
            long count = peerSeg.get(LNG, line + SEND_COUNT);
            if (count != op.count || dt != op.dtype.ordinal() || peerSeg.get(INT, line + SEND_FLAGS) != 1) {
                long ack = ackLine(op.peer);
                ch.own.set(LNG, ack + NACK_COUNT, op.count);
                ch.own.set(INT, ack + NACK_DTYPE, op.dtype.ordinal());
                LONG.setRelease(ch.own, ack + NACK_CHUNK, chunk);
                ch.ring();
                throw new CollectiveMismatchException(p2pMismatch(op.peer, count,
                    dt >= 0 && dt < DTYPES.length ? DTYPES[dt] : null, ch.rank, op.count, op.dtype));
            }
        }
        long len = peerSeg.get(LNG, line + SEND_CHUNK_BYTES);
        MemorySegment src = ch.world.segs[peerSeg.get(INT, line + SEND_PTR_REGION)];
        ShmCopy.copy(src, peerSeg.get(LNG, line + SEND_PTR_OFFSET), op.buf, op.doneBytes, len);
        ch.counters.received(len);
        op.doneBytes += len;
        recvChunks[op.peer] = chunk;
        LONG.setRelease(ch.own, ackLine(op.peer), chunk);
        ch.ring();
        if (op.doneBytes >= bytes) {
            op.complete = true;
        }
        return true;
    }
}
