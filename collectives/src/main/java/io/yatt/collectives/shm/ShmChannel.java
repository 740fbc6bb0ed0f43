package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveException;
import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.collectives.internal.Lifecycle;
import io.yatt.collectives.internal.ReductionKernel;
import io.yatt.collectives.internal.TrafficCounters;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

import static io.yatt.collectives.shm.ShmCommDescriptor.*;

/**
 * The round driver of one shm communicator: the round protocol over its channel block in every member's region
 * (posting, waiting, call matching, failures); each collective is a named step that drives it
 * ({@link AllGatherStep}, {@link ReduceScatterStep}, {@link AllReduceStep}, {@link BroadcastStep}, {@link ReduceStep},
 * {@link AllToAllStep}, {@link AllGathervStep}; point to point: {@link ShmMailbox}).
 *
 * <p>Every collective is a sequence of rounds. In round {@code k} a rank writes its POST line {@code k & 1} (call
 * identity, flags, where its data for this round is: its own tensor when that lives in shared memory, else the
 * staging half {@code k & 1} it just copied into) and publishes {@code SEQ = k} with release; then it waits
 * (acquire) until every peer published {@code k} and reads peers' data in place. A rank reuses POST line and staging
 * half {@code k & 1} only at round {@code k + 2}, and it gets there only after every peer posted {@code k + 1},
 * which a peer does only after it finished reading round {@code k}: no acknowledgements are needed between rounds.
 * When some rank exposed its own tensor, a final barrier keeps it from returning (and letting the caller modify
 * the tensor) before peers are done reading. Small all-reduces carry their data inline in the POST line. The
 * OPCODE of a POST line is {@link #opcode(CollectiveKind)}.
 *
 * <p>Waiting spins ({@code Thread.onSpinWait}) for {@link io.yatt.collectives.ShmContext#spinNs()}, then yields until
 * {@link #PARK_AFTER_NS}, then sleeps on the awaited peer's futex doorbell ({@link ShmFutex}, at most
 * {@link #PARK_NS} per sleep; a barrier's waiter, which has nothing else to do, sleeps up to {@link #BARRIER_PARK_NS} once it
 * has waited {@link #BARRIER_PATIENT_AFTER_NS}); oversubscribed ranks (more local ranks than CPUs) sleep after the first 64 spins
 * instead of yielding, so a waiting rank leaves the core to the ranks that have work. A rank that publishes a
 * counter rings its doorbell (one futex wake) only while some peer sleeps on it. Every wake-up checks the deadline
 * (counted from the call's first wait), peers' abort words and (every
 * {@link io.yatt.collectives.ShmContext#livenessIntervalNs()}) whether peer processes are alive. Confined to the rank's thread,
 * except {@link #abort} which any thread may call.
 */
final class ShmChannel {
    private static final VarHandle LONG = ShmRegion.LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LNG = ValueLayout.JAVA_LONG;
    private static final DType[] DTYPES = DType.values();
    private static final ReduceOp[] OPS = ReduceOp.values();
    private static final CollectiveKind[] KINDS = CollectiveKind.values();

