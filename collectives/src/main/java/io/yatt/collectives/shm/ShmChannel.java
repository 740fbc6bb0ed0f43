package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveException;
import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.AllGatherViews;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.collectives.internal.Lifecycle;
import io.yatt.collectives.internal.ReductionKernel;
import io.yatt.collectives.internal.TrafficCounters;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.yatt.collectives.shm.ShmCommDescriptor.*;

/**
 * The data plane of one shm communicator: the round protocol over its channel block in every member's region.
 *
 * <p>Every collective is a sequence of rounds. In round {@code k} a rank writes its POST line {@code k & 1} (call
 * identity, flags, where its data for this round is: its own tensor when that lives in shared memory, else the
 * staging half {@code k & 1} it just copied into) and publishes {@code SEQ = k} with release; then it waits
 * (acquire) until every peer published {@code k} and reads peers' data in place. A rank reuses POST line and staging
 * half {@code k & 1} only at round {@code k + 2}, and it gets there only after every peer posted {@code k + 1},
 * which a peer does only after it finished reading round {@code k}: no acknowledgements are needed between rounds.
 * When some rank exposed its own tensor, a final barrier keeps it from returning (and letting the caller modify
 * the tensor) before peers are done reading. Small all-reduces carry their data inline in the POST line.
 *
 * <p>Waiting spins ({@code Thread.onSpinWait}) for {@link io.yatt.collectives.ShmContext#spinNs()}, then yields, checking the deadline
 * (counted from the call's first wait), peers' abort words and (every
 * {@link io.yatt.collectives.ShmContext#livenessIntervalNs()}) whether peer processes are alive. Confined to the rank's thread,
 * except {@link #abort} which any thread may call.
 */
final class ShmChannel {
    static final int OP_ALL_GATHER = 1;
    static final int OP_REDUCE_SCATTER = 2;
    static final int OP_ALL_REDUCE = 3;
    static final int OP_BROADCAST = 4;
    static final int OP_REDUCE = 5;
    static final int OP_ALL_TO_ALL = 6;
    static final int OP_BARRIER = 7;
    static final int OP_EXCHANGE = 8;
    static final int OP_GROUP = 9;
    static final int OP_ALL_GATHER_V = 10;
    /** All-reduces up to this size: every rank reduces the whole buffer from staged copies in one round. */
    static final long ONE_ROUND_ALL_REDUCE_BYTES = 32 * 1024;

    private static final VarHandle LONG = ShmRegion.LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LNG = ValueLayout.JAVA_LONG;
    private static final DType[] DTYPES = DType.values();
    private static final ReduceOp[] OPS = ReduceOp.values();

    final ShmWorld world;
    final int channel;
    final int rank;
    final int size;
    final int[] members;
    private final MemorySegment[] segs;
    private final MemorySegment own;
    private final int ownRegion;
    private final long ch;
    private final long stagingHalf;
    private final long[] stagingOff = new long[2];
    private final long p2pSlot;
    private final long p2pBase;
    private final long stagingAllocation;
    private long timeoutNs;
    private final boolean debug;
    private final long spinNs;
    private final long livenessNs;
    private final ReductionKernel kernel = ReductionKernel.create();
    /** Bytes this rank copies out of peers' memory (received) and peers copy out of its memory (sent). */
    final TrafficCounters counters = new TrafficCounters();
    private final MemorySegment[] inSeg;
    private final long[] inOff;
    private final long[] sendChunks;
    private final long[] recvChunks;

    private long round;
    private long syncPhase;
    private long opCounter;
    private String opName = "none";
    private long opSeq;
    private long deadline;
    private long nextLiveness;
    private boolean armed;
    private volatile boolean aborted;
    private volatile Throwable abortCause;
    private boolean released;

    ShmChannel(ShmWorld world, int channel, int[] members, int rank, long stagingHalf) {
        this.world = world;
        this.channel = channel;
        this.members = members.clone();
        this.rank = rank;
        this.size = members.length;
        this.segs = new MemorySegment[size];
        for (int i = 0; i < size; i++) {
            segs[i] = world.segs[members[i]];
        }
        this.own = segs[rank];
        this.ownRegion = members[rank];
        this.ch = channelOffset(channel, world.size);
        this.stagingHalf = stagingHalf;
        this.p2pSlot = world.context.p2pSlotBytes();
        long p2pBytes = size > 1 ? 2L * size * p2pSlot : 0;
        this.stagingAllocation = world.arena.allocate(2 * stagingHalf + p2pBytes);
        this.stagingOff[0] = stagingAllocation;
        this.stagingOff[1] = stagingAllocation + stagingHalf;
        this.p2pBase = stagingAllocation + 2 * stagingHalf;
        // first touch now, not inside the first timed calls: the region is a sparse tmpfs file
        own.asSlice(stagingAllocation, 2 * stagingHalf + p2pBytes).fill((byte) 0);
        this.timeoutNs = world.context.timeoutNs();
        this.debug = world.context.debugChecks();
        this.spinNs = world.oversubscribed ? 0 : world.context.spinNs();
        this.livenessNs = world.context.livenessIntervalNs();
        this.inSeg = new MemorySegment[size];
        this.inOff = new long[size];
        this.sendChunks = new long[size];
        this.recvChunks = new long[size];
        world.useChannel(channel);
        world.retain();
    }

    // ------------------------------------------------------------------ lifecycle

    boolean isAborted() {
        return aborted;
    }

    Throwable abortCause() {
        return abortCause;
    }

    /** Marks the channel aborted for every member (abort record, then the abort word) and records the cause. */
    void abort(Throwable cause) {
        if (aborted) {
            return;
        }
        abortCause = cause;
        aborted = true;
        if (!world.isReleased()) {
            try {
                writeAbortRecord(cause);
                LONG.setRelease(own, ch + ABORT_OFFSET, (long) (1 + rank));
            } catch (IllegalStateException ignored) {
                // unmapped concurrently: nothing to tell peers
            }
        }
    }

    private void writeAbortRecord(Throwable cause) {
        long a = ch + ABORT_OFFSET;
        int kind = ABORT_KIND_OTHER;
        List<Integer> missing = List.of();
        String op = opName;
        long seq = opSeq;
        if (cause instanceof ShmPeerDeadException e) {
            kind = ABORT_KIND_DEAD;
            missing = e.missingRanks();
            op = e.op();
            seq = e.seq();
        } else if (cause instanceof CollectiveTimeoutException e) {
            kind = ABORT_KIND_TIMEOUT;
            missing = e.missingRanks();
            op = e.op();
            seq = e.seq();
        } else if (cause instanceof CollectiveMismatchException) {
            kind = ABORT_KIND_MISMATCH;
        }
        own.set(INT, a + ABORT_KIND, kind);
        int m = Math.min(missing.size(), MAX_ABORT_MISSING);
        own.set(INT, a + ABORT_MISSING_COUNT, m);
        own.set(LNG, a + ABORT_SEQ, seq);
        own.set(LNG, a + ABORT_TIMEOUT_NS, timeoutNs);
        for (int i = 0; i < m; i++) {
            own.set(INT, a + ABORT_MISSING + 4L * i, missing.get(i));
        }
        writeString(a + ABORT_OP, op, ABORT_OP_MAX_BYTES);
        String message = cause == null ? "aborted" : String.valueOf(cause.getMessage());
        writeString(a + ABORT_MESSAGE, message, ABORT_MESSAGE_MAX_BYTES);
    }

