package io.yatt.collectives.inprocess;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.AllGatherViews;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.collectives.internal.CollectiveChecks;
import io.yatt.collectives.internal.CommunicatorBase;
import io.yatt.collectives.internal.ReductionKernel;
import io.yatt.collectives.internal.TrafficCounters;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

import static io.yatt.collectives.internal.Lifecycle.aborted;

/**
 * One rank of an in-process communicator. Every operation is posted to the shared slots, then the ranks meet at a
 * phase barrier and each rank moves data itself: all-gather copies the peers' send buffers straight into its own
 * recv (one copy per byte, the ranks copying in parallel); all-reduce reduces this rank's slice from every rank's
 * send into its own recv, meets, then copies the peers' reduced slices (reduce-scatter then all-gather, no staging);
 * a final barrier keeps every buffer alive until all peers are done with it. Large operations (at least
 * {@value #DYNAMIC_MIN_BYTES} bytes of output per rank) are cut into pieces of {@value #PIECE_BYTES} bytes that the
 * ranks claim from a shared ticket counter, so whichever rank threads are on a CPU do the work (with more ranks than
 * cores, or a busy machine, no rank waits for a descheduled peer's share); still one copy per byte. Barriers spin briefly
 * ({@link Thread#onSpinWait()}), yield, then park until the deadline; the synchronous path allocates nothing.
 *
 * <p>Confined to its rank's thread (and its own async thread); {@link #abort()} from any thread.
 */
public final class InProcessCommunicator extends CommunicatorBase<Call> {
    static final String BACKEND = "in-process";
    private static final int SPIN_LIMIT = 200;
    private static final int YIELD_LIMIT = 50;
    private static final long MAX_PARK_NS = 50_000_000L;
    /** Bytes per claimed piece of a large operation. */
    static final long PIECE_BYTES = 4 * 1024 * 1024;
    /** Output bytes per rank from which an operation is split into claimed pieces. */
    static final long DYNAMIC_MIN_BYTES = 2 * 1024 * 1024;

    private final Shared shared;
    private final ReductionKernel kernel = ReductionKernel.create();
    /** Added to by whichever rank thread moves this rank's bytes. */
    private final TrafficCounters counters = new TrafficCounters();
    private final MemorySegment[] operands;
    private final long[] sendPosts;
    private final long[] recvPosts;
    private Call[] p2pCalls = Shared.newCalls(2);
    private final int[] pairDst;
    private final int[] pairSrc;
    private long phase;
    /** First ticket of the next piece-claiming segment; the same on every rank. */
    private long claimBase;
    private volatile long waitPhase = -1;

    private InProcessCommunicator(Shared shared, int rank) {
        super("inprocess", rank, shared.size);
        this.shared = shared;
        this.operands = new MemorySegment[size];
        this.sendPosts = new long[size];
        this.recvPosts = new long[size];
        this.pairDst = new int[size * size];
        this.pairSrc = new int[size * size];
        shared.members[rank] = this;
    }

    /** Creates the {@code size} ranks of a new world; the context must be concluded. */
    public static List<InProcessCommunicator> createWorld(int size, Communicator.Context context) {
        Shared shared = new Shared(size, context);
        List<InProcessCommunicator> list = new ArrayList<>(size);
        for (int r = 0; r < size; r++) {
            list.add(new InProcessCommunicator(shared, r));
        }
        return List.copyOf(list);
    }

    /** Aborts a world made by {@link #createWorld} and everything split from it, and releases their threads. */
    public static void closeWorld(List<InProcessCommunicator> world) {
        if (world.isEmpty()) {
            return;
        }
        Shared root = world.getFirst().shared;
        root.abortTree(new CommunicatorAbortedException("in-process world closed: size=" + root.size, null));
        releaseTree(root);
    }