    final ShmWorld world;
    final int channel;
    final int rank;
    final int size;
    final int[] members;
    /** Every member's region, by member index. */
    final MemorySegment[] segs;
    /** This rank's region. */
    final MemorySegment own;
    /** This rank's region index in the world. */
    final int ownRegion;
    /** Offset of this channel's block in every region. */
    final long ch;
    final long stagingHalf;
    private final long[] stagingOff = new long[2];
    private final long stagingAllocation;
    private long timeoutNs;
    private final boolean debug;
    final long spinNs;
    /** Yielding gives way to sleeping on the doorbell after this much waiting (not oversubscribed). */
    static final long PARK_AFTER_NS = 1_000_000;
    /** Longest sleep on a doorbell: health checks (deadline, aborts, liveness) run at least this often. */
    static final long PARK_NS = 1_000_000;
    /**
     * A barrier ({@link #sync}) that has waited this long sleeps up to {@link #BARRIER_PARK_NS} at a time: the awaited
     * peer's arrival rings its doorbell and wakes it at once, so the longer sleep only spaces the health checks (and
     * the wake-ups that take the core from ranks still copying) from 1000 to 100 a second.
     */
    static final long BARRIER_PATIENT_AFTER_NS = 2_000_000;
    /** Longest sleep of a barrier waiter after {@link #BARRIER_PATIENT_AFTER_NS}. */
    static final long BARRIER_PARK_NS = 10_000_000;
    private static final VarHandle INT_VH = ValueLayout.JAVA_INT.varHandle();
    private final long parkAfterNs;
    private final MemorySegment bell;
    private final MemorySegment[] peerBells;
    private final MemorySegment parkTimeout;
    private final MemorySegment barrierParkTimeout;
    private final long livenessNs;
    final ReductionKernel kernel = ReductionKernel.create();
    /** Bytes this rank copies out of peers' memory (received) and peers copy out of its memory (sent). */
    final TrafficCounters counters = new TrafficCounters();
    /** Operand segments and offsets of a reduction, one per member (scratch of the reducing steps). */
    final MemorySegment[] inSeg;
    final long[] inOff;
    final ShmMailbox mailbox;
    private final AllGatherStep allGather = new AllGatherStep(this);
    private final ReduceScatterStep reduceScatter = new ReduceScatterStep(this);
    private final AllReduceStep allReduce = new AllReduceStep(this);
    private final BroadcastStep broadcast = new BroadcastStep(this);
    private final ReduceStep reduce = new ReduceStep(this);
    private final AllToAllStep allToAll = new AllToAllStep(this);
    private final AllGathervStep allGatherv = new AllGathervStep(this);

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
    /** Sleeps on a peer's doorbell so far (diagnostics: a wait that sleeps leaves the core to others). */
    private long doorbellSleeps;

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
        long p2pSlot = world.context.p2pSlotBytes();
        long p2pBytes = size > 1 ? 2L * size * p2pSlot : 0;
        this.stagingAllocation = world.arena.allocate(2 * stagingHalf + p2pBytes);
        this.stagingOff[0] = stagingAllocation;
        this.stagingOff[1] = stagingAllocation + stagingHalf;
        // first touch now, not inside the first timed calls: the region is a sparse tmpfs file
        own.asSlice(stagingAllocation, 2 * stagingHalf + p2pBytes).fill((byte) 0);
        this.timeoutNs = world.context.timeoutNs();
        this.debug = world.context.debugChecks();
        this.spinNs = world.oversubscribed ? 0 : world.context.spinNs();
        this.parkAfterNs = world.oversubscribed ? 0 : Math.max(spinNs, PARK_AFTER_NS);
        this.peerBells = new MemorySegment[size];
        for (int p = 0; p < size; p++) {
            peerBells[p] = segs[p].asSlice(ch + BELL_OFFSET, 4);
        }
        this.bell = peerBells[rank];
        this.parkTimeout = ShmFutex.AVAILABLE ? ShmFutex.timeout(Arena.ofAuto(), PARK_NS) : null;
        this.barrierParkTimeout = ShmFutex.AVAILABLE ? ShmFutex.timeout(Arena.ofAuto(), BARRIER_PARK_NS) : null;
        this.livenessNs = world.context.livenessIntervalNs();
        this.inSeg = new MemorySegment[size];
        this.inOff = new long[size];
        this.mailbox = new ShmMailbox(this, stagingAllocation + 2 * stagingHalf, p2pSlot);
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
                ShmAbortRecord.write(own, ch + ABORT_OFFSET, cause, opName, opSeq, timeoutNs);
                LONG.setRelease(own, ch + ABORT_OFFSET, (long) (1 + rank));
                ring();
            } catch (IllegalStateException ignored) {
                // unmapped concurrently: nothing to tell peers
            }
        }
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

    /** How many times this rank slept on a peer's doorbell on this channel (collectives and point-to-point). */
    long doorbellSleeps() {
        return doorbellSleeps;
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

    void arm(long now) {
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

    long postLine(long k) {
        return ch + POST_OFFSET + (k & 1) * LINE;
    }

    /** Publishes round {@code k}: the call identity and where this rank's data of the round lives. */
    void post(long k, CollectiveKind kind, long count, DType dtype, int redop, int root, int flags, int ptrRegion,
              long ptrOff, int resRegion, long resOff) {
        long l = postLine(k);
        own.set(INT, l + OPCODE, opcode(kind));
        own.set(LNG, l + COUNT, count);
        own.set(INT, l + IDENT, ident(dtype == null ? -1 : dtype.ordinal(), redop, root));
        own.set(INT, l + FLAGS, flags);
        own.set(INT, l + PTR_REGION, ptrRegion);
        own.set(LNG, l + PTR_OFFSET, ptrOff);
        own.set(INT, l + RES_REGION, resRegion);
        own.set(LNG, l + RES_OFFSET, resOff);
        LONG.setRelease(own, l + SEQ, k);
        ring();
    }

    /**
     * After a release store of a counter peers may wait on: wakes the peers sleeping on this rank's doorbell, if
     * any. The full fence orders the counter store before the SLEEPERS load (a sleeper increments SLEEPERS before
     * its last check of the counter), so a peer either sees the counter or is woken.
     */
    void ring() {
        VarHandle.fullFence();
        if ((int) INT_VH.getVolatile(own, ch + SLEEPERS_OFFSET) != 0) {
            INT_VH.getAndAdd(own, ch + BELL_OFFSET, 1);
            ShmFutex.wakeAll(bell);
        }
    }

    /** Starts round {@code k}: its number, and the staging half it owns. */
    long nextRound() {
        return ++round;
    }

    /** This rank's staging half of round {@code k} (offset in its region). */
    long staging(long k) {
        return stagingOff[(int) (k & 1)];
    }

    /** Whether member {@code p} has posted round {@code k} (no waiting). */
    boolean posted(int p, long k) {
        return (long) LONG.getAcquire(segs[p], postLine(k) + SEQ) >= k;
    }

    /**
     * The first peer after this rank, in ring order, that has posted round {@code k} and is not {@code done}; when none
     * has, waits for the first one not done (the steps that copy each peer's data as soon as it is posted).
     */
    int nextPosted(long k, boolean[] done) {
        int first = -1;
        for (int j = 1; j < size; j++) {
            int q = (rank + j) % size;
            if (!done[q]) {
                if (posted(q, k)) {
                    return q;
                }
                first = first < 0 ? q : first;
            }
        }
        awaitPost(first, k);
        return first;
    }

    /** Returns once member {@code p} posted round {@code k}. */
    void awaitPost(int p, long k) {
        await(p, postLine(k) + SEQ, k);
    }

    /** Returns once every peer posted round {@code k}. */
    void awaitPosts(long k) {
        long off = postLine(k) + SEQ;
        for (int p = 0; p < size; p++) {
            if (p != rank) {
                await(p, off, k);
            }
        }
    }

    /** Returns once member {@code p}'s counter at {@code off} reached {@code target}. */
    void await(int p, long off, long target) {
        if ((long) LONG.getAcquire(segs[p], off) >= target) {
            return;
        }
        awaitSlow(p, off, target, false);
    }

    /**
     * Waits as {@link #await} does; {@code barrier}: the caller has nothing else to do until the counter moves, so
     * after {@link #BARRIER_PATIENT_AFTER_NS} it sleeps up to {@link #BARRIER_PARK_NS} at a time.
     */
    private void awaitSlow(int p, long off, long target, boolean barrier) {
        MemorySegment s = segs[p];
        long start = System.nanoTime();
        arm(start);
        while (true) {
            for (int j = 0; j < 64; j++) {
                if ((long) LONG.getAcquire(s, off) >= target) {
                    return;
                }
                Thread.onSpinWait();
            }
            idle(start, p, off, target, null, barrier);
        }
    }

    /**
     * One idle step of a wait that began at {@code start} for member {@code p}'s counter at {@code off} to reach
     * {@code target}: nothing while spinning ({@link #spinNs}), a yield until {@link #PARK_AFTER_NS}, then a sleep on
     * {@code p}'s doorbell; then the health check ({@code missingOverride}: the ranks waited for, or {@code null} for
     * those whose counter is behind). Shared by the collectives' waits and the point-to-point mailbox.
     */
    void idle(long start, int p, long off, long target, List<Integer> missingOverride) {
        idle(start, p, off, target, missingOverride, false);
    }

    /** {@link #idle(long, int, long, long, List)}; a {@code barrier} wait sleeps longer once it waited a while. */
    private void idle(long start, int p, long off, long target, List<Integer> missingOverride, boolean barrier) {
        long now = System.nanoTime();
        if (now - start - parkAfterNs > 0 && parkTimeout != null) {
            boolean patient = barrier && now - start - BARRIER_PATIENT_AFTER_NS > 0;
            park(p, segs[p], off, target, patient ? barrierParkTimeout : parkTimeout);
            now = System.nanoTime();
        } else if (now - start - spinNs > 0) {
            Thread.yield();
        }
        checkHealth(now, off, target, missingOverride);
    }

    /** Sleeps on member {@code p}'s doorbell until it rings or {@code timeout} passes, unless the counter moved. */
    private void park(int p, MemorySegment s, long off, long target, MemorySegment timeout) {
        int seen = (int) INT_VH.getAcquire(s, ch + BELL_OFFSET);
        INT_VH.getAndAdd(s, ch + SLEEPERS_OFFSET, 1);
        try {
            if ((long) LONG.getAcquire(s, off) < target) {
                doorbellSleeps++;
                ShmFutex.await(peerBells[p], seen, timeout);
            }
        } finally {
            INT_VH.getAndAdd(s, ch + SLEEPERS_OFFSET, -1);
        }
    }

    /** Throws if the call must end: local abort, a peer's abort word, a dead peer, or the deadline. */
    void checkHealth(long now, long off, long target, List<Integer> missingOverride) {
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
        MemorySegment s = segs[p];
        RuntimeException peer = ShmAbortRecord.read(s, ch + ABORT_OFFSET);
        boolean sameCall = ShmAbortRecord.seq(s, ch + ABORT_OFFSET) == opSeq
            && ShmAbortRecord.op(s, ch + ABORT_OFFSET).equals(opName);
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

    /**
     * Barrier over the SYNC counters. Its waits sleep longer than other waits once they lasted
     * {@link #BARRIER_PATIENT_AFTER_NS} ({@link #BARRIER_PARK_NS}): a peer's arrival still wakes the waiter at once.
     */
    void sync() {
        long phase = arrive();
        long off = ch + SYNC_OFFSET;
        for (int p = 0; p < size; p++) {
            if (p != rank && (long) LONG.getAcquire(segs[p], off) < phase) {
                awaitSlow(p, off, phase, true);
            }
        }
    }

    /**
     * The first half of {@link #sync}: publishes that this rank reached the next barrier phase and returns it; the
     * caller then waits for each peer with {@link #arrived} / {@link #awaitArrival}, in any order, before its next
     * {@code arrive} or {@code sync}.
     */
    long arrive() {
        long phase = ++syncPhase;
        LONG.setRelease(own, ch + SYNC_OFFSET, phase);
        ring();
        return phase;
    }

    /** Whether member {@code p} reached barrier phase {@code phase} (no wait). */
    boolean arrived(int p, long phase) {
        return (long) LONG.getAcquire(segs[p], ch + SYNC_OFFSET) >= phase;
    }

    /** Waits until member {@code p} reaches barrier phase {@code phase}. */
    void awaitArrival(int p, long phase) {
        await(p, ch + SYNC_OFFSET, phase);
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

    void checkMatch(long k, CollectiveKind kind, long count, DType dtype, int redop, int root) {
        checkMatch(k, kind, count, dtype, redop, root, debug);
    }

    /** Compares every peer's call identity with this rank's; {@code strict} compares dtype, op and root too. */
    void checkMatch(long k, CollectiveKind kind, long count, DType dtype, int redop, int root, boolean strict) {
        checkNoPeerAborted(k);
        for (int p = 0; p < size; p++) {
            if (p != rank && !matches(p, k, kind, count, dtype, redop, root, strict)) {
                throw mismatch(p, k, kind, count, dtype, redop, root);
            }
        }
    }

    /**
     * {@link #checkMatch(long, CollectiveKind, long, DType, int, int)} for member {@code p} alone, which posted round
     * {@code k}: a rank that consumes each peer's post as soon as it arrives checks each before reading its data.
     */
    void checkMatch(long k, int p, CollectiveKind kind, long count, DType dtype, int redop, int root) {
        if (!matches(p, k, kind, count, dtype, redop, root, debug)) {
            checkNoPeerAborted(k); // a peer's abort explains a stale post line better than a mismatch
            throw mismatch(p, k, kind, count, dtype, redop, root);
        }
    }

    private void checkNoPeerAborted(long k) {
        long l = postLine(k);
        for (int p = 0; p < size; p++) {
            if (p != rank && (long) LONG.getAcquire(segs[p], ch + ABORT_OFFSET) != 0) {
                throw peerAbortFailure(p, l + SEQ, k, null);
            }
        }
    }

    private boolean matches(int p, long k, CollectiveKind kind, long count, DType dtype, int redop, int root,
                            boolean strict) {
        long l = postLine(k);
        MemorySegment s = segs[p];
        boolean same = s.get(INT, l + OPCODE) == opcode(kind) && s.get(LNG, l + COUNT) == count;
        if (same && strict) {
            same = s.get(INT, l + IDENT) == ident(dtype == null ? -1 : dtype.ordinal(), redop, root);
        }
        return same;
    }

    private CollectiveMismatchException mismatch(int p, long k, CollectiveKind kind, long count, DType dtype,
                                                 int redop, int root) {
        long l = postLine(k);
        MemorySegment s = segs[p];
        int pOp = s.get(INT, l + OPCODE);
        long pCount = s.get(LNG, l + COUNT);
        int pIdent = s.get(INT, l + IDENT);
        String mine = describe(opcode(kind), count, dtype == null ? -1 : dtype.ordinal(), redop, root);
        String theirs = describe(pOp, pCount, identDtype(pIdent), identRedop(pIdent), identRoot(pIdent));
        String message = rank < p
            ? "mismatched collective: rank " + rank + " called " + mine + " but rank " + p + " called " + theirs
            : "mismatched collective: rank " + p + " called " + theirs + " but rank " + rank + " called " + mine;
        return new CollectiveMismatchException(message);
    }

    /** The OPCODE word that names {@code kind} in a POST line (0 is never posted). */
    static int opcode(CollectiveKind kind) {
        return kind.ordinal() + 1;
    }

    private static String describe(int opcode, long count, int dtype, int redop, int root) {
        if (opcode < 1 || opcode > KINDS.length) {
            return "op#" + opcode;
        }
        return CallSignature.describe(KINDS[opcode - 1], count,
            dtype >= 0 && dtype < DTYPES.length ? DTYPES[dtype] : null,
            redop >= 0 && redop < OPS.length ? OPS[redop] : null, root);
    }

    // ------------------------------------------------------------------ pointer helpers

    int flagsOf(int p, long k) {
        return segs[p].get(INT, postLine(k) + FLAGS);
    }

    MemorySegment ptrSeg(int p, long k) {
        return world.segs[segs[p].get(INT, postLine(k) + PTR_REGION)];
    }

    long ptrOff(int p, long k) {
        return segs[p].get(LNG, postLine(k) + PTR_OFFSET);
    }

    MemorySegment resSeg(int p, long k) {
        return world.segs[segs[p].get(INT, postLine(k) + RES_REGION)];
    }

    long resOff(int p, long k) {
        return segs[p].get(LNG, postLine(k) + RES_OFFSET);
    }

    boolean allFlag(long k, int flag) {
        for (int p = 0; p < size; p++) {
            if ((flagsOf(p, k) & flag) == 0) {
                return false;
            }
        }
        return true;
    }

    boolean anyFlag(long k, int flag) {
        for (int p = 0; p < size; p++) {
            if ((flagsOf(p, k) & flag) != 0) {
                return true;
            }
        }
        return false;
    }

    /** Region of this process holding {@code s} entirely, or -1. */
    int regionOf(MemorySegment s) {
        return s.byteSize() == 0 ? -1 : world.regionOf(s.address(), s.byteSize());
    }

    long offsetIn(int region, MemorySegment s) {
        return s.address() - world.bases[region];
    }

    static long roundDown(long bytes, long unit) {
        return Math.max(unit, bytes / unit * unit);
    }

    // ------------------------------------------------------------------ the staged-round loop

    /**
     * A collective run by {@link #stagedRounds}: what this rank stages for a sub-range of its input when that input
     * is not in shared memory, and what it does with each sub-range once every member posted it.
     */
    interface StagedStep {
        /**
         * Copies what peers read of sub-range {@code [off, off + len)} into this rank's staging at {@code staging};
         * {@code slotBytes} is the staged unit (the stride between per-peer slots).
         */
        void stage(long off, long len, long staging, long slotBytes);

        /** Runs after round one is posted, before any wait (work that overlaps the peers' arrival). */
        default void whilePeersArrive() {
        }

        /** Consumes sub-range {@code [off, off + len)} of round {@code k}, which every member posted. */
        void consume(long k, long off, long len, long slotBytes);
    }

    /**
     * The loop of all-gather, reduce-scatter, reduce and all-to-all: round one publishes where this rank's input
     * lives (its own tensor when in shared memory, else sub-range 0 staged) and the call identity is matched; then
     * every sub-range (the whole input in one round when every rank exposed its tensor, else staged units of
     * {@code stagingHalf / stagedSlots}) is published and consumed in turn; a final barrier when any rank exposed its
     * own tensor, so it does not return while peers still read it.
     *
     * @param bytes the input bytes each round's sub-ranges cover (per slot)
     * @param stagedSlots how many slots of that size share one staging half (1, or {@code size} when every peer
     *                    reads its own slice)
     */
    void stagedRounds(StagedStep step, CollectiveKind kind, long count, DType dtype, int redop, int root,
                      MemorySegment send, long bytes, int stagedSlots) {
        int reg = regionOf(send);
        long r = bytes == 0 ? 0 : Math.min(bytes, roundDown(stagingHalf / stagedSlots, dtype.byteSize()));
        long k = ++round;
        postStaged(step, k, kind, count, dtype, redop, root, send, reg, 0, r, r);
        step.whilePeersArrive();
        awaitPosts(k);
        checkMatch(k, kind, count, dtype, redop, root);
        if (bytes == 0) {
            return;
        }
        boolean whole = allFlag(k, FLAG_WHOLE_INPUT);
        boolean exposed = anyFlag(k, FLAG_WHOLE_INPUT);
        long unit = whole ? bytes : r;
        long rounds = (bytes + unit - 1) / unit;
        for (long i = 0; i < rounds; i++) {
            long off = i * unit;
            long len = Math.min(unit, bytes - off);
            if (i > 0) {
                k = ++round;
                postStaged(step, k, kind, count, dtype, redop, root, send, reg, off, len, r);
                awaitPosts(k);
            }
            step.consume(k, off, len, r);
        }
        if (exposed) {
            sync();
        }
    }

    private void postStaged(StagedStep step, long k, CollectiveKind kind, long count, DType dtype, int redop,
                            int root, MemorySegment send, int reg, long off, long len, long slotBytes) {
        if (reg >= 0) {
            post(k, kind, count, dtype, redop, root, FLAG_WHOLE_INPUT, reg, offsetIn(reg, send), -1, 0);
        } else {
            long st = staging(k);
            step.stage(off, len, st, slotBytes);
            post(k, kind, count, dtype, redop, root, 0, ownRegion, st, -1, 0);
        }
    }

    /** Copies sub-range {@code [off, off + len)} of every slice but this rank's into staging at {@code p * stride}. */
    void stageSlices(MemorySegment send, long sliceBytes, long off, long len, long staging, long stride) {
        for (int p = 0; p < size; p++) {
            if (p != rank) {
                ShmCopy.copy(send, p * sliceBytes + off, own, staging + p * stride, len);
            }
        }
    }

    // ------------------------------------------------------------------ collectives (one step each)

    /** {@code recv[p * bytes ..]} receives rank p's {@code send}; {@code bytes = count * dtype.byteSize()}. */
    void allGather(MemorySegment send, MemorySegment recv, long count, DType dtype) {
        allGather.run(send, recv, count, dtype);
    }

    /**
     * Direct all-gather of views (see {@link AllGathervStep}).
     *
     * @return false (on every rank alike) when some rank had no shared memory for its table: nothing moved
     */
    boolean allGatherv(List<Tensor> send, List<List<Tensor>> recv, long total, DType dtype, Allocator scratch) {
        return allGatherv.run(send, recv, total, dtype, scratch);
    }

    /** {@code recv} (count elements) receives the reduction of slice {@code rank} of every rank's {@code send}. */
    void reduceScatter(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        reduceScatter.run(send, recv, count, dtype, op);
    }

    /** Element-wise reduction of every rank's {@code send} into every rank's {@code recv} (count elements). */
    void allReduce(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op) {
        allReduce.run(send, recv, count, dtype, op);
    }

    /** Every rank's {@code recv} receives root's {@code send} ({@code send} is read on the root only). */
    void broadcast(MemorySegment send, MemorySegment recv, long count, DType dtype, int root) {
        broadcast.run(send, recv, count, dtype, root);
    }

    /** Root's {@code recv} receives the reduction of every rank's {@code send}. */
    void reduce(MemorySegment send, MemorySegment recv, long count, DType dtype, ReduceOp op, int root) {
        reduce.run(send, recv, count, dtype, op, root);
    }

    /** Block j of every rank's {@code send} goes to rank j, stored as block {@code rank}. */
    void allToAll(MemorySegment send, MemorySegment recv, long count, DType dtype) {
        allToAll.run(send, recv, count, dtype);
    }

    /** Sends and receives of one batch, progressed together (see {@link ShmMailbox}). */
    void pointToPoint(List<ShmMailbox.P2p> ops) {
        mailbox.run(ops);
    }

    /** Returns once every member posted this round. */
    void barrier() {
        long k = ++round;
        post(k, CollectiveKind.BARRIER, 0, null, -1, -1, 0, -1, 0, -1, 0);
        awaitPosts(k);
        checkMatch(k, CollectiveKind.BARRIER, 0, null, -1, -1);
    }

    /**
     * All-gather of up to five longs per rank, inline in the POST line (used by split and group identity checks).
     *
     * @return {@code values.length * size} longs, rank-major
     */
    long[] exchange(CollectiveKind kind, long[] values) {
        if (values.length * 8 > INLINE_CAPACITY) {
            throw new IllegalArgumentException("exchange too large: longs=" + values.length + ", max="
                + INLINE_CAPACITY / 8);
        }
        long k = ++round;
        long l = postLine(k);
        for (int i = 0; i < values.length; i++) {
            own.set(LNG, l + INLINE + 8L * i, values[i]);
        }
        post(k, kind, values.length, null, -1, -1, 0, -1, 0, -1, 0);
        awaitPosts(k);
        checkMatch(k, kind, values.length, null, -1, -1);
        long[] all = new long[values.length * size];
        for (int p = 0; p < size; p++) {
            for (int i = 0; i < values.length; i++) {
                all[p * values.length + i] = segs[p].get(LNG, l + INLINE + 8L * i);
            }
        }
        return all;
    }
}