    private void writeString(long off, String value, int maxBytes) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(bytes.length, maxBytes);
        own.set(INT, off, n);
        MemorySegment.copy(bytes, 0, own, ValueLayout.JAVA_BYTE, off + 4, n);
    }

    private static String readString(MemorySegment s, long off, int maxBytes) {
        int n = Math.max(0, Math.min(maxBytes, s.get(INT, off)));
        byte[] bytes = new byte[n];
        MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off + 4, bytes, 0, n);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The failure that made member {@code p} abort, rebuilt from its abort record. */
    private RuntimeException peerCause(int p) {
        MemorySegment s = segs[p];
        long a = ch + ABORT_OFFSET;
        int kind = s.get(INT, a + ABORT_KIND);
        String op = readString(s, a + ABORT_OP, ABORT_OP_MAX_BYTES);
        String message = readString(s, a + ABORT_MESSAGE, ABORT_MESSAGE_MAX_BYTES);
        long seq = s.get(LNG, a + ABORT_SEQ);
        int m = Math.max(0, Math.min(MAX_ABORT_MISSING, s.get(INT, a + ABORT_MISSING_COUNT)));
        List<Integer> missing = new ArrayList<>(m);
        for (int i = 0; i < m; i++) {
            missing.add(s.get(INT, a + ABORT_MISSING + 4L * i));
        }
        return switch (kind) {
            case ABORT_KIND_TIMEOUT -> new CollectiveTimeoutException(op, seq, missing, s.get(LNG, a + ABORT_TIMEOUT_NS));
            case ABORT_KIND_MISMATCH -> new CollectiveMismatchException(message);
            default -> new CommunicatorAbortedException(message, null);
        };
    }

    /** Frees the staging buffers and drops the reference on the world (the last one unmaps the regions). */
    void release() {
        if (released) {
            return;
        }
        released = true;
        if (!world.isReleased()) {
            world.arena.free(stagingAllocation);
        }
        world.release();
    }

    /** Sets the deadline of the calls that start after this one (see {@link ShmCommunicator#overrideTimeoutNs}). */
    void timeoutNs(long timeoutNs) {
        this.timeoutNs = timeoutNs;
    }

    private void begin(String name) {
        if (aborted) {
            throw new CommunicatorAbortedException("communicator aborted: op=" + name + ", rank=" + rank
                + ", channel=" + channel, abortCause);
        }
        if (world.isReleased() || released) {
            throw new CommunicatorAbortedException("communicator closed: op=" + name + ", rank=" + rank, abortCause);
        }
        opName = name;
        opSeq = opCounter++;
        armed = false; // the deadline starts at the call's first wait: a call that never waits reads no clock
    }

    private void arm(long now) {
        if (!armed) {
            armed = true;
            deadline = now + timeoutNs;
            nextLiveness = now + livenessNs;
        }
    }

    /**
     * Runs {@code body} as one operation named {@code name}. A failure aborts the channel, tells the peers (abort
     * record) and releases this channel's shared memory at once (the world's mappings go when no channel uses them).
     */
    void run(String name, Runnable body) {
        begin(name);
        try {
            body.run();
        } catch (RuntimeException e) {
            throw failure(name, e);
        } catch (Error e) {
            fail(e);
            throw e;
        }
    }

    /** {@link #allReduce} as one operation, as {@link #run} does, without a capturing lambda (latency path). */
    void runAllReduce(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        begin("allReduce");
        try {
            allReduce(send, recv, count, dtype, op);
        } catch (RuntimeException e) {
            throw failure("allReduce", e);
        } catch (Error e) {
            fail(e);
            throw e;
        }
    }

    /** Aborts and releases after {@code e} ended operation {@code name}; returns what the caller throws. */
    private RuntimeException failure(String name, RuntimeException e) {
        if (e instanceof CollectiveException ce) {
            fail(ce instanceof CommunicatorAbortedException && ce.getCause() != null ? ce.getCause() : ce);
            return ce;
        }
        if (e instanceof IllegalStateException && (world.isReleased() || aborted)) {
            CommunicatorAbortedException ex = new CommunicatorAbortedException(
                name + " aborted: op=" + name + ", rank=" + rank + ", reason=communicator aborted while running",
                abortCause != null ? abortCause : e);
            fail(ex);
            return ex;
        }
        fail(e);
        return e;
    }

    private void fail(Throwable cause) {
        abort(cause);
        release();
    }

    // ------------------------------------------------------------------ waiting

    private long postLine(long k) {
        return ch + POST_OFFSET + (k & 1) * LINE;
    }

    private void post(long k, int opcode, long count, DType dtype, int redop, int root, int flags, int ptrRegion,
                      long ptrOff, int resRegion, long resOff) {
        long l = postLine(k);
        own.set(INT, l + OPCODE, opcode);
        own.set(LNG, l + COUNT, count);
        own.set(INT, l + IDENT, ident(dtype == null ? -1 : dtype.ordinal(), redop, root));
        own.set(INT, l + FLAGS, flags);
        own.set(INT, l + PTR_REGION, ptrRegion);
        own.set(LNG, l + PTR_OFFSET, ptrOff);
        own.set(INT, l + RES_REGION, resRegion);
        own.set(LNG, l + RES_OFFSET, resOff);
        LONG.setRelease(own, l + SEQ, k);
    }

    private void awaitPosts(long k) {
        long off = postLine(k) + SEQ;
        for (int p = 0; p < size; p++) {
            if (p != rank) {
                await(p, off, k);
            }
        }
    }

    private void await(int p, long off, long target) {
        if ((long) LONG.getAcquire(segs[p], off) >= target) {
            return;
        }
        awaitSlow(p, off, target);
    }

    private void awaitSlow(int p, long off, long target) {
        MemorySegment s = segs[p];
        long start = System.nanoTime();
        arm(start);
        long spinUntil = start + spinNs;
        while (true) {
            for (int j = 0; j < 64; j++) {
                if ((long) LONG.getAcquire(s, off) >= target) {
                    return;
                }
                Thread.onSpinWait();
            }
            long now = System.nanoTime();
            if (now - spinUntil > 0) {
                Thread.yield();
            }
            checkHealth(now, off, target, null);
        }
    }

    /** Throws if the call must end: local abort, a peer's abort word, a dead peer, or the deadline. */
    private void checkHealth(long now, long off, long target, List<Integer> missingOverride) {
        if (aborted) {
            throw new CommunicatorAbortedException(opName + " aborted: op=" + opName + ", seq=" + opSeq + ", rank="
                + rank + ", reason=aborted locally", abortCause);
        }
        int abortedBy = -1;
        for (int p = 0; p < size; p++) {
            if (p != rank && (long) LONG.getAcquire(segs[p], ch + ABORT_OFFSET) != 0) {
                abortedBy = p;
                break;
            }
        }
        if (abortedBy >= 0 || now - nextLiveness >= 0) {
            nextLiveness = now + livenessNs;
            List<Integer> dead = new ArrayList<>();
            for (int p = 0; p < size; p++) {
                if (p != rank && !world.isAlive(members[p])) {
                    dead.add(p);
                }
            }
            if (!dead.isEmpty()) {
                List<Integer> missing = missing(off, target, missingOverride, dead);
                StringBuilder pids = new StringBuilder();
                for (int d : dead) {
                    pids.append(pids.isEmpty() ? "" : ", ").append(d).append(":pid=").append(world.pids[members[d]]);
                }
                throw new ShmPeerDeadException(opName, opSeq, missing, dead, timeoutNs, "[" + pids + "]");
            }
        }
        if (abortedBy >= 0) {
            throw peerAbortFailure(abortedBy, off, target, missingOverride);
        }
        if (now - deadline >= 0) {
            throw new CollectiveTimeoutException(opName, opSeq, missing(off, target, missingOverride, List.of()),
                timeoutNs);
        }
    }

    /** What this rank throws when member {@code p} aborted: its own view of a shared timeout, else the cause. */
    private RuntimeException peerAbortFailure(int p, long off, long target, List<Integer> missingOverride) {
        RuntimeException peer = peerCause(p);
        MemorySegment s = segs[p];
        boolean sameCall = s.get(LNG, ch + ABORT_OFFSET + ABORT_SEQ) == opSeq
            && readString(s, ch + ABORT_OFFSET + ABORT_OP, ABORT_OP_MAX_BYTES).equals(opName);
        if (sameCall && peer instanceof CollectiveTimeoutException timeout) {
            List<Integer> missing = missing(off, target, missingOverride, List.of());
            return new CollectiveTimeoutException(opName, opSeq, missing.isEmpty() ? timeout.missingRanks() : missing,
                timeoutNs);
        }
        if (peer instanceof CollectiveMismatchException mismatch) {
            return new CollectiveMismatchException(mismatch.getMessage(), mismatch);
        }
        return Lifecycle.aborted(rank, size, peer);
    }

    private List<Integer> missing(long off, long target, List<Integer> override, List<Integer> dead) {
        List<Integer> result = new ArrayList<>();
        for (int p = 0; p < size; p++) {
            if (p == rank) {
                continue;
            }
            boolean behind = override != null ? override.contains(p)
                : (long) LONG.getAcquire(segs[p], off) < target;
            if (behind || dead.contains(p)) {
                result.add(p);
            }
        }
        return result;
    }

    /** Barrier over the SYNC counters. */
    private void sync() {
        long phase = ++syncPhase;
        LONG.setRelease(own, ch + SYNC_OFFSET, phase);
        for (int p = 0; p < size; p++) {
            if (p != rank) {
                await(p, ch + SYNC_OFFSET, phase);
            }
        }
    }

    // ------------------------------------------------------------------ call identity checks

    /**
     * The IDENT word of a POST line: dtype ordinal, reduce op ordinal and root (each -1 when the call has none) in
     * one int, bits 0-7, 8-15 and 16-31, so the whole call identity sits in the line's first cache line.
     */
    static int ident(int dtype, int redop, int root) {
        return (dtype & 0xFF) | (redop & 0xFF) << 8 | (root & 0xFFFF) << 16;
    }

    private static int identDtype(int ident) {
        int v = ident & 0xFF;
        return v == 0xFF ? -1 : v;
    }

    private static int identRedop(int ident) {
        int v = (ident >>> 8) & 0xFF;
        return v == 0xFF ? -1 : v;
    }

    private static int identRoot(int ident) {
        int v = ident >>> 16;
        return v == 0xFFFF ? -1 : v;
    }

    private void checkMatch(long k, int opcode, long count, DType dtype, int redop, int root) {
        checkMatch(k, opcode, count, dtype, redop, root, debug);
    }

    /** Compares every peer's call identity with this rank's; {@code strict} compares dtype, op and root too. */
    private void checkMatch(long k, int opcode, long count, DType dtype, int redop, int root, boolean strict) {
        long l = postLine(k);
        for (int p = 0; p < size; p++) {
            if (p != rank && (long) LONG.getAcquire(segs[p], ch + ABORT_OFFSET) != 0) {
                throw peerAbortFailure(p, l + SEQ, k, null);
            }
        }
        for (int p = 0; p < size; p++) {
            if (p == rank) {
                continue;
            }
            MemorySegment s = segs[p];
            int pOp = s.get(INT, l + OPCODE);
            long pCount = s.get(LNG, l + COUNT);
            int pIdent = s.get(INT, l + IDENT);
            boolean same = pOp == opcode && pCount == count;
            if (same && strict) {
                same = pIdent == ident(dtype == null ? -1 : dtype.ordinal(), redop, root);
            }
            if (!same) {
                String mine = describe(opcode, count, dtype == null ? -1 : dtype.ordinal(), redop, root);
                String theirs = describe(pOp, pCount, identDtype(pIdent), identRedop(pIdent), identRoot(pIdent));
                String message = rank < p
                    ? "mismatched collective: rank " + rank + " called " + mine + " but rank " + p + " called " + theirs
                    : "mismatched collective: rank " + p + " called " + theirs + " but rank " + rank + " called " + mine;
                throw new CollectiveMismatchException(message);
            }
        }
    }

    static CollectiveKind kind(int opcode) {
        return switch (opcode) {
            case OP_ALL_GATHER -> CollectiveKind.ALL_GATHER;
            case OP_REDUCE_SCATTER -> CollectiveKind.REDUCE_SCATTER;
            case OP_ALL_REDUCE -> CollectiveKind.ALL_REDUCE;
            case OP_BROADCAST -> CollectiveKind.BROADCAST;
            case OP_REDUCE -> CollectiveKind.REDUCE;
            case OP_ALL_TO_ALL -> CollectiveKind.ALL_TO_ALL;
            case OP_EXCHANGE -> CollectiveKind.SPLIT;
            case OP_ALL_GATHER_V -> CollectiveKind.ALL_GATHER_V;
            default -> CollectiveKind.BARRIER;
        };
    }

    private static String describe(int opcode, long count, int dtype, int redop, int root) {
        if ((opcode < OP_ALL_GATHER || opcode > OP_EXCHANGE) && opcode != OP_ALL_GATHER_V) {
            return "op#" + opcode;
        }
        return CallSignature.describe(kind(opcode), count, dtype >= 0 && dtype < DTYPES.length ? DTYPES[dtype] : null,
            redop >= 0 && redop < OPS.length ? OPS[redop] : null, root);
    }

    // ------------------------------------------------------------------ pointer helpers

    private int flagsOf(int p, long k) {
        return segs[p].get(INT, postLine(k) + FLAGS);
    }

    private MemorySegment ptrSeg(int p, long k) {
        return world.segs[segs[p].get(INT, postLine(k) + PTR_REGION)];
    }

    private long ptrOff(int p, long k) {
        return segs[p].get(LNG, postLine(k) + PTR_OFFSET);
    }

    private MemorySegment resSeg(int p, long k) {
        return world.segs[segs[p].get(INT, postLine(k) + RES_REGION)];
    }

    private long resOff(int p, long k) {
        return segs[p].get(LNG, postLine(k) + RES_OFFSET);
    }

    private boolean allFlag(long k, int flag) {
        for (int p = 0; p < size; p++) {
            if ((flagsOf(p, k) & flag) == 0) {
                return false;
            }
        }
        return true;
    }

    private boolean anyFlag(long k, int flag) {
        for (int p = 0; p < size; p++) {
            if ((flagsOf(p, k) & flag) != 0) {
                return true;
            }
        }
        return false;
    }

    /** Region of this process holding {@code s} entirely, or -1. */
    private int regionOf(MemorySegment s) {
        return s.byteSize() == 0 ? -1 : world.regionOf(s.address(), s.byteSize());
    }

    private long offsetIn(int region, MemorySegment s) {
        return s.address() - world.bases[region];
    }

    private static long roundDown(long bytes, long unit) {
        return Math.max(unit, bytes / unit * unit);
    }

    // ------------------------------------------------------------------ collectives

    /** {@code recv[p * bytes ..]} receives rank p's {@code send}; {@code bytes = count * dtype.byteSize()}. */
    void allGather(MemorySegment send, MemorySegment recv, long count, DType dtype) {
        int es = dtype.byteSize();
        long b = count * es;
        boolean inPlace = send.address() == recv.address() + rank * b && b > 0;
        int reg = regionOf(send);
        long r = b == 0 ? 0 : Math.min(b, roundDown(stagingHalf, es));
        long k = ++round;
        int flags;
        int ptrReg;
        long ptr;
        if (reg >= 0) {
            flags = FLAG_WHOLE_INPUT;
            ptrReg = reg;
            ptr = offsetIn(reg, send);
        } else {
            flags = 0;
            ptrReg = ownRegion;
            ptr = stagingOff[(int) (k & 1)];
            ShmCopy.copy(send, 0, own, ptr, r);
        }
        post(k, OP_ALL_GATHER, count, dtype, -1, -1, flags, ptrReg, ptr, -1, 0);
        if (!inPlace) {
            ShmCopy.copy(send, 0, recv, rank * b, b); // own chunk while peers arrive
        }
        awaitPosts(k);
        checkMatch(k, OP_ALL_GATHER, count, dtype, -1, -1);
        if (b == 0) {
            return;
        }
        boolean whole = allFlag(k, FLAG_WHOLE_INPUT);
        boolean exposed = anyFlag(k, FLAG_WHOLE_INPUT);
        long unit = whole ? b : r;
        long rounds = (b + unit - 1) / unit;
        for (long i = 0; i < rounds; i++) {
            long off = i * unit;
            long len = Math.min(unit, b - off);
            if (i > 0) {
                k = ++round;
                if (reg >= 0) {
                    post(k, OP_ALL_GATHER, count, dtype, -1, -1, FLAG_WHOLE_INPUT, reg, offsetIn(reg, send), -1, 0);
                } else {
                    long st = stagingOff[(int) (k & 1)];
                    ShmCopy.copy(send, off, own, st, len);
                    post(k, OP_ALL_GATHER, count, dtype, -1, -1, 0, ownRegion, st, -1, 0);
                }
                awaitPosts(k);
            }
            for (int p = 0; p < size; p++) {
                if (p == rank) {
                    continue;
                }
                long src = ptrOff(p, k) + ((flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0 ? off : 0);
                ShmCopy.copy(ptrSeg(p, k), src, recv, p * b + off, len);
                counters.received(len);
                counters.sent(len); // peer p copies the same range of this rank's input
            }
        }
        if (exposed) {
            sync();
        }
    }

    /**
     * Direct all-gather of views: every rank publishes a table of its send pieces (where each lives in shared memory,
     * dims, strides; see {@link ShmViews}) and every rank copies each peer's pieces straight from the peer's memory
     * into its receive views, once per byte. Pieces outside shared memory are first packed into this rank's staging
     * half (or, when larger, a temporary arena block); send views in the arena are published as they are, with no
     * staging. One round plus the final barrier that keeps the views alive while peers read them.
     *
     * @param total every rank's received element count (the same on every rank; matched like a count)
     * @return false (on every rank alike) when some rank had no shared memory for its table: nothing moved, and the
     *         caller falls back to the staged path
     * @throws CollectiveMismatchException if a peer's pieces do not match this rank's receive views
     */
    boolean allGatherv(List<Tensor> send, List<List<Tensor>> recv, long total, DType dtype) {
        int pieces = send.size();
        long[] region = new long[pieces];
        long packBytes = 0;
        for (int i = 0; i < pieces; i++) {
            Tensor t = send.get(i);
            long span = ShmViews.spanBytes(t);
            long address = span > 0 ? nativeAddress(t) : -1;
            int reg = address >= 0 ? world.regionOf(address, span) : -1;
            if (span > 0 && reg < 0) {
                packBytes += t.byteSize();
            }
            region[i] = reg;
        }
        long tableBytes = (ShmViews.tableBytes(send) + 63) / 64 * 64;
        long blockBytes = tableBytes + packBytes;
        long k = ++round;
        long block = -1;
        long arenaBlock = -1;
        if (blockBytes <= stagingHalf) {
            block = stagingOff[(int) (k & 1)];
        } else {
            try {
                arenaBlock = world.arena.allocate(blockBytes);
                block = arenaBlock;
            } catch (IllegalStateException noRoom) {
                block = -1;
            }
        }
        try {
            if (block < 0) {
                post(k, OP_ALL_GATHER_V, total, dtype, -1, -1, FLAG_NO_ROOM, ownRegion, 0, -1, 0);
            } else {
                ShmViews.writeHeader(own, block, pieces);
                long at = block + ShmViews.HEADER_BYTES;
                long pack = block + tableBytes;
                for (int i = 0; i < pieces; i++) {
                    Tensor t = send.get(i);
                    if (region[i] >= 0 || t.numel() == 0) {
                        at = ShmViews.writePiece(own, at, t, (int) region[i],
                            t.numel() == 0 ? 0 : nativeAddress(t) - world.bases[(int) region[i]], t.strides());
                    } else {
                        long[] dims = t.shape().dims();
                        long[] packed = ShmViews.contiguousStrides(dims);
                        packInto(t, own, pack, packed);
                        at = ShmViews.writePiece(own, at, t, ownRegion, pack, packed);
                        pack += t.byteSize();
                    }
                }
                post(k, OP_ALL_GATHER_V, total, dtype, -1, -1, 0, ownRegion, block, -1, 0);
            }
            awaitPosts(k);
            checkMatch(k, OP_ALL_GATHER_V, total, dtype, -1, -1);
            if (anyFlag(k, FLAG_NO_ROOM)) {
                return false; // nobody read anything: the staged path starts from scratch
            }
            List<Tensor> mine = recv.get(rank);
            for (int i = 0; i < pieces; i++) {
                Tensor s = send.get(i);
                Tensor d = mine.get(i);
                if (!AllGatherViews.sameView(s, d)) {
                    d.copyFrom(s);
                }
            }
            long ownBytes = 0;
            for (Tensor t : send) {
                ownBytes += t.byteSize();
            }
            for (int j = 1; j < size; j++) {
                int q = (rank + j) % size;
                receivePieces(q, k, recv.get(q));
            }
            counters.sent(ownBytes * (size - 1)); // every peer copies each of this rank's pieces once
            sync();
            return true;
        } finally {
            if (arenaBlock >= 0 && !world.isReleased()) {
                world.arena.free(arenaBlock);
            }
        }
    }

    /** Copies member {@code q}'s pieces, as its table of round {@code k} describes them, into {@code into}. */
    private void receivePieces(int q, long k, List<Tensor> into) {
        MemorySegment table = ptrSeg(q, k);
        long at = ptrOff(q, k);
        int n = ShmViews.pieces(table, at);
        if (n != into.size()) {
            throw viewMismatch(q, "pieces", n, into.size());
        }
        at += ShmViews.HEADER_BYTES;
        for (int i = 0; i < n; i++) {
            Tensor dst = into.get(i);
            int ndim = ShmViews.ndim(table, at);
            DType pdt = ShmViews.dtype(table, at);
            long[] dims = dst.shape().dims();
            boolean same = pdt == dst.dtype() && ndim == dims.length;
            for (int d = 0; same && d < ndim; d++) {
                same = ShmViews.dim(table, at, d) == dims[d];
            }
            if (!same) {
                throw viewMismatch(q, "piece " + i, pdt + String.valueOf(ShmViews.shape(table, at, 64)),
                    dst.dtype() + dst.shape().toString());
            }
            int reg = ShmViews.region(table, at);
            if (dst.numel() > 0) {
                if (reg < 0 || reg >= world.size) {
                    throw new IllegalStateException("allGatherv piece outside shared memory: rank=" + q + ", piece="
                        + i + ", region=" + reg);
                }
                long[] srcStrides = new long[ndim];
                for (int d = 0; d < ndim; d++) {
                    srcStrides[d] = ShmViews.stride(table, at, ndim, d);
                }
                writeInto(dst, world.segs[reg], ShmViews.offset(table, at), srcStrides);
                counters.received(dst.byteSize());
            }
            at = ShmViews.next(table, at);
        }
    }

    /** Copies the piece at {@code (src, offset, strides)} into {@code dst}, run by run. */
    private static void writeInto(Tensor dst, MemorySegment src, long offset, long[] srcStrides) {
        long[] dims = dst.shape().dims();
        int es = dst.dtype().byteSize();
        if (dst.isContiguous()) {
            ShmViews.copyRuns(src, offset, srcStrides, dst.segment(), 0, dst.strides(), dims, es);
            return;
        }
        long address = nativeAddress(dst);
        if (address >= 0) {
            MemorySegment span = MemorySegment.ofAddress(address).reinterpret(ShmViews.spanBytes(dst));
            ShmViews.copyRuns(src, offset, srcStrides, span, 0, dst.strides(), dims, es);
            return;
        }
        // a strided view of heap memory: through one contiguous heap block
        Tensor packed = Tensor.wrap(MemorySegment.ofArray(new byte[(int) dst.byteSize()]), dst.dtype(), dst.shape());
        ShmViews.copyRuns(src, offset, srcStrides, packed.segment(), 0, ShmViews.contiguousStrides(dims), dims, es);
        dst.copyFrom(packed);
    }

    /** Copies {@code t} (any layout, any host memory) into {@code dst} at {@code at}, element strides {@code strides}. */
    private static void packInto(Tensor t, MemorySegment dst, long at, long[] strides) {
        long[] dims = t.shape().dims();
        int es = t.dtype().byteSize();
        long address = nativeAddress(t);
        if (t.isContiguous()) {
            ShmViews.copyRuns(t.segment(), 0, t.strides(), dst, at, strides, dims, es);
        } else if (address >= 0) {
            MemorySegment span = MemorySegment.ofAddress(address).reinterpret(ShmViews.spanBytes(t));
            ShmViews.copyRuns(span, 0, t.strides(), dst, at, strides, dims, es);
        } else {
            Tensor.wrap(dst.asSlice(at, t.byteSize()), t.dtype(), t.shape()).copyFrom(t);
        }
    }

    /**
     * The address of {@code t}'s first element, or -1 when it lives on the Java heap (no address). Strided heap
     * views are told apart only by {@link Tensor#dataPointer()} refusing them, hence the caught exception there.
     */
    private static long nativeAddress(Tensor t) {
        if (t.isContiguous()) {
            MemorySegment s = t.segment();
            return s.isNative() ? s.address() : -1;
        }
        try {
            return t.dataPointer().address();
        } catch (IllegalStateException heap) {
            return -1;
        }
    }

    private CollectiveMismatchException viewMismatch(int peer, String what, Object sent, Object expected) {
        return new CollectiveMismatchException("allGatherv views do not match: " + what + ", rank " + peer + " sends "
            + sent + ", rank " + rank + " receives " + expected);
    }

    /** {@code recv} (count elements) receives the reduction of slice {@code rank} of every rank's {@code send}. */
    void reduceScatter(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        int es = dtype.byteSize();
        long b = count * es;
        int reg = regionOf(send);
        long r = b == 0 ? 0 : Math.min(b, roundDown(stagingHalf / size, es));
        long k = ++round;
        int flags = 0;
        int ptrReg = ownRegion;
        long ptr;
        if (reg >= 0) {
            flags = FLAG_WHOLE_INPUT;
            ptrReg = reg;
            ptr = offsetIn(reg, send);
        } else {
            ptr = stagingOff[(int) (k & 1)];
            stageSlices(send, b, 0, r, ptr, r);
        }
        post(k, OP_REDUCE_SCATTER, count, dtype, op.ordinal(), -1, flags, ptrReg, ptr, -1, 0);
        awaitPosts(k);
        checkMatch(k, OP_REDUCE_SCATTER, count, dtype, op.ordinal(), -1);
        if (b == 0) {
            return;
        }
        boolean whole = allFlag(k, FLAG_WHOLE_INPUT);
        boolean exposed = anyFlag(k, FLAG_WHOLE_INPUT);
        long unit = whole ? b : r;
        long rounds = (b + unit - 1) / unit;
        for (long i = 0; i < rounds; i++) {
            long off = i * unit;
            long len = Math.min(unit, b - off);
            if (i > 0) {
                k = ++round;
                if (reg >= 0) {
                    post(k, OP_REDUCE_SCATTER, count, dtype, op.ordinal(), -1, FLAG_WHOLE_INPUT, reg,
                        offsetIn(reg, send), -1, 0);
                } else {
                    long st = stagingOff[(int) (k & 1)];
                    stageSlices(send, b, off, len, st, r);
                    post(k, OP_REDUCE_SCATTER, count, dtype, op.ordinal(), -1, 0, ownRegion, st, -1, 0);
                }
                awaitPosts(k);
            }
            for (int p = 0; p < size; p++) {
                if (p == rank) {
                    inSeg[p] = send;
                    inOff[p] = rank * b + off;
                } else {
                    inSeg[p] = ptrSeg(p, k);
                    boolean z = (flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0;
                    inOff[p] = ptrOff(p, k) + (z ? rank * b + off : rank * r);
                }
            }
            kernel.reduce(dtype, op, inSeg, inOff, 0, size, recv, off, len / es, size);
            counters.received(len * (size - 1));
            counters.sent(len * (size - 1)); // every peer reads the same range of its slice of this rank's input
        }
        if (exposed) {
            sync();
        }
    }

    /** Copies sub-range {@code [off, off + len)} of every slice but this rank's into staging at {@code p * stride}. */
    private void stageSlices(MemorySegment send, long sliceBytes, long off, long len, long staging, long stride) {
        for (int p = 0; p < size; p++) {
            if (p != rank) {
                ShmCopy.copy(send, p * sliceBytes + off, own, staging + p * stride, len);
            }
        }
    }

    /** Element-wise reduction of every rank's {@code send} into every rank's {@code recv} (count elements). */
    void allReduce(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        int es = dtype.byteSize();
        long s = count * es;
        if (s <= INLINE_CAPACITY) {
            allReduceInline(send, recv, count, dtype, op);
        } else if (s <= Math.min(ONE_ROUND_ALL_REDUCE_BYTES, stagingHalf)) {
            allReduceOneRound(send, recv, count, dtype, op);
        } else {
            allReduceSliced(send, recv, count, dtype, op);
        }
    }

    /**
     * Up to {@link ShmCommDescriptor#INLINE_CAPACITY} bytes: the data, opcode, count and IDENT go into the first
     * cache line of POST line {@code k & 1}, published by one release store of SEQ (sequence-numbered, so no reset
     * round); each peer's line is read after one acquire spin on its SEQ, and every rank reduces all lines in rank
     * order. In place and out of place cost the same: the input is copied into the line first.
     */
    private void allReduceInline(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        long k = ++round;
        long l = postLine(k);
        int id = ident(dtype.ordinal(), op.ordinal(), -1);
        MemorySegment.copy(send, 0, own, l + INLINE, count * dtype.byteSize());
        own.set(INT, l + OPCODE, OP_ALL_REDUCE);
        own.set(INT, l + IDENT, id);
        own.set(LNG, l + COUNT, count);
        LONG.setRelease(own, l + SEQ, k);
        for (int p = 0; p < size; p++) {
            if (p == rank) {
                continue;
            }
            await(p, l + SEQ, k);
            MemorySegment s = segs[p];
            if (s.get(INT, l + OPCODE) != OP_ALL_REDUCE || s.get(LNG, l + COUNT) != count
                || s.get(INT, l + IDENT) != id) {
                awaitPosts(k);
                checkMatch(k, OP_ALL_REDUCE, count, dtype, op.ordinal(), -1, true);
            }
        }
        kernel.reduceSmall(dtype, op, segs, size, l + INLINE, recv, 0, count, size);
        counters.received(count * dtype.byteSize() * (size - 1));
        counters.sent(count * dtype.byteSize() * (size - 1));
    }

    private void allReduceOneRound(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        long s = count * dtype.byteSize();
        long k = ++round;
        long st = stagingOff[(int) (k & 1)];
        ShmCopy.copy(send, 0, own, st, s);
        post(k, OP_ALL_REDUCE, count, dtype, op.ordinal(), -1, 0, ownRegion, st, -1, 0);
        awaitPosts(k);
        checkMatch(k, OP_ALL_REDUCE, count, dtype, op.ordinal(), -1);
        for (int p = 0; p < size; p++) {
            inSeg[p] = ptrSeg(p, k);
            inOff[p] = ptrOff(p, k);
        }
        kernel.reduce(dtype, op, inSeg, inOff, 0, size, recv, 0, count, size);
        counters.received(s * (size - 1));
        counters.sent(s * (size - 1));
    }

    private long sliceStart(long count, int q) {
        long base = count / size;
        long rem = count % size;
        return q * base + Math.min(q, rem);
    }

    private long sliceCount(long count, int q) {
        return count / size + (q < count % size ? 1 : 0);
    }

    /** Reduce-scatter into slices, then all-gather of the slices; rounds of at most stagingHalf / size per slice. */
    private void allReduceSliced(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        int es = dtype.byteSize();
        long maxSlice = (count + size - 1) / size;
        long unitStaged = Math.min(maxSlice, Math.max(1, stagingHalf / size / es));
        int inReg = regionOf(send);
        int outReg = regionOf(recv);
        long k = ++round;
        postAllReduceRound(k, send, recv, count, dtype, op, inReg, outReg, 0, unitStaged, maxSlice);
        awaitPosts(k);
        checkMatch(k, OP_ALL_REDUCE, count, dtype, op.ordinal(), -1);
        boolean whole = allFlag(k, FLAG_WHOLE_INPUT) && allFlag(k, FLAG_WHOLE_OUTPUT);
        boolean exposed = anyFlag(k, FLAG_WHOLE_INPUT | FLAG_WHOLE_OUTPUT);
        long unit = whole ? maxSlice : unitStaged;
        long rounds = (maxSlice + unit - 1) / unit;
        for (long i = 0; i < rounds; i++) {
            if (i > 0) {
                k = ++round;
                postAllReduceRound(k, send, recv, count, dtype, op, inReg, outReg, i, unit, maxSlice);
                awaitPosts(k);
            }
            // phase 1: reduce my slice's sub-range from every rank's input
            long myLen = clampLen(sliceCount(count, rank), i, unit);
            long myStart = sliceStart(count, rank) + i * unit;
            if (myLen > 0) {
                for (int p = 0; p < size; p++) {
                    if (p == rank) {
                        inSeg[p] = send;
                        inOff[p] = myStart * es;
                    } else {
                        inSeg[p] = ptrSeg(p, k);
                        boolean z = (flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0;
                        inOff[p] = ptrOff(p, k) + (z ? myStart * es : rank * unit * es);
                    }
                }
                if (outReg >= 0) {
                    kernel.reduce(dtype, op, inSeg, inOff, 0, size, recv, myStart * es, myLen, size);
                } else {
                    kernel.reduce(dtype, op, inSeg, inOff, 0, size, own, stagingOff[(int) (k & 1)] + rank * unit * es,
                        myLen, size);
                }
                counters.received(myLen * es * (size - 1));
            }
            for (int p = 0; p < size; p++) {
                if (p != rank) {
                    counters.sent(clampLen(sliceCount(count, p), i, unit) * es); // p reduces its slice from mine
                }
            }
            sync();
            // phase 2: gather every slice's reduced sub-range
            for (int p = 0; p < size; p++) {
                long len = clampLen(sliceCount(count, p), i, unit);
                if (len <= 0) {
                    continue;
                }
                long start = sliceStart(count, p) + i * unit;
                if (p == rank) {
                    if (outReg < 0) {
                        ShmCopy.copy(own, stagingOff[(int) (k & 1)] + rank * unit * es, recv, start * es, len * es);
                    }
                    continue;
                }
                boolean z = (flagsOf(p, k) & FLAG_WHOLE_OUTPUT) != 0;
                long src = resOff(p, k) + (z ? start * es : p * unit * es);
                ShmCopy.copy(resSeg(p, k), src, recv, start * es, len * es);
                counters.received(len * es);
            }
            counters.sent(clampLen(sliceCount(count, rank), i, unit) * es * (size - 1)); // peers copy my slice

        }
        if (exposed) {
            sync();
        }
    }

    private static long clampLen(long sliceCount, long i, long unit) {
        return Math.max(0, Math.min(unit, sliceCount - i * unit));
    }

    private void postAllReduceRound(long k, MemorySegment send, MemorySegment recv, long count, DType dtype,
                                    ReduceOp op, int inReg, int outReg, long i, long unit, long maxSlice) {
        int es = dtype.byteSize();
        long st = stagingOff[(int) (k & 1)];
        int flags = 0;
        int ptrReg;
        long ptr;
        if (inReg >= 0) {
            flags |= FLAG_WHOLE_INPUT;
            ptrReg = inReg;
            ptr = offsetIn(inReg, send);
        } else {
            ptrReg = ownRegion;
            ptr = st;
            for (int p = 0; p < size; p++) {
                long len = clampLen(sliceCount(count, p), i, unit);
                if (p != rank && len > 0) {
                    ShmCopy.copy(send, (sliceStart(count, p) + i * unit) * es, own, st + p * unit * es, len * es);
                }
            }
        }
        int resReg;
        long res;
        if (outReg >= 0) {
            flags |= FLAG_WHOLE_OUTPUT;
            resReg = outReg;
            res = offsetIn(outReg, recv);
        } else {
            resReg = ownRegion;
            res = st;
        }
        post(k, OP_ALL_REDUCE, count, dtype, op.ordinal(), -1, flags, ptrReg, ptr, resReg, res);
    }

    /** Every rank's {@code recv} receives root's {@code send} ({@code send} is read on the root only). */
    void broadcast(MemorySegment send, MemorySegment recv, long count, DType dtype, int root) {
        int es = dtype.byteSize();
        long s = count * es;
        boolean isRoot = rank == root;
        int inReg = isRoot ? regionOf(send) : -1;
        int outReg = regionOf(recv);
        long r = s == 0 ? 0 : Math.min(s, roundDown(stagingHalf, es));
        long k = ++round;
        int flags = outReg >= 0 ? FLAG_WHOLE_OUTPUT : 0;
        int ptrReg = ownRegion;
        long ptr = 0;
        if (isRoot) {
            if (inReg >= 0) {
                flags |= FLAG_WHOLE_INPUT;
                ptrReg = inReg;
                ptr = offsetIn(inReg, send);
            } else {
                ptr = stagingOff[(int) (k & 1)];
                ShmCopy.copy(send, 0, own, ptr, r);
            }
        }
        post(k, OP_BROADCAST, count, dtype, -1, root, flags, ptrReg, ptr, outReg >= 0 ? outReg : -1,
            outReg >= 0 ? offsetIn(outReg, recv) : 0);
        awaitPosts(k);
        checkMatch(k, OP_BROADCAST, count, dtype, -1, root);
        if (s == 0) {
            return;
        }
        boolean whole = (flagsOf(root, k) & FLAG_WHOLE_INPUT) != 0;
        boolean rootInPlace = segs[root].get(LNG, postLine(k) + RES_OFFSET) == ptrOff(root, k)
            && segs[root].get(INT, postLine(k) + RES_REGION) == segs[root].get(INT, postLine(k) + PTR_REGION);
        if (isRoot && send.address() != recv.address()) {
            ShmCopy.copy(send, 0, recv, 0, s);
        }
        if (whole) {
            boolean coop = rootInPlace && allFlag(k, FLAG_WHOLE_OUTPUT);
            long part = coop ? roundDown(s / size, es) : 0;
            if (part >= s) {
                part = 0;
            }
            if (isRoot) {
                for (int p = 0; p < size && part > 0; p++) {
                    if (p != root) {
                        ShmCopy.copy(send, 0, resSeg(p, k), resOff(p, k), part);
                    }
                }
                counters.sent(s * (size - 1)); // part pushed by the root, the rest pulled by each peer
            } else {
                ShmCopy.copy(ptrSeg(root, k), ptrOff(root, k) + part, recv, part, s - part);
                counters.received(s);
            }
            sync();
            return;
        }
        long rounds = (s + r - 1) / r;
        for (long i = 0; i < rounds; i++) {
            long off = i * r;
            long len = Math.min(r, s - off);
            if (i > 0) {
                k = ++round;
                if (isRoot) {
                    long st = stagingOff[(int) (k & 1)];
                    ShmCopy.copy(send, off, own, st, len);
                    post(k, OP_BROADCAST, count, dtype, -1, root, 0, ownRegion, st, -1, 0);
                } else {
                    post(k, OP_BROADCAST, count, dtype, -1, root, 0, ownRegion, 0, -1, 0);
                }
                awaitPosts(k);
            }
            if (!isRoot) {
                ShmCopy.copy(ptrSeg(root, k), ptrOff(root, k), recv, off, len);
                counters.received(len);
            } else {
                counters.sent(len * (size - 1));
            }
        }
    }

    /** Root's {@code recv} receives the reduction of every rank's {@code send}. */
    void reduce(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op, int root) {
        int es = dtype.byteSize();
        long s = count * es;
        int reg = regionOf(send);
        long r = s == 0 ? 0 : Math.min(s, roundDown(stagingHalf, es));
        long k = ++round;
        int flags = 0;
        int ptrReg = ownRegion;
        long ptr;
        if (reg >= 0) {
            flags = FLAG_WHOLE_INPUT;
            ptrReg = reg;
            ptr = offsetIn(reg, send);
        } else {
            ptr = stagingOff[(int) (k & 1)];
            if (rank != root) {
                ShmCopy.copy(send, 0, own, ptr, r);
            }
        }
        post(k, OP_REDUCE, count, dtype, op.ordinal(), root, flags, ptrReg, ptr, -1, 0);
        awaitPosts(k);
        checkMatch(k, OP_REDUCE, count, dtype, op.ordinal(), root);
        if (s == 0) {
            return;
        }
        boolean whole = allFlag(k, FLAG_WHOLE_INPUT);
        boolean exposed = anyFlag(k, FLAG_WHOLE_INPUT);
        long unit = whole ? s : r;
        long rounds = (s + unit - 1) / unit;
        for (long i = 0; i < rounds; i++) {
            long off = i * unit;
            long len = Math.min(unit, s - off);
            if (i > 0) {
                k = ++round;
                if (reg >= 0) {
                    post(k, OP_REDUCE, count, dtype, op.ordinal(), root, FLAG_WHOLE_INPUT, reg, offsetIn(reg, send),
                        -1, 0);
                } else {
                    long st = stagingOff[(int) (k & 1)];
                    if (rank != root) {
                        ShmCopy.copy(send, off, own, st, len);
                    }
                    post(k, OP_REDUCE, count, dtype, op.ordinal(), root, 0, ownRegion, st, -1, 0);
                }
                awaitPosts(k);
            }
            if (rank == root) {
                for (int p = 0; p < size; p++) {
                    if (p == rank) {
                        inSeg[p] = send;
                        inOff[p] = off;
                    } else {
                        inSeg[p] = ptrSeg(p, k);
                        inOff[p] = ptrOff(p, k) + ((flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0 ? off : 0);
                    }
                }
                kernel.reduce(dtype, op, inSeg, inOff, 0, size, recv, off, len / es, size);
                counters.received(len * (size - 1));
            } else {
                counters.sent(len); // the root reads this range of this rank's input
            }
        }
        if (exposed) {
            sync();
        }
    }

    /** Block j of every rank's {@code send} goes to rank j, stored as block {@code rank}. */
    void allToAll(MemorySegment send, MemorySegment recv, long count, DType dtype) {
        int es = dtype.byteSize();
        long b = count / size * es;
        int reg = regionOf(send);
        long r = b == 0 ? 0 : Math.min(b, roundDown(stagingHalf / size, es));
        long k = ++round;
        int flags = 0;
        int ptrReg = ownRegion;
        long ptr;
        if (reg >= 0) {
            flags = FLAG_WHOLE_INPUT;
            ptrReg = reg;
            ptr = offsetIn(reg, send);
        } else {
            ptr = stagingOff[(int) (k & 1)];
            stageSlices(send, b, 0, r, ptr, r);
        }
        post(k, OP_ALL_TO_ALL, count, dtype, -1, -1, flags, ptrReg, ptr, -1, 0);
        awaitPosts(k);
        checkMatch(k, OP_ALL_TO_ALL, count, dtype, -1, -1);
        if (b == 0) {
            return;
        }
        ShmCopy.copy(send, rank * b, recv, rank * b, b);
        boolean whole = allFlag(k, FLAG_WHOLE_INPUT);
        boolean exposed = anyFlag(k, FLAG_WHOLE_INPUT);
        long unit = whole ? b : r;
        long rounds = (b + unit - 1) / unit;
        for (long i = 0; i < rounds; i++) {
            long off = i * unit;
            long len = Math.min(unit, b - off);
            if (i > 0) {
                k = ++round;
                if (reg >= 0) {
                    post(k, OP_ALL_TO_ALL, count, dtype, -1, -1, FLAG_WHOLE_INPUT, reg, offsetIn(reg, send), -1, 0);
                } else {
                    long st = stagingOff[(int) (k & 1)];
                    stageSlices(send, b, off, len, st, r);
                    post(k, OP_ALL_TO_ALL, count, dtype, -1, -1, 0, ownRegion, st, -1, 0);
                }
                awaitPosts(k);
            }
            for (int p = 0; p < size; p++) {
                if (p == rank) {
                    continue;
                }
                boolean z = (flagsOf(p, k) & FLAG_WHOLE_INPUT) != 0;
                long src = ptrOff(p, k) + (z ? rank * b + off : rank * r);
                ShmCopy.copy(ptrSeg(p, k), src, recv, p * b + off, len);
                counters.received(len);
                counters.sent(len); // peer p copies block p of this rank's input, the same range
            }
        }
        if (exposed) {
            sync();
        }
    }

    /** Returns once every member posted this round. */
    void barrier() {
        long k = ++round;
        post(k, OP_BARRIER, 0, null, -1, -1, 0, -1, 0, -1, 0);
        awaitPosts(k);
        checkMatch(k, OP_BARRIER, 0, null, -1, -1);
    }

    /**
     * All-gather of up to five longs per rank, inline in the POST line (used by split and group identity checks).
     *
     * @return {@code values.length * size} longs, rank-major
     */
    long[] exchange(int opcode, long[] values) {
        if (values.length * 8 > INLINE_CAPACITY) {
            throw new IllegalArgumentException("exchange too large: longs=" + values.length + ", max="
                + INLINE_CAPACITY / 8);
        }
        long k = ++round;
        long l = postLine(k);
        for (int i = 0; i < values.length; i++) {
            own.set(LNG, l + INLINE + 8L * i, values[i]);
        }
        post(k, opcode, values.length, null, -1, -1, 0, -1, 0, -1, 0);
        awaitPosts(k);
        checkMatch(k, opcode, values.length, null, -1, -1);
        long[] all = new long[values.length * size];
        for (int p = 0; p < size; p++) {
            for (int i = 0; i < values.length; i++) {
                all[p * values.length + i] = segs[p].get(LNG, l + INLINE + 8L * i);
            }
        }
        return all;
    }

    // ------------------------------------------------------------------ point to point

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
        return ch + P2P_OFFSET + (long) to * P2P_PEER_BYTES + (chunk & 1) * LINE;
    }

    private long ackLine(int from) {
        return ch + P2P_OFFSET + (long) from * P2P_PEER_BYTES + P2P_ACK_OFFSET;
    }

    private long p2pSlotOffset(int to, long chunk) {
        return p2pBase + ((long) to * 2 + (chunk & 1)) * p2pSlot;
    }

    /**
     * Runs sends and receives together without deadlock: every step polls, nothing blocks on one peer. Sends to one
     * peer go in order; each completes when the peer acknowledged its last chunk. Messages to oneself are copied.
     */
    void pointToPoint(List<P2p> ops) {
        matchSelf(ops);
        long start = System.nanoTime();
        arm(start);
        long spinUntil = start + spinNs;
        while (true) {
            boolean progress = false;
            boolean allDone = true;
            boolean[] sendBusy = new boolean[size];
            boolean[] recvBusy = new boolean[size];
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
                long now = System.nanoTime();
                if (now - spinUntil > 0) {
                    Thread.yield();
                } else {
                    Thread.onSpinWait();
                }
                List<Integer> waiting = new ArrayList<>();
                for (P2p op : ops) {
                    if (!op.complete && !waiting.contains(op.peer)) {
                        waiting.add(op.peer);
                    }
                }
                checkHealth(now, 0, 0, waiting);
            } else {
                spinUntil = System.nanoTime() + spinNs;
            }
        }
    }

    private void matchSelf(List<P2p> ops) {
        List<P2p> sends = new ArrayList<>();
        List<P2p> recvs = new ArrayList<>();
        for (P2p op : ops) {
            if (op.peer == rank) {
                (op.isSend ? sends : recvs).add(op);
            }
        }
        if (sends.size() != recvs.size()) {
            throw new CollectiveMismatchException("mismatched point-to-point to self: rank " + rank + " posted "
                + sends.size() + " sends and " + recvs.size() + " receives to itself");
        }
        for (int i = 0; i < sends.size(); i++) {
            P2p s = sends.get(i);
            P2p r = recvs.get(i);
            if (s.count != r.count || s.dtype != r.dtype) {
                throw new CollectiveMismatchException("mismatched point-to-point: rank " + rank + " sent (count="
                    + s.count + ", dtype=" + s.dtype + ") but rank " + rank + " received (count=" + r.count
                    + ", dtype=" + r.dtype + ")");
            }
            ShmCopy.copy(s.buf, 0, r.buf, 0, s.count * s.dtype.byteSize());
            s.complete = true;
            r.complete = true;
        }
    }

    private boolean progressSend(P2p op) {
        long bytes = op.count * op.dtype.byteSize();
        MemorySegment peerSeg = segs[op.peer];
        long acked = (long) LONG.getAcquire(peerSeg, ackLine(rank));
        if (op.posted && (long) LONG.getAcquire(peerSeg, ackLine(rank) + NACK_CHUNK) == op.firstChunk) {
            int dt = peerSeg.get(INT, ackLine(rank) + NACK_DTYPE);
            throw new CollectiveMismatchException(p2pMismatch(rank, op.count, op.dtype, op.peer,
                peerSeg.get(LNG, ackLine(rank) + NACK_COUNT), dt >= 0 && dt < DTYPES.length ? DTYPES[dt] : null));
        }
        if (op.posted && op.doneBytes >= bytes) {
            if (acked >= op.lastChunk) {
                op.complete = true;
                counters.sent(bytes);
                return true;
            }
            return false;
        }
        long chunk = sendChunks[op.peer] + 1;
        if (acked < chunk - 2) {
            return false; // slot chunk & 1 still holds chunk - 2
        }
        int reg = regionOf(op.buf);
        long line = sendLine(op.peer, chunk);
        long len;
        int ptrReg;
        long ptr;
        if (reg >= 0) {
            len = bytes;
            ptrReg = reg;
            ptr = offsetIn(reg, op.buf);
        } else {
            len = Math.min(p2pSlot, bytes - op.doneBytes);
            ptrReg = ownRegion;
            ptr = p2pSlotOffset(op.peer, chunk);
            ShmCopy.copy(op.buf, op.doneBytes, own, ptr, len);
        }
        own.set(INT, line + SEND_DTYPE, op.dtype.ordinal());
        own.set(INT, line + SEND_FLAGS, op.doneBytes == 0 ? 1 : 0);
        own.set(LNG, line + SEND_COUNT, op.count);
        own.set(INT, line + SEND_PTR_REGION, ptrReg);
        own.set(LNG, line + SEND_PTR_OFFSET, ptr);
        own.set(LNG, line + SEND_CHUNK_BYTES, len);
        LONG.setRelease(own, line + SEND_SEQ, chunk);
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
        MemorySegment peerSeg = segs[op.peer];
        long chunk = recvChunks[op.peer] + 1;
        long line = sendLine(rank, chunk);
        if ((long) LONG.getAcquire(peerSeg, line + SEND_SEQ) < chunk) {
            return false;
        }
        if (op.doneBytes == 0) {
            int dt = peerSeg.get(INT, line + SEND_DTYPE);
            long count = peerSeg.get(LNG, line + SEND_COUNT);
            if (count != op.count || dt != op.dtype.ordinal() || peerSeg.get(INT, line + SEND_FLAGS) != 1) {
                long ack = ackLine(op.peer);
                own.set(LNG, ack + NACK_COUNT, op.count);
                own.set(INT, ack + NACK_DTYPE, op.dtype.ordinal());
                LONG.setRelease(own, ack + NACK_CHUNK, chunk);
                throw new CollectiveMismatchException(p2pMismatch(op.peer, count,
                    dt >= 0 && dt < DTYPES.length ? DTYPES[dt] : null, rank, op.count, op.dtype));
            }
        }
        long len = peerSeg.get(LNG, line + SEND_CHUNK_BYTES);
        MemorySegment src = world.segs[peerSeg.get(INT, line + SEND_PTR_REGION)];
        ShmCopy.copy(src, peerSeg.get(LNG, line + SEND_PTR_OFFSET), op.buf, op.doneBytes, len);
        counters.received(len);
        op.doneBytes += len;
        recvChunks[op.peer] = chunk;
        LONG.setRelease(own, ackLine(op.peer), chunk);
        if (op.doneBytes >= bytes) {
            op.complete = true;
        }
        return true;
    }
}