    private static void releaseTree(Shared shared) {
        for (InProcessCommunicator member : shared.members) {
            if (member != null) {
                member.stopAsyncThread();
            }
        }
        for (Shared child : shared.children) {
            releaseTree(child);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Operations: validate (before any data moves), then queue in an open group or run now.

    /**
     * Direct placement: after the phase barrier each rank copies every peer's send views straight into its own
     * receive views (strided copies by contiguous runs), one copy per byte; works inside a group.
     */
    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv) {
        checkUsable();
        GatherViews views = checkAllGatherv(send, recv);
        counters.call(CollectiveKind.ALL_GATHER_V);
        Call call = new Call().set(CollectiveKind.ALL_GATHER_V, null, null, views.total(), views.dtype(), null, -1,
                false);
        call.sendViews = views.send();
        call.recvViews = views.recv();
        if (queued(call)) {
            return;
        }
        shared.slots[rank][0].copyFrom(call);
        try {
            execute(nextSeq(), 1, 0);
        } finally {
            shared.slots[rank][0].release();
        }
    }

    /** {@link #allGatherv(List, List)}: direct placement needs no scratch, so nothing is charged to {@code scratch}. */
    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv, Allocator scratch) {
        Objects.requireNonNull(scratch, "scratch");
        allGatherv(send, recv);
    }

    @Override
    protected void collective(CollectiveKind kind, Tensor send, Tensor recv, long count, ReduceOp op, int root,
                              boolean inPlace) {
        post(kind, send == null ? null : send.segment(), recv == null ? null : recv.segment(), count, send, op, root,
                inPlace);
    }

    @Override
    protected void pointToPoint(CollectiveKind kind, Tensor tensor, int peer) {
        MemorySegment segment = tensor.segment();
        if (inGroup() || peer != rank) {
            counters.call(kind);
        }
        if (inGroup()) {
            if (kind == CollectiveKind.SEND) {
                int sends = 1;
                for (Call queued : groupCalls()) {
                    if (queued.kind == CollectiveKind.SEND && queued.root == peer) {
                        sends++;
                    }
                }
                if (sends > Shared.RING_CAPACITY) {
                    throw new IllegalArgumentException("too many sends to one peer in a group: peer=" + peer
                            + ", sends=" + sends + ", max=" + Shared.RING_CAPACITY);
                }
            }
            queued(new Call().set(kind, kind == CollectiveKind.SEND ? segment : null,
                    kind == CollectiveKind.RECV ? segment : null, tensor.numel(), tensor.dtype(), null, peer, false));
            return;
        }
        if (peer == rank) {
            throw new IllegalArgumentException(kind.opName() + " to self outside a group: peer=" + peer + ", rank=" + rank);
        }
        drainAsync();
        p2pCalls[0].set(kind, kind == CollectiveKind.SEND ? segment : null, kind == CollectiveKind.RECV ? segment : null,
                tensor.numel(), tensor.dtype(), null, peer, false);
        execute(nextSeq(), 0, 1);
    }

    @Override
    public Optional<Communicator> split(int color, int key) {
        beginSplit();
        counters.call(CollectiveKind.SPLIT);
        Call call = shared.slots[rank][0].set(CollectiveKind.SPLIT, null, null, 0, null, null, -1, false);
        call.color = color;
        call.key = key;
        execute(nextSeq(), 1, 0);
        Communicator result = (Communicator) call.result;
        call.release();
        return Optional.ofNullable(result);
    }

    @Override
    protected Throwable fail(Throwable cause) {
        return shared.abort(cause);
    }

    @Override
    protected Throwable abortCause() {
        return shared.abortCause.get();
    }

    /** Nothing beyond the async thread, which {@link #close()} ends: the world owns the shared slots. */
    @Override
    protected void release() {
    }

    @Override
    public String toString() {
        return "InProcessCommunicator{rank=" + rank + ", size=" + size + "}";
    }

    // ---------------------------------------------------------------------------------------------------------
    // Groups and async.

