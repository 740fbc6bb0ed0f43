package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.CollectiveHandle;
import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * The skeleton every backend shares. Per call: the communicator must be usable, its tensors must live where the
 * backend moves data, and its arguments must pass {@link CollectiveChecks}, in that order and before any data moves;
 * the checked call goes to the backend's {@link #collective} or {@link #pointToPoint}, which queues it in the open
 * group ({@link #queued}) or runs it now. Groups, asynchronous operations, close and abort live here too: a group
 * scope queues calls of type {@code C} and hands them to {@link #runCalls}; an asynchronous operation (a submitted
 * group, or an {@code *Async} call) runs them on the rank's own async thread ({@link #startAsync}, which a backend
 * with its own asynchrony such as a CUDA stream replaces) and every later call of this rank first waits for it
 * ({@link #drainAsync}); {@link #abort()} records {@link Lifecycle#abortedBy} through the backend's {@link #fail}; and
 * {@link #close()} (once) settles the operations still in flight, then frees the backend's resources
 * ({@link #release}). Counted bytes come from the backend's {@link #counters()}.
 *
 * <p>Close and calls in flight: an asynchronous operation that has not finished when its rank closes the
 * communicator is aborted ({@code communicator closed with pending operations: rank=0}, recorded for every rank as
 * any failure is, so the operation and its peers' matching calls fail instead of waiting for the deadline); close
 * then joins it, so no async thread touches memory that {@link #release} frees.
 *
 * <p>Thread-safety: confined to the rank's thread (and its own async thread); {@link #abort()} from any thread.
 *
 * @param <C> the backend's queued call
 */
public abstract class CommunicatorBase<C> implements Communicator {
    /** This rank's index in the communicator. */
    protected final int rank;
    /** Ranks in the communicator. */
    protected final int size;
    private final String asyncThreadName;
    private final List<PendingHandle> inFlight = new ArrayList<>();
    private GroupScope<C> openGroup;
    private ExecutorService asyncExecutor;
    private volatile boolean closed;
    /** Sequence number of this rank's next operation (what timeouts and handles name). */
    private long seq;

    /**
     * For subclasses: rank {@code rank} of {@code size}; {@code asyncTag} names the async thread
     * ({@code yatt-<asyncTag>-async-r0-of-2}).
     */
    protected CommunicatorBase(String asyncTag, int rank, int size) {
        this.rank = rank;
        this.size = size;
        this.asyncThreadName = "yatt-" + asyncTag + "-async-r" + rank + "-of-" + size;
    }

    @Override
    public final int rank() {
        return rank;
    }

    @Override
    public final int size() {
        return size;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hooks: what a backend supplies.

    /**
     * The failure recorded for this communicator (its own or a peer's, the first one), or {@code null} while it is
     * usable.
     */
    protected abstract Throwable abortCause();

    /**
     * Records {@code cause} as the communicator's failure for every rank unless one is recorded already, and wakes
     * (or stops) the calls waiting on it; returns the failure in force. May be called from any thread.
     */
    protected abstract Throwable fail(Throwable cause);

    /**
     * Frees the backend's resources (after {@link #close()} settled the calls in flight); runs once.
     *
     * @throws RuntimeException the first failure to free something, the others suppressed in it
     */
    protected abstract void release();

    /**
     * Runs calls (a closed group, or an asynchronous operation on the async thread) as operation {@code opSeq}; they
     * are in call order and were checked when queued.
     */
    protected abstract void runCalls(List<C> calls, long opSeq);

    /** The kind of a queued call (for operation names). */
    protected abstract CollectiveKind kindOf(C call);

    /**
     * Checks that {@code tensor} (named {@code name} in messages: {@code send} or {@code recv}) lives where this
     * backend moves data: host memory, or this rank's device.
     *
     * @throws NullPointerException {@code name} if the tensor is null
     * @throws IllegalArgumentException naming the tensor, its device and the expected one
     */
    protected abstract void requirePlacement(String name, Tensor tensor);

    /**
     * Runs or queues a checked collective.
     *
     * @param send the input ({@code null} for a barrier)
     * @param recv the output ({@code null} for a barrier)
     * @param count elements: of {@code recv} for reduce-scatter, of {@code send} otherwise
     * @param op the reduction, or {@code null}
     * @param root the root rank, or -1
     * @param inPlace whether {@code send} is {@code recv} (or its own chunk, for all-gather)
     */
    protected abstract void collective(CollectiveKind kind, Tensor send, Tensor recv, long count, ReduceOp op,
                                       int root, boolean inPlace);

    /**
     * Runs or queues a checked send ({@link CollectiveKind#SEND}) or receive ({@link CollectiveKind#RECV}).
     *
     * @throws IllegalArgumentException if {@code peer} is this rank outside a group
     */
    protected abstract void pointToPoint(CollectiveKind kind, Tensor tensor, int peer);

    /** This rank's traffic counters, counted where the backend moves bytes. */
    protected abstract TrafficCounters counters();

    /** The ranks an await that times out names (those the operation still waits for); none unless overridden. */
    protected List<Integer> missingRanksNow() {
        return List.of();
    }

    /**
     * Starts calls as asynchronous operation {@code opSeq} named {@code opName} and returns its handle: by default
     * on the rank's async thread (one daemon thread, created at the first use), which runs operations in call order
     * through {@link #runCalls}.
     *
     * @throws IllegalStateException {@code communicator closed: rank=0, size=2} if closed meanwhile
     */
    protected PendingHandle startAsync(List<C> calls, String opName, long opSeq) {
        AsyncHandle handle = AsyncHandle.pending(opName, opSeq, this::missingRanksNow);
        synchronized (this) {
            if (closed) {
                throw Lifecycle.closed(rank, size, null);
            }
            if (asyncExecutor == null) {
                asyncExecutor = AsyncHandle.newAsyncExecutor(asyncThreadName);
            }
            try {
                handle.runOn(asyncExecutor, () -> runCalls(calls, opSeq));
            } catch (RejectedExecutionException e) {
                throw Lifecycle.closed(rank, size, e);
            }
        }
        return handle;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Lifecycle: usable, abort, close.

    /**
     * Throws if this communicator was closed or aborted.
     *
     * @throws IllegalStateException {@code communicator closed: rank=0, size=2}
     * @throws io.yatt.collectives.CommunicatorAbortedException as {@link Lifecycle#aborted} for a recorded failure
     */
    protected final void checkUsable() {
        Lifecycle.requireUsable(closed, abortCause(), rank, size);
    }

    /**
     * Records {@code failure} through {@link #fail} and returns what operation {@code opName} (sequence
     * {@code opSeq}, deadline {@code timeoutNs}) throws: {@code failure} itself when it is the failure in force, else
     * the recorded one restated for this operation ({@link Lifecycle#translateCause}).
     */
    protected final RuntimeException failOperation(RuntimeException failure, String opName, long opSeq,
                                                   long timeoutNs) {
        Throwable inForce = fail(failure);
        return inForce == failure ? failure : Lifecycle.translateCause(inForce, opName, opSeq, timeoutNs, rank, size);
    }

    /** Whether {@link #close()} was called. */
    protected final boolean isClosed() {
        return closed;
    }

    @Override
    public final void abort() {
        fail(Lifecycle.abortedBy(rank, size));
    }

    /**
     * Settles the operations in flight (see the class comment), then frees the backend's resources.
     *
     * @throws IllegalStateException {@code communicator already closed: rank=0, size=2} on a second close
     */
    @Override
    public final void close() {
        synchronized (this) {
            Lifecycle.requireNotClosed(closed, rank, size);
            closed = true;
        }
        try {
            settleInFlight();
        } finally {
            release();
        }
    }

    /**
     * Ends the async thread without closing: for a world that aborted all its communicators and now releases their
     * threads (later calls still report the abort). Joins the operations in flight first (the abort ends them).
     */
    protected final void stopAsyncThread() {
        joinInFlight();
        ExecutorService executor;
        synchronized (this) {
            executor = asyncExecutor;
        }
        if (executor != null) {
            executor.shutdown();
        }
    }

    private void settleInFlight() {
        for (PendingHandle handle : inFlightNow()) {
            if (!handle.isDone()) {
                fail(new CommunicatorAbortedException("communicator closed with pending operations: rank=" + rank,
                        null));
                break;
            }
        }
        stopAsyncThread();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Groups and async.

    @Override
    public final CollectiveGroup group() {
        checkUsable();
        GroupScope.requireNoneOpen(openGroup, rank);
        openGroup = GroupScope.open(rank, () -> openGroup = null, this::submitAsync, this::runGroup);
        return openGroup;
    }

    /** Whether a group scope is open (calls are queued, not run). */
    protected final boolean inGroup() {
        return openGroup != null;
    }

    /** The calls the open group queued so far, in order (empty when none is open). */
    protected final List<C> groupCalls() {
        return openGroup == null ? List.of() : openGroup.calls();
    }

    /**
     * Queues a checked call in the open group and returns true; without one, waits for this rank's asynchronous
     * operations ({@link #drainAsync}) and returns false: the caller runs the call now.
     */
    protected final boolean queued(C call) {
        if (openGroup != null) {
            openGroup.add(call);
            return true;
        }
        drainAsync();
        return false;
    }

    /**
     * The preamble of {@code split}: usable, no group open, asynchronous operations done.
     *
     * @throws IllegalStateException {@code split inside a group is not supported: rank=0}, or as
     *         {@link #checkUsable}
     */
    protected final void beginSplit() {
        checkUsable();
        GroupScope.requireNoneOpenForSplit(openGroup, rank);
        drainAsync();
    }

    /** The sequence number of this rank's next operation, then counts it. */
    protected final long nextSeq() {
        return seq++;
    }

    /** The operation name of a run of calls ({@link GroupScope#describeOps}). */
    protected final String describeOps(List<C> calls) {
        return GroupScope.describeOps(calls, this::kindOf);
    }

    /**
     * Waits until every asynchronous operation of this rank has its outcome, then checks again that the communicator
     * is usable: a failed operation has aborted it, so the call that waited throws what it would have thrown had it
     * started after the failure (the failure itself stays with its handle).
     *
     * @throws io.yatt.collectives.CommunicatorAbortedException as {@link #checkUsable}
     */
    protected final void drainAsync() {
        if (inFlight.isEmpty()) {
            return;
        }
        joinInFlight();
        checkUsable();
    }

    private void joinInFlight() {
        for (PendingHandle handle : inFlightNow()) {
            handle.join();
        }
        synchronized (this) {
            inFlight.clear();
        }
    }

    private synchronized List<PendingHandle> inFlightNow() {
        return List.copyOf(inFlight);
    }

    private void runGroup(List<C> calls) {
        checkUsable();
        drainAsync();
        runCalls(List.copyOf(calls), nextSeq());
    }

    private CollectiveHandle submitAsync(List<C> queued) {
        checkUsable();
        List<C> calls = List.copyOf(queued);
        String opName = describeOps(calls);
        if (calls.isEmpty()) {
            return AsyncHandle.completed(opName, seq, this::missingRanksNow);
        }
        long opSeq = nextSeq();
        PendingHandle handle = startAsync(calls, opName, opSeq);
        List<PendingHandle> done = new ArrayList<>();
        for (PendingHandle earlier : inFlightNow()) {
            if (earlier.isDone()) { // polled outside this lock: a handle's poll may take it (nccl's abort)
                done.add(earlier);
            }
        }
        synchronized (this) {
            inFlight.removeAll(done); // a pipeline of async calls only keeps what is still running
            inFlight.add(handle);
        }
        return handle;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Entry checks.

    @Override
    public final void allGather(Tensor send, Tensor recv) {
        checkUsable();
        requirePlacement(send, recv);
        boolean inPlace = CollectiveChecks.allGather(send, recv, rank, size);
        collective(CollectiveKind.ALL_GATHER, send, recv, send.numel(), null, -1, inPlace);
    }

    @Override
    public final void reduceScatter(Tensor send, Tensor recv, ReduceOp op) {
        checkUsable();
        requirePlacement(send, recv);
        boolean inPlace = CollectiveChecks.reduceScatter(send, recv, op, rank, size);
        collective(CollectiveKind.REDUCE_SCATTER, send, recv, recv.numel(), op, -1, inPlace);
    }

    @Override
    public final void allReduce(Tensor send, Tensor recv, ReduceOp op) {
        checkUsable();
        requirePlacement(send, recv);
        boolean inPlace = CollectiveChecks.allReduce(send, recv, op);
        collective(CollectiveKind.ALL_REDUCE, send, recv, send.numel(), op, -1, inPlace);
    }

    @Override
    public final void broadcast(Tensor send, Tensor recv, int root) {
        checkUsable();
        requirePlacement(send, recv);
        boolean inPlace = CollectiveChecks.broadcast(send, recv, root, size);
        collective(CollectiveKind.BROADCAST, send, recv, send.numel(), null, root, inPlace);
    }

    @Override
    public final void reduce(Tensor send, Tensor recv, ReduceOp op, int root) {
        checkUsable();
        requirePlacement(send, recv);
        boolean inPlace = CollectiveChecks.reduce(send, recv, op, root, size);
        collective(CollectiveKind.REDUCE, send, recv, send.numel(), op, root, inPlace);
    }

    @Override
    public final void allToAll(Tensor send, Tensor recv) {
        checkUsable();
        requirePlacement(send, recv);
        CollectiveChecks.allToAll(send, recv, size);
        collective(CollectiveKind.ALL_TO_ALL, send, recv, send.numel(), null, -1, false);
    }

    @Override
    public final void barrier() {
        checkUsable();
        collective(CollectiveKind.BARRIER, null, null, 0, null, -1, false);
    }

    @Override
    public final void send(Tensor send, int peer) {
        checkUsable();
        requirePlacement("send", send);
        CollectiveChecks.pointToPoint("send", send, peer, size);
        pointToPoint(CollectiveKind.SEND, send, peer);
    }

    @Override
    public final void recv(Tensor recv, int peer) {
        checkUsable();
        requirePlacement("recv", recv);
        CollectiveChecks.pointToPoint("recv", recv, peer, size);
        pointToPoint(CollectiveKind.RECV, recv, peer);
    }

    @Override
    public CommunicatorStats stats() {
        return counters().snapshot();
    }

    @Override
    public void resetStats() {
        counters().reset();
    }

    /**
     * The interface's staged {@code allGatherv} (pack, all-gather or send/recv, unpack; staging from
     * {@code scratch}), for a backend whose direct placement cannot run this call.
     */
    protected final void stagedAllGatherv(List<Tensor> send, List<List<Tensor>> recv, Allocator scratch) {
        Communicator.super.allGatherv(send, recv, scratch);
    }

    /**
     * An {@code allGatherv}'s views after {@link #checkAllGatherv}: immutable copies, the element count every rank
     * receives and the dtype ({@code null} when there are no views).
     */
    protected record GatherViews(List<Tensor> send, List<List<Tensor>> recv, long total, DType dtype) {
    }

    /**
     * Checks an {@code allGatherv}'s views ({@link AllGatherViews#validate}, then the placement of every receive view
     * and every send piece) and returns copies the caller may keep after it returns.
     *
     * @throws IllegalArgumentException as {@link AllGatherViews#validate} or {@link #requirePlacement} says
     */
    protected final GatherViews checkAllGatherv(List<Tensor> send, List<List<Tensor>> recv) {
        long[] totals = AllGatherViews.validate(send, recv, rank, size);
        DType dtype = null;
        long total = 0;
        List<List<Tensor>> recvCopy = new ArrayList<>(size);
        for (int q = 0; q < size; q++) {
            for (Tensor t : recv.get(q)) {
                requirePlacement("recv", t);
                dtype = t.dtype();
            }
            total += totals[q];
            recvCopy.add(List.copyOf(recv.get(q)));
        }
        for (Tensor t : send) {
            requirePlacement("send", t);
        }
        return new GatherViews(List.copyOf(send), List.copyOf(recvCopy), total, dtype);
    }

    private void requirePlacement(Tensor send, Tensor recv) {
        requirePlacement("send", send);
        requirePlacement("recv", recv);
    }
}
