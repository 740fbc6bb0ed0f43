package io.yatt.ffi.nccl;

import io.yatt.ffi.cuda.CudaStream;
import io.yatt.ffi.nccl.raw.NcclLib;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * An owned NCCL communicator for one rank on the calling thread's current CUDA device. Communicators
 * made by {@link #init(int, NcclUniqueId, int, long)} are non-blocking ({@code ncclConfig_t.blocking=0}):
 * every call that NCCL leaves in progress is polled until it completes or the communicator's deadline
 * passes, at which point the communicator is aborted and an {@link NcclException} names the call.
 * Collectives take NCCL's argument order with counts in elements. Use from one thread at a time;
 * lifecycle: {@link #finalizeComm()} (optional), then {@link #close()} exactly once, or {@link #abort()}.
 */
public final class NcclCommunicator implements AutoCloseable {
    /** Default deadline of {@link #init(int, NcclUniqueId, int)} and of calls on its communicator: 5 minutes. */
    public static final long DEFAULT_TIMEOUT_NS = TimeUnit.MINUTES.toNanos(5);
    /** A color for {@link #split} that leaves this rank out ({@code NCCL_SPLIT_NOCOLOR}). */
    public static final int NO_COLOR = NcclLib.NCCL_SPLIT_NOCOLOR;

    private static final int OPEN = 0;
    private static final int FINALIZED = 1;
    private static final int CLOSED = 2;
    private static final int ABORTED = 3;
    private static final long MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(1);

    /** Communicators used inside the calling thread's open group, awaited by {@link #groupEnd()}. */
    private static final ThreadLocal<GroupScope> GROUP = ThreadLocal.withInitial(GroupScope::new);

    private final MemorySegment comm;
    private final int rank;
    private final int nRanks;
    private final long timeoutNs;
    private final AtomicInteger state = new AtomicInteger(OPEN);

    private NcclCommunicator(MemorySegment comm, int rank, int nRanks, long timeoutNs) {
        this.comm = comm;
        this.rank = rank;
        this.nRanks = nRanks;
        this.timeoutNs = timeoutNs;
    }

    private static final class GroupScope {
        int depth;
        final List<NcclCommunicator> members = new ArrayList<>();
    }

    /**
     * Joins a communicator with the default deadline ({@link #DEFAULT_TIMEOUT_NS}).
     *
     * @see #init(int, NcclUniqueId, int, long)
     */
    public static NcclCommunicator init(int nRanks, NcclUniqueId id, int rank) {
        return init(nRanks, id, rank, DEFAULT_TIMEOUT_NS);
    }

    /**
     * Joins a communicator of {@code nRanks} ranks as {@code rank}, on the calling thread's current CUDA
     * device ({@code ncclCommInitRankConfig}, non-blocking). Every rank must call this with the same id.
     *
     * @param nRanks number of ranks
     * @param id the id rank 0 created with {@link Nccl#uniqueId()}
     * @param rank this rank, {@code 0 <= rank < nRanks}
     * @param timeoutNs deadline for joining and for every later call on the communicator
     * @return the communicator, owned by the caller
     * @throws IllegalArgumentException for a bad rank, rank count or timeout
     * @throws NcclException when joining fails or times out (the half-made communicator is aborted)
     */
    public static NcclCommunicator init(int nRanks, NcclUniqueId id, int rank, long timeoutNs) {
        if (nRanks < 1) {
            throw new IllegalArgumentException("nRanks must be at least 1: nRanks=" + nRanks);
        }
        if (rank < 0 || rank >= nRanks) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", nRanks=" + nRanks);
        }
        if (timeoutNs <= 0) {
            throw new IllegalArgumentException("timeoutNs must be positive: timeoutNs=" + timeoutNs);
        }
        long deadline = System.nanoTime() + timeoutNs;
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            MemorySegment idValue = scratch.allocate(NcclLib.NCCL_UNIQUE_ID);
            idValue.copyFrom(MemorySegment.ofArray(id.bytes()));
            MemorySegment config = NcclLib.initConfig(scratch.allocate(NcclLib.NCCL_CONFIG), 0);
            int code = NcclLib.ncclCommInitRankConfig(out, nRanks, idValue, rank, config);
            MemorySegment comm = out.get(ADDRESS, 0);
            if (code != NcclLib.ncclSuccess && code != NcclLib.ncclInProgress) {
                NcclException failure = NcclCheck.failure("ncclCommInitRankConfig", code, comm,
                        NcclCheck.pair("nRanks", nRanks) + NcclCheck.pair("rank", rank));
                abortQuietly(comm);
                throw failure;
            }
            awaitReady(comm, "ncclCommInitRankConfig", deadline, timeoutNs, rank, nRanks);
            return new NcclCommunicator(comm, rank, nRanks, timeoutNs);
        }
    }

    /**
     * Polls {@code ncclCommGetAsyncError} until the communicator's pending operation finishes; on an
     * error or at the deadline, aborts the communicator and throws.
     */
    private static void awaitReady(MemorySegment comm, String call, long deadline, long timeoutNs, int rank, int nRanks) {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment state = scratch.allocate(JAVA_INT);
            long parkNs = 1_000;
            while (true) {
                int code = NcclLib.ncclCommGetAsyncError(comm, state);
                if (code != NcclLib.ncclSuccess) {
                    NcclException failure = NcclCheck.failure("ncclCommGetAsyncError", code, comm,
                            ", during=" + call + NcclCheck.pair("rank", rank) + NcclCheck.pair("nRanks", nRanks));
                    abortQuietly(comm);
                    throw failure;
                }
                int async = state.get(JAVA_INT, 0);
                if (async == NcclLib.ncclSuccess) {
                    return;
                }
                if (async != NcclLib.ncclInProgress) {
                    NcclException failure = NcclCheck.failure(call, async, comm,
                            NcclCheck.pair("rank", rank) + NcclCheck.pair("nRanks", nRanks));
                    abortQuietly(comm);
                    throw failure;
                }
                if (System.nanoTime() - deadline > 0) {
                    abortQuietly(comm);
                    throw new NcclException(call, NcclResult.ncclTimeout.code(), call + " timed out: timeoutNs=" + timeoutNs
                            + ", rank=" + rank + ", nRanks=" + nRanks + "; communicator aborted (are all ranks up?)");
                }
                LockSupport.parkNanos(parkNs);
                parkNs = Math.min(parkNs * 2, MAX_PARK_NS);
            }
        }
    }

    private static void abortQuietly(MemorySegment comm) {
        if (comm != null && !comm.equals(MemorySegment.NULL)) {
            try {
                NcclLib.ncclCommAbort(comm);
            } catch (RuntimeException e) {
                // best effort: the original failure is what the caller needs to see
            }
        }
    }

    /** Checks a call on this communicator; {@code ncclInProgress} is awaited (in a group: at {@link #groupEnd()}). */
    private void complete(int code, String call) {
        if (code == NcclLib.ncclSuccess) {
            return;
        }
        if (code == NcclLib.ncclInProgress) {
            GroupScope group = GROUP.get();
            if (group.depth > 0) {
                if (!group.members.contains(this)) {
                    group.members.add(this);
                }
                return;
            }
            awaitReadyOrMarkAborted(call, System.nanoTime() + timeoutNs);
            return;
        }
        throw NcclCheck.failure(call, code, comm, NcclCheck.pair("rank", rank) + NcclCheck.pair("nRanks", nRanks));
    }

    /**
     * {@link #awaitReady} on this communicator; its failures abort the communicator natively, so the state becomes
     * aborted too and a later {@link #abort()} or {@link #close()} does not touch the freed handle.
     */
    private void awaitReadyOrMarkAborted(String call, long deadline) {
        try {
            awaitReady(comm, call, deadline, timeoutNs, rank, nRanks);
        } catch (NcclException e) {
            state.set(ABORTED);
            throw e;
        }
    }

    /** Whether this communicator was aborted, explicitly or by a failed or timed-out call. */
    public boolean isAborted() {
        return state.get() == ABORTED;
    }

    private void ensureUsable() {
        int current = state.get();
        if (current != OPEN) {
            throw new IllegalStateException("NcclCommunicator " + stateName(current) + ": rank=" + rank + ", nRanks=" + nRanks);
        }
    }

    /**
     * Sums (or otherwise reduces) {@code count} elements across ranks into every rank's {@code recv}
     * ({@code ncclAllReduce}); in place when {@code send == recv}.
     *
     * @throws NcclException when NCCL reports an error
     */
    public void allReduce(MemorySegment send, MemorySegment recv, long count, NcclDataType type, NcclRedOp op,
            CudaStream stream) {
        ensureUsable();
        complete(NcclLib.ncclAllReduce(send, recv, count, type.code(), op.code(), comm, stream.handle()), "ncclAllReduce");
    }

    /**
     * Gathers {@code sendCount} elements from every rank into {@code recv} ({@code nRanks * sendCount}
     * elements, rank order) ({@code ncclAllGather}).
     *
     * @throws NcclException when NCCL reports an error
     */
    public void allGather(MemorySegment send, MemorySegment recv, long sendCount, NcclDataType type, CudaStream stream) {
        ensureUsable();
        complete(NcclLib.ncclAllGather(send, recv, sendCount, type.code(), comm, stream.handle()), "ncclAllGather");
    }

    /**
     * Reduces {@code nRanks * recvCount} elements and leaves block {@code rank} in {@code recv}
     * ({@code ncclReduceScatter}).
     *
     * @throws NcclException when NCCL reports an error
     */
    public void reduceScatter(MemorySegment send, MemorySegment recv, long recvCount, NcclDataType type, NcclRedOp op,
            CudaStream stream) {
        ensureUsable();
        complete(NcclLib.ncclReduceScatter(send, recv, recvCount, type.code(), op.code(), comm, stream.handle()),
                "ncclReduceScatter");
    }

    /**
     * Copies {@code count} elements from {@code root}'s {@code send} to every rank's {@code recv} ({@code ncclBroadcast}).
     *
     * @throws NcclException when NCCL reports an error
     */
    public void broadcast(MemorySegment send, MemorySegment recv, long count, NcclDataType type, int root, CudaStream stream) {
        ensureUsable();
        complete(NcclLib.ncclBroadcast(send, recv, count, type.code(), root, comm, stream.handle()), "ncclBroadcast");
    }

    /**
     * Reduces {@code count} elements across ranks into {@code root}'s {@code recv} ({@code ncclReduce}).
     *
     * @throws NcclException when NCCL reports an error
     */
    public void reduce(MemorySegment send, MemorySegment recv, long count, NcclDataType type, NcclRedOp op, int root,
            CudaStream stream) {
        ensureUsable();
        complete(NcclLib.ncclReduce(send, recv, count, type.code(), op.code(), root, comm, stream.handle()), "ncclReduce");
    }

    /**
     * Sends {@code count} elements to {@code peer} ({@code ncclSend}); pair with the peer's {@link #recv},
     * inside a group when ranks exchange both ways.
     *
     * @throws NcclException when NCCL reports an error
     */
    public void send(MemorySegment send, long count, NcclDataType type, int peer, CudaStream stream) {
        ensureUsable();
        complete(NcclLib.ncclSend(send, count, type.code(), peer, comm, stream.handle()), "ncclSend");
    }

    /**
     * Receives {@code count} elements from {@code peer} ({@code ncclRecv}).
     *
     * @throws NcclException when NCCL reports an error
     */
    public void recv(MemorySegment recv, long count, NcclDataType type, int peer, CudaStream stream) {
        ensureUsable();
        complete(NcclLib.ncclRecv(recv, count, type.code(), peer, comm, stream.handle()), "ncclRecv");
    }

    /**
     * Opens a group on the calling thread ({@code ncclGroupStart}): calls until the matching
     * {@link #groupEnd()} are fused into one launch. Groups nest.
     *
     * @throws NcclException when NCCL reports an error
     */
    public static void groupStart() {
        NcclCheck.nccl(NcclLib.ncclGroupStart(), "ncclGroupStart", MemorySegment.NULL);
        GROUP.get().depth++;
    }

    /**
     * Closes the calling thread's innermost group ({@code ncclGroupEnd}); the outermost one launches the
     * fused calls and waits until every non-blocking communicator used in it has finished enqueuing.
     *
     * @throws IllegalStateException when no group is open
     * @throws NcclException when NCCL reports an error or a communicator's deadline passes
     */
    public static void groupEnd() {
        GroupScope group = GROUP.get();
        if (group.depth == 0) {
            throw new IllegalStateException("ncclGroupEnd without ncclGroupStart on this thread");
        }
        group.depth--;
        int code = NcclLib.ncclGroupEnd();
        if (group.depth > 0) {
            NcclCheck.nccl(code, "ncclGroupEnd", MemorySegment.NULL, "depth", group.depth);
            return;
        }
        List<NcclCommunicator> members = List.copyOf(group.members);
        group.members.clear();
        if (code != NcclLib.ncclSuccess && code != NcclLib.ncclInProgress) {
            throw NcclCheck.failure("ncclGroupEnd", code, MemorySegment.NULL, "");
        }
        for (NcclCommunicator member : members) {
            member.awaitReadyOrMarkAborted("ncclGroupEnd", System.nanoTime() + member.timeoutNs);
        }
    }

    /**
     * Splits this communicator ({@code ncclCommSplit}, non-blocking with this communicator's deadline):
     * ranks with the same color form a new communicator, ordered by key then by old rank.
     *
     * @param color group to join, or {@link #NO_COLOR} to join none
     * @param key ordering within the new communicator
     * @return the new communicator, owned by the caller, or {@code null} for {@link #NO_COLOR}
     * @throws NcclException when the split fails or times out
     */
    public NcclCommunicator split(int color, int key) {
        ensureUsable();
        long deadline = System.nanoTime() + timeoutNs;
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            MemorySegment config = NcclLib.initConfig(scratch.allocate(NcclLib.NCCL_CONFIG), 0);
            int code = NcclLib.ncclCommSplit(comm, color, key, out, config);
            if (code != NcclLib.ncclSuccess && code != NcclLib.ncclInProgress) {
                throw NcclCheck.failure("ncclCommSplit", code, comm, NcclCheck.pair("rank", rank)
                        + NcclCheck.pair("color", color) + NcclCheck.pair("key", key));
            }
            awaitReadyOrMarkAborted("ncclCommSplit", deadline);
            MemorySegment child = out.get(ADDRESS, 0);
            if (child.equals(MemorySegment.NULL)) {
                return null;
            }
            awaitReady(child, "ncclCommSplit", deadline, timeoutNs, rank, nRanks);
            MemorySegment value = scratch.allocate(JAVA_INT);
            NcclCheck.nccl(NcclLib.ncclCommUserRank(child, value), "ncclCommUserRank", child);
            int childRank = value.get(JAVA_INT, 0);
            NcclCheck.nccl(NcclLib.ncclCommCount(child, value), "ncclCommCount", child);
            return new NcclCommunicator(child, childRank, value.get(JAVA_INT, 0), timeoutNs);
        }
    }

    /**
     * Flushes outstanding work so that {@link #close()} can free without blocking peers
     * ({@code ncclCommFinalize}, awaited up to the deadline). Collectives are refused afterwards.
     *
     * @throws IllegalStateException when not open
     * @throws NcclException when finalizing fails or times out (the communicator is then aborted)
     */
    public void finalizeComm() {
        if (!state.compareAndSet(OPEN, FINALIZED)) {
            throw new IllegalStateException("NcclCommunicator " + stateName(state.get()) + ": rank=" + rank + ", nRanks=" + nRanks);
        }
        int code = NcclLib.ncclCommFinalize(comm);
        try {
            complete(code, "ncclCommFinalize");
        } catch (NcclException e) {
            state.set(ABORTED);
            throw e;
        }
    }

    /**
     * Stops outstanding work and frees the communicator ({@code ncclCommAbort}); use on errors. A later
     * {@link #close()} does nothing.
     *
     * @throws IllegalStateException when already closed or aborted
     * @throws NcclException when NCCL reports an error
     */
    public void abort() {
        int previous = state.getAndUpdate(s -> s == CLOSED || s == ABORTED ? s : ABORTED);
        if (previous == CLOSED || previous == ABORTED) {
            throw new IllegalStateException("NcclCommunicator " + stateName(previous) + ": rank=" + rank + ", nRanks=" + nRanks);
        }
        NcclCheck.nccl(NcclLib.ncclCommAbort(comm), "ncclCommAbort", MemorySegment.NULL, "rank", rank);
    }

    /**
     * @return the communicator's asynchronous state ({@code ncclCommGetAsyncError}): {@code ncclSuccess},
     *         {@code ncclInProgress}, or the error that broke it
     * @throws NcclException when the query itself fails
     */
    public NcclResult asyncError() {
        ensureNotFreed();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            NcclCheck.nccl(NcclLib.ncclCommGetAsyncError(comm, out), "ncclCommGetAsyncError", comm, "rank", rank);
            int code = out.get(JAVA_INT, 0);
            NcclResult result = NcclResult.find(code);
            return result == null ? NcclResult.ncclInternalError : result;
        }
    }

    /**
     * @return number of ranks ({@code ncclCommCount})
     * @throws NcclException when NCCL reports an error
     */
    public int count() {
        return intQuery(0, "ncclCommCount");
    }

    /**
     * @return the CUDA device of this rank ({@code ncclCommCuDevice})
     * @throws NcclException when NCCL reports an error
     */
    public int device() {
        return intQuery(1, "ncclCommCuDevice");
    }

    /**
     * @return this rank ({@code ncclCommUserRank})
     * @throws NcclException when NCCL reports an error
     */
    public int userRank() {
        return intQuery(2, "ncclCommUserRank");
    }

    private int intQuery(int which, String call) {
        ensureNotFreed();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            int code = switch (which) {
                case 0 -> NcclLib.ncclCommCount(comm, out);
                case 1 -> NcclLib.ncclCommCuDevice(comm, out);
                default -> NcclLib.ncclCommUserRank(comm, out);
            };
            NcclCheck.nccl(code, call, comm, "rank", rank);
            return out.get(JAVA_INT, 0);
        }
    }

    /**
     * Registers a device buffer for zero-copy collectives ({@code ncclCommRegister}).
     *
     * @param buffer device pointer
     * @param byteSize bytes to register
     * @return the registration handle for {@link #deregister}
     * @throws NcclException when NCCL refuses
     */
    public MemorySegment register(MemorySegment buffer, long byteSize) {
        ensureUsable();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            NcclCheck.nccl(NcclLib.ncclCommRegister(comm, buffer, byteSize, out), "ncclCommRegister", comm,
                    "rank", rank, "byteSize", byteSize);
            return out.get(ADDRESS, 0);
        }
    }

    /**
     * Undoes {@link #register} ({@code ncclCommDeregister}).
     *
     * @param handle the handle {@link #register} returned
     * @throws NcclException when NCCL refuses
     */
    public void deregister(MemorySegment handle) {
        ensureNotFreed();
        NcclCheck.nccl(NcclLib.ncclCommDeregister(comm, handle), "ncclCommDeregister", comm, "rank", rank);
    }

    /** @return the {@code ncclComm_t} as an address */
    public MemorySegment handle() {
        return comm;
    }

    /** @return this rank as given at creation */
    public int rank() {
        return rank;
    }

    /** @return the number of ranks as given at creation */
    public int nRanks() {
        return nRanks;
    }

    /** @return the deadline applied to each call that NCCL leaves in progress */
    public long timeoutNs() {
        return timeoutNs;
    }

    /**
     * Finalizes (unless {@link #finalizeComm()} already did) and frees the communicator
     * ({@code ncclCommDestroy}); does nothing after {@link #abort()}.
     *
     * @throws IllegalStateException when already closed
     * @throws NcclException when NCCL reports an error (the communicator is aborted then)
     */
    @Override
    public void close() {
        int previous = state.getAndUpdate(s -> s == ABORTED ? s : CLOSED);
        switch (previous) {
            case ABORTED:
                return;
            case CLOSED:
                throw new IllegalStateException("NcclCommunicator already closed: rank=" + rank + ", nRanks=" + nRanks);
            case OPEN:
                try {
                    int code = NcclLib.ncclCommFinalize(comm);
                    complete(code, "ncclCommFinalize");
                } catch (NcclException e) {
                    state.set(ABORTED); // awaitReady aborted it
                    throw e;
                }
                break;
            default:
                break;
        }
        int code = NcclLib.ncclCommDestroy(comm);
        NcclCheck.nccl(code, "ncclCommDestroy", MemorySegment.NULL, "rank", rank, "nRanks", nRanks);
    }

    private void ensureNotFreed() {
        int current = state.get();
        if (current == CLOSED || current == ABORTED) {
            throw new IllegalStateException("NcclCommunicator " + stateName(current) + ": rank=" + rank + ", nRanks=" + nRanks);
        }
    }

    private static String stateName(int state) {
        return switch (state) {
            case OPEN -> "open";
            case FINALIZED -> "finalized";
            case CLOSED -> "closed";
            default -> "aborted";
        };
    }

    @Override
    public String toString() {
        return "NcclCommunicator: rank=" + rank + ", nRanks=" + nRanks + ", state=" + stateName(state.get());
    }
}