    @Override
    protected void runCalls(List<Call> calls, long opSeq) {
        int collectives = 0;
        int p2p = 0;
        for (Call call : calls) {
            if (call.kind.isCollective()) {
                collectives++;
            } else {
                p2p++;
            }
        }
        Call[] slot = ensureSlot(collectives);
        if (p2pCalls.length < p2p) {
            p2pCalls = Shared.newCalls(Math.max(p2p, p2pCalls.length * 2));
        }
        int c = 0;
        int p = 0;
        for (Call call : calls) {
            if (call.kind.isCollective()) {
                slot[c++].copyFrom(call);
            } else {
                p2pCalls[p++].copyFrom(call);
            }
        }
        try {
            execute(opSeq, collectives, p2p);
        } finally {
            for (int i = 0; i < collectives; i++) {
                slot[i].release();
            }
            for (int i = 0; i < p2p; i++) {
                p2pCalls[i].release();
            }
        }
    }

    private Call[] ensureSlot(int n) {
        Call[] slot = shared.slots[rank];
        if (slot.length < n) {
            Call[] grown = Arrays.copyOf(slot, Math.max(n, slot.length * 2));
            for (int i = slot.length; i < grown.length; i++) {
                grown[i] = new Call();
            }
            shared.slots[rank] = grown;
            slot = grown;
        }
        return slot;
    }

    private void post(CollectiveKind kind, MemorySegment send, MemorySegment recv, long count, Tensor typed,
                      ReduceOp op, int root, boolean inPlace) {
        counters.call(kind);
        if (inGroup()) {
            queued(new Call().set(kind, send, recv, count, typed == null ? null : typed.dtype(), op, root, inPlace));
            return;
        }
        drainAsync();
        shared.slots[rank][0].set(kind, send, recv, count, typed == null ? null : typed.dtype(), op, root, inPlace);
        try {
            execute(nextSeq(), 1, 0);
        } finally {
            shared.slots[rank][0].release();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Execution.

    /** Runs the first {@code collectives} calls of this rank's slot and the first {@code p2p} point-to-point calls. */
    private void execute(long opSeq, int collectives, int p2p) {
        long deadline = System.nanoTime() + shared.timeoutNs;
        Call[] slot = shared.slots[rank];
        for (int i = 0; i < p2p; i++) {
            if (p2pCalls[i].kind == CollectiveKind.SEND) {
                postSend(p2pCalls[i], opSeq, deadline, collectives, p2p);
            }
        }
        for (int i = 0; i < p2p; i++) {
            if (p2pCalls[i].kind == CollectiveKind.RECV) {
                receive(p2pCalls[i], opSeq, deadline, collectives, p2p);
            }
        }
        if (collectives > 0) {
            shared.slotCounts[rank] = collectives;
            barrier(opSeq, deadline, collectives, p2p);
            checkMatching();
            boolean second = false;
            for (int i = 0; i < collectives; i++) {
                second |= stepOne(slot[i], i);
            }
            if (second) {
                barrier(opSeq, deadline, collectives, p2p);
                for (int i = 0; i < collectives; i++) {
                    stepTwo(slot[i], i);
                }
            }
            barrier(opSeq, deadline, collectives, p2p);
        }
        for (int i = 0; i < p2p; i++) {
            Call call = p2pCalls[i];
            if (call.kind == CollectiveKind.SEND) {
                int pair = rank * size + call.root;
                awaitCounter(shared.consumed, pair, call.postNumber, call.root, opSeq, deadline, collectives, p2p);
            }
        }
    }

    /** Whether the call is large enough to be split into claimed pieces (the same verdict on every rank). */
    private boolean dynamic(Call call) {
        if (call.dtype == null || call.kind == CollectiveKind.ALL_GATHER_V) {
            return false;
        }
        long output = call.count * call.dtype.byteSize() * (call.kind == CollectiveKind.ALL_GATHER ? size : 1);
        return output >= DYNAMIC_MIN_BYTES;
    }

    /** Returns whether the call needs a second step after a barrier. */
    private boolean stepOne(Call call, int index) {
        if (dynamic(call)) {
            return dynamicStepOne(call, index);
        }
        Call[][] slots = shared.slots;
        long elementBytes = call.dtype == null ? 0 : call.dtype.byteSize();
        switch (call.kind) {
            case ALL_GATHER -> {
                long chunk = call.count * elementBytes;
                for (int k = 1; k <= size; k++) {
                    int q = (rank + k) % size;
                    if (q != rank || !call.inPlace) {
                        MemorySegment.copy(slots[q][index].send, 0, call.recv, q * chunk, chunk);
                        moved(q, rank, chunk);
                    }
                }
                return false;
            }
            case ALL_REDUCE -> {
                long lo = partition(call.count, rank);
                long hi = partition(call.count, rank + 1);
                for (int q = 0; q < size; q++) {
                    operands[q] = slots[q][index].send;
                }
                kernel.reduce(call.dtype, call.op, operands, null, lo * elementBytes, size, call.recv,
                        lo * elementBytes, hi - lo, size);
                reduced(rank, (hi - lo) * elementBytes);
                clearOperands();
                return true;
            }
            case REDUCE_SCATTER -> {
                for (int q = 0; q < size; q++) {
                    operands[q] = slots[q][index].send;
                }
                kernel.reduce(call.dtype, call.op, operands, null, rank * call.count * elementBytes, size, call.recv,
                        0, call.count, size);
                reduced(rank, call.count * elementBytes);
                clearOperands();
                return false;
            }
            case BROADCAST -> {
                if (rank != call.root) {
                    MemorySegment.copy(slots[call.root][index].send, 0, call.recv, 0, call.count * elementBytes);
                    moved(call.root, rank, call.count * elementBytes);
                } else if (!call.inPlace) {
                    MemorySegment.copy(call.send, 0, call.recv, 0, call.count * elementBytes);
                }
                return false;
            }
            case REDUCE -> {
                long lo = partition(call.count, rank);
                long hi = partition(call.count, rank + 1);
                for (int q = 0; q < size; q++) {
                    operands[q] = slots[q][index].send;
                }
                kernel.reduce(call.dtype, call.op, operands, null, lo * elementBytes, size,
                        slots[call.root][index].recv, lo * elementBytes, hi - lo, size);
                reduced(call.root, (hi - lo) * elementBytes);
                clearOperands();
                return false;
            }
            case ALL_TO_ALL -> {
                long chunk = call.count / size * elementBytes;
                for (int k = 1; k <= size; k++) {
                    int q = (rank + k) % size;
                    MemorySegment.copy(slots[q][index].send, rank * chunk, call.recv, q * chunk, chunk);
                    moved(q, rank, chunk);
                }
                return false;
            }
            case ALL_GATHER_V -> {
                for (int k = 1; k <= size; k++) {
                    int q = (rank + k) % size;
                    List<Tensor> from = q == rank ? call.sendViews : slots[q][index].sendViews;
                    List<Tensor> into = call.recvViews.get(q);
                    if (from.size() != into.size()) {
                        throw viewMismatch(q, "pieces", from.size(), into.size());
                    }
                    for (int i = 0; i < into.size(); i++) {
                        Tensor src = from.get(i);
                        Tensor dst = into.get(i);
                        if (!src.shape().equals(dst.shape()) || src.dtype() != dst.dtype()) {
                            throw viewMismatch(q, "piece " + i, src.dtype() + src.shape().toString(),
                                    dst.dtype() + dst.shape().toString());
                        }
                        if (q != rank || !AllGatherViews.sameView(src, dst)) {
                            dst.copyFrom(src);
                            moved(q, rank, dst.byteSize());
                        }
                    }
                }
                return false;
            }
            case BARRIER -> {
                return false;
            }
            case SPLIT -> {
                if (call.color >= 0 && leaderOf(call.color, index) == rank) {
                    Shared child = new Shared(membersOf(call.color, index).size(), shared.context);
                    shared.children.add(child);
                    if (shared.abortCause.get() != null) {
                        child.abort(shared.abortCause.get());
                    }
                    call.payload = child;
                }
                return true;
            }
            default -> throw new IllegalStateException("unreachable: kind=" + call.kind);
        }
    }

    private void stepTwo(Call call, int index) {
        if (dynamic(call)) {
            dynamicStepTwo(call, index);
            return;
        }
        switch (call.kind) {
            case ALL_REDUCE -> {
                long elementBytes = call.dtype.byteSize();
                for (int k = 1; k < size; k++) {
                    int q = (rank + k) % size;
                    long lo = partition(call.count, q);
                    long hi = partition(call.count, q + 1);
                    MemorySegment.copy(shared.slots[q][index].recv, lo * elementBytes, call.recv, lo * elementBytes,
                            (hi - lo) * elementBytes);
                    moved(q, rank, (hi - lo) * elementBytes);
                }
            }
            case SPLIT -> {
                if (call.color >= 0) {
                    List<Integer> members = membersOf(call.color, index);
                    Shared child = (Shared) shared.slots[leaderOf(call.color, index)][index].payload;
                    call.result = new InProcessCommunicator(child, members.indexOf(rank));
                }
            }
            default -> {
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Large operations: pieces claimed from the shared ticket counter. Every rank walks the same segments in the same
    // order, so claimBase agrees everywhere; a piece is done by exactly one rank.

    private static long pieces(long length, long pieceLength) {
        return (length + pieceLength - 1) / pieceLength;
    }

    /** The next ticket below {@code end}, or -1 when the segment is exhausted (never overshoots the counter). */
    private long claim(long end) {
        while (true) {
            long next = (long) Shared.LONGS.getVolatile(shared.claims, Shared.PAD);
            if (next >= end) {
                return -1;
            }
            if (Shared.LONGS.compareAndSet(shared.claims, Shared.PAD, next, next + 1)) {
                return next;
            }
        }
    }

    private boolean dynamicStepOne(Call call, int index) {
        Call[][] slots = shared.slots;
        long elementBytes = call.dtype.byteSize();
        switch (call.kind) {
            case ALL_GATHER, BROADCAST, ALL_TO_ALL -> {
                long chunk = call.kind == CollectiveKind.ALL_TO_ALL ? call.count / size * elementBytes
                        : call.count * elementBytes;
                int pairs = 0;
                for (int d = 0; d < size; d++) {
                    for (int k = 0; k < size; k++) {
                        int q = (d + k) % size;
                        boolean needed = switch (call.kind) {
                            case ALL_GATHER -> q != d || !slots[d][index].inPlace;
                            case BROADCAST -> k == 0 && (d != call.root || !slots[d][index].inPlace);
                            default -> true;
                        };
                        if (needed) {
                            pairDst[pairs] = d;
                            pairSrc[pairs] = call.kind == CollectiveKind.BROADCAST ? call.root : q;
                            pairs++;
                        }
                    }
                }
                long perPair = pieces(chunk, PIECE_BYTES);
                long base = claimBase;
                long end = base + pairs * perPair;
                claimBase = end;
                for (long t = claim(end); t >= 0; t = claim(end)) {
                    int pair = (int) ((t - base) / perPair);
                    long offset = (t - base) % perPair * PIECE_BYTES;
                    long length = Math.min(PIECE_BYTES, chunk - offset);
                    int d = pairDst[pair];
                    int q = pairSrc[pair];
                    switch (call.kind) {
                        case ALL_GATHER -> MemorySegment.copy(slots[q][index].send, offset, slots[d][index].recv,
                                q * chunk + offset, length);
                        case BROADCAST -> MemorySegment.copy(slots[q][index].send, offset, slots[d][index].recv,
                                offset, length);
                        default -> MemorySegment.copy(slots[q][index].send, d * chunk + offset, slots[d][index].recv,
                                q * chunk + offset, length);
                    }
                    moved(q, d, length);
                }
                return false;
            }
            case ALL_REDUCE, REDUCE, REDUCE_SCATTER -> {
                long pieceElements = PIECE_BYTES / elementBytes;
                long perTarget = pieces(call.count, pieceElements);
                int targets = call.kind == CollectiveKind.REDUCE_SCATTER ? size : 1;
                long base = claimBase;
                long end = base + targets * perTarget;
                claimBase = end;
                for (int q = 0; q < size; q++) {
                    operands[q] = slots[q][index].send;
                }
                for (long t = claim(end); t >= 0; t = claim(end)) {
                    long piece = (t - base) % perTarget;
                    int target = (int) ((t - base) / perTarget);
                    long lo = piece * pieceElements;
                    long length = Math.min(pieceElements, call.count - lo);
                    int into;
                    long srcOffset = lo * elementBytes;
                    switch (call.kind) {
                        case ALL_REDUCE -> into = (int) (piece % size);
                        case REDUCE -> into = call.root;
                        default -> {
                            into = target;
                            srcOffset = (target * call.count + lo) * elementBytes;
                        }
                    }
                    kernel.reduce(call.dtype, call.op, operands, null, srcOffset, size, slots[into][index].recv,
                            lo * elementBytes, length, size);
                    reduced(into, length * elementBytes);
                }
                clearOperands();
                return call.kind == CollectiveKind.ALL_REDUCE;
            }
            default -> throw new IllegalStateException("unreachable: kind=" + call.kind);
        }
    }

    /** All-reduce, second step: piece p was reduced into rank (p mod size)'s recv; copy it to every other rank. */
    private void dynamicStepTwo(Call call, int index) {
        if (call.kind != CollectiveKind.ALL_REDUCE) {
            return;
        }
        long elementBytes = call.dtype.byteSize();
        long pieceElements = PIECE_BYTES / elementBytes;
        long pieces = pieces(call.count, pieceElements);
        long base = claimBase;
        long end = base + pieces * (size - 1);
        claimBase = end;
        for (long t = claim(end); t >= 0; t = claim(end)) {
            long piece = (t - base) / (size - 1);
            int owner = (int) (piece % size);
            int dst = (owner + 1 + (int) ((t - base) % (size - 1))) % size;
            long lo = piece * pieceElements;
            long length = Math.min(pieceElements, call.count - lo);
            MemorySegment.copy(shared.slots[owner][index].recv, lo * elementBytes, shared.slots[dst][index].recv,
                    lo * elementBytes, length * elementBytes);
            moved(owner, dst, length * elementBytes);
        }
    }

    /** Counts {@code bytes} of rank {@code from}'s data received by rank {@code to}; nothing when they are one rank. */
    private void moved(int from, int to, long bytes) {
        if (from != to && bytes > 0) {
            shared.members[to].counters.received(bytes);
            shared.members[from].counters.sent(bytes);
        }
    }

    /** Counts a reduction into rank {@code to}'s result that read {@code bytes} of every rank's operand. */
    private void reduced(int to, long bytes) {
        for (int q = 0; q < size; q++) {
            moved(q, to, bytes);
        }
    }

    private CollectiveMismatchException viewMismatch(int peer, String what, Object sent, Object expected) {
        CollectiveMismatchException mismatch = new CollectiveMismatchException("allGatherv views do not match: "
                + what + ", rank " + peer + " sends " + sent + ", rank " + rank + " receives " + expected);
        shared.abort(mismatch);
        return mismatch;
    }

    private long partition(long count, int part) {
        return count * part / size;
    }

    private void clearOperands() {
        Arrays.fill(operands, null);
    }

    /** The ranks with this color ordered by (key, rank). */
    private List<Integer> membersOf(int color, int index) {
        List<Integer> members = new ArrayList<>();
        for (int q = 0; q < size; q++) {
            if (shared.slots[q][index].color == color) {
                members.add(q);
            }
        }
        members.sort((a, b) -> {
            int byKey = Integer.compare(shared.slots[a][index].key, shared.slots[b][index].key);
            return byKey != 0 ? byKey : Integer.compare(a, b);
        });
        return members;
    }

    private int leaderOf(int color, int index) {
        for (int q = 0; q < size; q++) {
            if (shared.slots[q][index].color == color) {
                return q;
            }
        }
        throw new IllegalStateException("unreachable: no rank with color=" + color);
    }

    /** Every rank compares every rank's calls with rank 0's, so all of them reach the same verdict. */
    private void checkMatching() {
        Call[] first = shared.slots[0];
        int firstCount = shared.slotCounts[0];
        for (int q = 1; q < size; q++) {
            Call[] other = shared.slots[q];
            int otherCount = shared.slotCounts[q];
            boolean same = otherCount == firstCount;
            for (int i = 0; same && i < firstCount; i++) {
                same = first[i].sameSignature(other[i]);
            }
            if (!same) {
                String message = CallSignature.mismatchMessage(0, describeCalls(first, firstCount), q,
                        describeCalls(other, otherCount));
                CollectiveMismatchException mismatch = new CollectiveMismatchException(message);
                shared.abort(mismatch);
                throw mismatch;
            }
        }
    }

    private static String describeCalls(Call[] calls, int n) {
        List<String> described = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            described.add(calls[i].describe());
        }
        return CallSignature.describeGroup(described);
    }

    @Override
    protected CollectiveKind kindOf(Call call) {
        return call.kind;
    }

    private String opName(int collectives, int p2p) {
        List<Call> calls = new ArrayList<>(collectives + p2p);
        calls.addAll(Arrays.asList(p2pCalls).subList(0, p2p));
        calls.addAll(Arrays.asList(shared.slots[rank]).subList(0, collectives));
        return describeOps(calls);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Point to point.

    private void postSend(Call call, long opSeq, long deadline, int collectives, int p2p) {
        int peer = call.root;
        int pair = rank * size + peer;
        long n = sendPosts[peer]++;
        Call[] ring = shared.rings[pair];
        if (ring == null) {
            ring = Shared.newCalls(Shared.RING_CAPACITY);
            shared.rings[pair] = ring;
        }
        if (n >= Shared.RING_CAPACITY) {
            awaitCounter(shared.consumed, pair, n - Shared.RING_CAPACITY + 1, peer, opSeq, deadline, collectives, p2p);
        }
        ring[(int) (n % Shared.RING_CAPACITY)].copyFrom(call);
        call.postNumber = n + 1;
        Shared.LONGS.setVolatile(shared.posted, pair * Shared.PAD, n + 1);
        shared.unpark(peer);
    }

    private void receive(Call call, long opSeq, long deadline, int collectives, int p2p) {
        int peer = call.root;
        int pair = peer * size + rank;
        long m = recvPosts[peer]++;
        awaitCounter(shared.posted, pair, m + 1, peer, opSeq, deadline, collectives, p2p);
        Call sent = shared.rings[pair][(int) (m % Shared.RING_CAPACITY)];
        if (sent.count != call.count || sent.dtype != call.dtype) {
            String send = CallSignature.describe(CollectiveKind.SEND, sent.count, sent.dtype, null, rank);
            String recv = CallSignature.describe(CollectiveKind.RECV, call.count, call.dtype, null, peer);
            String message = peer < rank ? CallSignature.mismatchMessage(peer, send, rank, recv)
                    : CallSignature.mismatchMessage(rank, recv, peer, send);
            CollectiveMismatchException mismatch = new CollectiveMismatchException(message);
            shared.abort(mismatch);
            throw mismatch;
        }
        MemorySegment.copy(sent.send, 0, call.recv, 0, call.count * call.dtype.byteSize());
        moved(peer, rank, call.count * call.dtype.byteSize());
        sent.release();
        Shared.LONGS.setVolatile(shared.consumed, pair * Shared.PAD, m + 1);
        shared.unpark(peer);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Waiting: spin, yield, park until the deadline; abort and timeouts.

    private void barrier(long opSeq, long deadline, int collectives, int p2p) {
        long target = ++phase;
        Shared.LONGS.setVolatile(shared.arrived, rank * Shared.PAD, target);
        if (shared.allArrived(target)) {
            shared.unparkAll();
            return;
        }
        waitPhase = target;
        int spins = 0;
        try {
            while (!shared.allArrived(target)) {
                spins = pause(spins, opSeq, deadline, collectives, p2p, target, -1);
            }
        } finally {
            waitPhase = -1;
        }
    }

    private void awaitCounter(long[] counters, int pair, long target, int peer, long opSeq, long deadline,
                              int collectives, int p2p) {
        int spins = 0;
        while ((long) Shared.LONGS.getVolatile(counters, pair * Shared.PAD) < target) {
            spins = pause(spins, opSeq, deadline, collectives, p2p, -1, peer);
        }
    }

    /** One step of backoff; throws on abort, interrupt or deadline. */
    private int pause(int spins, long opSeq, long deadline, int collectives, int p2p, long target, int peer) {
        Throwable cause = shared.abortCause.get();
        if (cause != null) {
            throw abortedWhileWaiting(cause, opSeq, collectives, p2p, target, peer);
        }
        if (spins < SPIN_LIMIT) {
            Thread.onSpinWait();
            return spins + 1;
        }
        if (spins < SPIN_LIMIT + YIELD_LIMIT) {
            Thread.yield();
            return spins + 1;
        }
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
            CollectiveTimeoutException timeout = new CollectiveTimeoutException(opName(collectives, p2p), opSeq,
                    missing(target, peer), shared.timeoutNs);
            Throwable inForce = shared.abort(timeout);
            if (inForce != timeout) {
                throw abortedWhileWaiting(inForce, opSeq, collectives, p2p, target, peer);
            }
            throw timeout;
        }
        Shared.THREADS.setVolatile(shared.waiters, rank, Thread.currentThread());
        try {
            if (shared.abortCause.get() == null) {
                LockSupport.parkNanos(this, Math.min(remaining, MAX_PARK_NS));
            }
        } finally {
            Shared.THREADS.setVolatile(shared.waiters, rank, null);
        }
        if (Thread.interrupted()) {
            Thread.currentThread().interrupt();
            CommunicatorAbortedException interrupted = new CommunicatorAbortedException("interrupted while waiting: op="
                    + opName(collectives, p2p) + ", seq=" + opSeq + ", rank=" + rank, null);
            shared.abort(interrupted);
            throw interrupted;
        }
        return spins;
    }

    private List<Integer> missing(long target, int peer) {
        if (peer >= 0) {
            return List.of(peer);
        }
        List<Integer> missing = new ArrayList<>();
        for (int q = 0; q < size; q++) {
            if (shared.arrived(q) < target) {
                missing.add(q);
            }
        }
        return missing;
    }

    /** The ranks that have not reached the barrier this rank waits at now (empty when it is not waiting). */
    @Override
    protected List<Integer> missingRanksNow() {
        long target = waitPhase;
        return target < 0 ? List.of() : missing(target, -1);
    }

    private RuntimeException abortedWhileWaiting(Throwable cause, long opSeq, int collectives, int p2p, long target,
                                                 int peer) {
        if (cause instanceof CollectiveTimeoutException timeout) {
            List<Integer> missing = missing(target, peer);
            return new CollectiveTimeoutException(opName(collectives, p2p), opSeq,
                    missing.isEmpty() ? timeout.missingRanks() : missing, shared.timeoutNs, timeout);
        }
        if (cause instanceof CollectiveMismatchException mismatch) {
            return new CollectiveMismatchException(mismatch.getMessage(), mismatch);
        }
        return aborted(rank, size, cause);
    }

    @Override
    protected void requirePlacement(String name, Tensor tensor) {
        CollectiveChecks.requireHost(name, tensor, BACKEND);
    }

    @Override
    protected TrafficCounters counters() {
        return counters;
    }

}
