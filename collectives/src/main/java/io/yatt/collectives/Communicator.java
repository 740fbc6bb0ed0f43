package io.yatt.collectives;

import io.yatt.collectives.internal.AllGatherViews;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One rank's handle on a group of ranks that exchange tensors, shaped like NCCL: counts come from the tensors, in
 * elements; every rank of the communicator makes the same calls in the same order. Implementations: in-process
 * (ranks are threads, {@link InProcessWorld}), shm (processes on one host), nccl (one GPU per rank) and cuda-local
 * (several ranks on one GPU).
 *
 * <p>Buffers: {@code send} and {@code recv} have the same dtype and must be contiguous. A call is in place when
 * {@code send} is exactly this rank's slice of {@code recv} (all-gather: {@code recv} bytes
 * {@code [rank * send.byteSize(), (rank + 1) * send.byteSize())}), or {@code recv} this rank's slice of {@code send}
 * (reduce-scatter), or the same memory (all-reduce, broadcast, reduce), detected by address range; any other
 * overlap is rejected. Reductions follow {@link ReduceOp}'s accumulation rules and are bit-for-bit deterministic.
 *
 * <p>Failures: invalid arguments throw {@link IllegalArgumentException} on the calling rank before any data moves.
 * Every blocking call has a deadline ({@link Context#timeoutNs()}): if some rank does not arrive, every waiting rank
 * throws {@link CollectiveTimeoutException} naming the missing ranks within the deadline, and the communicator is
 * aborted: every later call throws {@link CommunicatorAbortedException} whose cause is the original failure.
 * Mismatched calls throw {@link CollectiveMismatchException} on every rank.
 *
 * <p>Thread-safety: a communicator is one rank's endpoint, confined to one thread at a time (the rank's thread);
 * handles and {@link #abort()} may be used from any thread.
 */
public interface Communicator extends AutoCloseable {

    /** This rank, {@code 0 <= rank() < size()}. */
    int rank();

    /** The number of ranks. */
    int size();

    /**
     * Every rank contributes {@code send} ({@code count = send.numel()} elements); {@code recv} ({@code size() * count}
     * elements) receives rank {@code i}'s contribution at element {@code i * count}.
     *
     * @throws IllegalArgumentException for a dtype mismatch, a {@code recv} of the wrong size or an invalid overlap
     */
    void allGather(Tensor send, Tensor recv);

    /**
     * All-gather into views (PyTorch's {@code all_gather(tensor_list, tensor)}): {@code recv.get(i)} receives rank
     * {@code i}'s {@code send}; every view has {@code send}'s dtype and shape and any layout (a strided column block,
     * say). {@link #allGatherv(List, List)} with one piece per rank.
     *
     * @throws IllegalArgumentException for a list not of {@code size()} views, or a dtype or shape mismatch
     */
    default void allGather(Tensor send, List<Tensor> recv) {
        Objects.requireNonNull(send, "send");
        Objects.requireNonNull(recv, "recv");
        List<List<Tensor>> pieces = new ArrayList<>(recv.size());
        for (Tensor r : recv) {
            pieces.add(List.of(r));
        }
        allGatherv(List.of(send), pieces);
    }

    /**
     * All-gather of view lists, sizes free per rank (MPI_Allgatherv over views): this rank contributes the pieces
     * {@code send} (any number, any shapes and layouts, one dtype); {@code recv.get(i)} lists the views that receive
     * rank {@code i}'s pieces, piece for piece (same shape as that rank's {@code send.get(k)}). Each received byte is
     * copied once where the backend allows it. This rank's own pieces: where {@code recv.get(rank())} holds exactly
     * the {@code send} views (same address, shape and strides) nothing moves (in place), otherwise they are copied.
     * Receiving views must not overlap one another or a send view of the same rank (not checked). Every rank passes
     * the same total of received elements. Scratch memory, if the backend needs any, comes from a root allocator of
     * its own that is closed before the call returns; {@link #allGatherv(List, List, Allocator)} charges it to the
     * caller's allocator instead.
     *
     * @throws IllegalArgumentException for a list not of {@code size()} entries, mixed dtypes, or an own entry that
     *         does not match {@code send} piece for piece
     * @throws CollectiveMismatchException if a peer's pieces do not match this rank's receiving views
     */
    default void allGatherv(List<Tensor> send, List<List<Tensor>> recv) {
        try (Allocator scratch = Allocator.root("all-gather-v-staging")) {
            allGatherv(send, recv, scratch);
        }
    }

    /**
     * {@link #allGatherv(List, List)} whose scratch memory (the staging tensor of the default implementation) is
     * allocated from {@code scratch}, so that the caller's accounting sees it; freed before the call returns.
     *
     * <p>The default implementation packs the pieces into a contiguous staging tensor of every rank's total on the
     * pieces' device, runs one {@link #allGather(Tensor, Tensor)} (equal totals) or a group of send/recv (unequal
     * totals), and unpacks (so two local copies more per byte); it runs at once and must not be called inside an open
     * group. Backends that can read a peer's views directly (in-process) override it, place each byte once, allocate
     * nothing, and also accept it inside a group.
     *
     * @throws IllegalArgumentException for a list not of {@code size()} entries, mixed dtypes, or an own entry that
     *         does not match {@code send} piece for piece
     * @throws CollectiveMismatchException if a peer's pieces do not match this rank's receiving views
     */
    default void allGatherv(List<Tensor> send, List<List<Tensor>> recv, Allocator scratch) {
        Objects.requireNonNull(scratch, "scratch");
        int size = size();
        int rank = rank();
        long[] totals = AllGatherViews.validate(send, recv, rank, size);
        long sum = 0;
        long offset = 0;
        for (int q = 0; q < size; q++) {
            if (q == rank) {
                offset = sum;
            }
            sum += totals[q];
        }
        if (sum == 0) {
            barrier();
            return;
        }
        Tensor first = AllGatherViews.firstTensor(send, recv);
        try (Tensor buffer = Tensor.allocate(scratch, first.dtype(), Shape.of(sum), first.device())) {
            long at = offset;
            for (Tensor piece : send) {
                AllGatherViews.slice(buffer, at, piece).copyFrom(piece);
                at += piece.numel();
            }
            Tensor mine = buffer.narrow(0, offset, totals[rank]);
            boolean equal = true;
            for (long total : totals) {
                equal &= total == totals[0];
            }
            if (equal) {
                allGather(mine, buffer);
            } else {
                try (CollectiveGroup group = group()) {
                    long start = 0;
                    for (int q = 0; q < size; q++) {
                        if (q != rank) {
                            if (totals[rank] > 0) {
                                send(mine, q);
                            }
                            if (totals[q] > 0) {
                                recv(buffer.narrow(0, start, totals[q]), q);
                            }
                        }
                        start += totals[q];
                    }
                }
            }
            long start = 0;
            for (int q = 0; q < size; q++) {
                long pos = start;
                for (int k = 0; k < recv.get(q).size(); k++) {
                    Tensor target = recv.get(q).get(k);
                    if (q != rank || !AllGatherViews.sameView(target, send.get(k))) {
                        target.copyFrom(AllGatherViews.slice(buffer, pos, target));
                    }
                    pos += target.numel();
                }
                start += totals[q];
            }
        }
    }

    /**
     * {@code recv} ({@code count = recv.numel()} elements) receives the reduction over ranks of the slice
     * {@code [rank * count, (rank + 1) * count)} of every rank's {@code send} ({@code size() * count} elements).
     *
     * @throws IllegalArgumentException for a dtype mismatch or an unsupported dtype, a {@code send} of the wrong size
     *         or an invalid overlap
     */
    void reduceScatter(Tensor send, Tensor recv, ReduceOp op);

    /**
     * {@code recv} receives the element-wise reduction over ranks of {@code send} (same number of elements).
     *
     * @throws IllegalArgumentException for a dtype or size mismatch, an unsupported dtype or a partial overlap
     */
    void allReduce(Tensor send, Tensor recv, ReduceOp op);

    /** In-place all-reduce: {@code allReduce(buf, buf, op)}. */
    default void allReduce(Tensor buf, ReduceOp op) {
        allReduce(buf, buf, op);
    }

    /**
     * Every rank's {@code recv} receives {@code root}'s {@code send}; {@code send} is read on the root only but must
     * have {@code recv}'s dtype and size on every rank.
     *
     * @throws IllegalArgumentException for a root out of range, a dtype or size mismatch or a partial overlap
     */
    void broadcast(Tensor send, Tensor recv, int root);

    /** In-place broadcast: {@code broadcast(buf, buf, root)}. */
    default void broadcast(Tensor buf, int root) {
        broadcast(buf, buf, root);
    }

    /**
     * The root's {@code recv} receives the element-wise reduction over ranks of {@code send}; {@code recv} is not
     * touched on other ranks but must have {@code send}'s dtype and size.
     *
     * @throws IllegalArgumentException for a root out of range, a dtype or size mismatch, an unsupported dtype or a
     *         partial overlap
     */
    void reduce(Tensor send, Tensor recv, ReduceOp op, int root);

    /**
     * Sends {@code send} to {@code peer}, which must call {@link #recv(Tensor, int)} with the same dtype and count.
     * Blocks until the peer has received (one copy, straight into the peer's buffer). Sends to one peer match
     * that peer's receives in order. Sending to oneself works only inside a group.
     *
     * @throws IllegalArgumentException for a peer out of range, or oneself outside a group
     */
    void send(Tensor send, int peer);

    /**
     * Receives into {@code recv} what {@code peer} sends with {@link #send(Tensor, int)}.
     *
     * @throws IllegalArgumentException for a peer out of range, or oneself outside a group
     * @throws CollectiveMismatchException if the sender's dtype or count differs
     */
    void recv(Tensor recv, int peer);

    /**
     * Each rank's {@code send} ({@code count = send.numel()}, a multiple of {@code size()}) is cut into {@code size()}
     * chunks; chunk {@code j} goes to rank {@code j}, which stores it as chunk {@code rank()} of its {@code recv}
     * (same size as {@code send}). Not in place: {@code send} and {@code recv} must not overlap.
     *
     * @throws IllegalArgumentException for a count not divisible by {@code size()}, a dtype or size mismatch or any
     *         overlap
     */
    void allToAll(Tensor send, Tensor recv);

    /** Returns once every rank has called it (or fails with the deadline). */
    void barrier();

    /**
     * Collective over this communicator: ranks passing the same non-negative {@code color} form a new
     * communicator, ordered by {@code key} and then by rank here (as MPI_Comm_split and ncclCommSplit). A negative
     * color means this rank joins none and gets {@link Optional#empty()}. The new communicator has this one's
     * context and is independent of it (an abort of one does not abort the other).
     *
     * @throws CollectiveMismatchException if some rank made a different call
     */
    Optional<Communicator> split(int color, int key);

    /**
     * Opens a group scope on this communicator; see {@link CollectiveGroup}.
     *
     * @throws IllegalStateException if a group is already open on this communicator
     */
    CollectiveGroup group();

    /**
     * What this rank's endpoint has moved since it was created or last reset, counted by the backend where the bytes
     * move (see {@link CommunicatorStats}); may be read from any thread, exact between calls. Calls made through a
     * default method are counted with the calls it makes ({@link #allGatherv} on shm counts its all-gather or
     * send/recv too).
     */
    CommunicatorStats stats();

    /** Sets {@link #stats()} to zero; call between operations. */
    void resetStats();

    /** Asynchronous {@link #allGather(Tensor, Tensor)}: validates now, runs in the background, in call order. */
    default CollectiveHandle allGatherAsync(Tensor send, Tensor recv) {
        CollectiveGroup group = group();
        try {
            allGather(send, recv);
        } catch (RuntimeException e) {
            group.close();
            throw e;
        }
        return group.submit();
    }

    /** Asynchronous {@link #reduceScatter(Tensor, Tensor, ReduceOp)}; see {@link #allGatherAsync}. */
    default CollectiveHandle reduceScatterAsync(Tensor send, Tensor recv, ReduceOp op) {
        CollectiveGroup group = group();
        try {
            reduceScatter(send, recv, op);
        } catch (RuntimeException e) {
            group.close();
            throw e;
        }
        return group.submit();
    }

    /** Asynchronous {@link #allReduce(Tensor, Tensor, ReduceOp)}; see {@link #allGatherAsync}. */
    default CollectiveHandle allReduceAsync(Tensor send, Tensor recv, ReduceOp op) {
        CollectiveGroup group = group();
        try {
            allReduce(send, recv, op);
        } catch (RuntimeException e) {
            group.close();
            throw e;
        }
        return group.submit();
    }

    /** Asynchronous in-place {@link #allReduce(Tensor, ReduceOp)}; see {@link #allGatherAsync}. */
    default CollectiveHandle allReduceAsync(Tensor buf, ReduceOp op) {
        return allReduceAsync(buf, buf, op);
    }

    /** Asynchronous {@link #broadcast(Tensor, Tensor, int)}; see {@link #allGatherAsync}. */
    default CollectiveHandle broadcastAsync(Tensor send, Tensor recv, int root) {
        CollectiveGroup group = group();
        try {
            broadcast(send, recv, root);
        } catch (RuntimeException e) {
            group.close();
            throw e;
        }
        return group.submit();
    }

    /** Asynchronous in-place {@link #broadcast(Tensor, int)}; see {@link #allGatherAsync}. */
    default CollectiveHandle broadcastAsync(Tensor buf, int root) {
        return broadcastAsync(buf, buf, root);
    }

    /**
     * Aborts the communicator for every rank: waiting calls fail at once and later calls throw
     * {@link CommunicatorAbortedException}. Idempotent; may be called from any thread.
     */
    void abort();

    /**
     * Releases this rank's endpoint (background threads, registrations). Local, not collective: peers still
     * waiting on this rank time out. An asynchronous operation of this rank still in flight is aborted first
     * ({@code communicator closed with pending operations: rank=0}, which its peers see as any abort) and ends
     * before close returns.
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    void close();

    /**
     * Settings for a communicator, Agrona style: fluent accessors without prefixes, validated once by
     * {@link #conclude()}, after which it is immutable. Not thread-safe until concluded.
     */
    final class Context {
        /** Default deadline of every blocking call: 60 seconds. */
        public static final long DEFAULT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);
        /** System property whose value {@code true} turns on {@link #debugChecks()} by default. */
        public static final String DEBUG_CHECKS_PROP_NAME = "yatt.debug.checks";

        private long timeoutNs = DEFAULT_TIMEOUT_NS;
        private boolean debugChecks = Boolean.getBoolean(DEBUG_CHECKS_PROP_NAME);
        private boolean concluded;

        /** A context with the defaults. */
        public Context() {
        }

        /** The deadline of every blocking call, in nanoseconds. */
        public long timeoutNs() {
            return timeoutNs;
        }

        /**
         * Sets the deadline of every blocking call.
         *
         * @throws IllegalStateException if concluded
         */
        public Context timeoutNs(long timeoutNs) {
            checkNotConcluded();
            this.timeoutNs = timeoutNs;
            return this;
        }

        /**
         * Whether to check that all ranks make matching calls where the check costs communication (it is free,
         * and always on, in the in-process backend). Defaults to the system property {@value #DEBUG_CHECKS_PROP_NAME}.
         */
        public boolean debugChecks() {
            return debugChecks;
        }

        /**
         * Sets {@link #debugChecks()}.
         *
         * @throws IllegalStateException if concluded
         */
        public Context debugChecks(boolean debugChecks) {
            checkNotConcluded();
            this.debugChecks = debugChecks;
            return this;
        }

        /** Whether {@link #conclude()} has run. */
        public boolean isConcluded() {
            return concluded;
        }

        /**
         * Validates the settings and freezes them; a second call does nothing.
         *
         * @throws IllegalArgumentException naming the invalid setting
         */
        public Context conclude() {
            if (concluded) {
                return this;
            }
            if (timeoutNs <= 0) {
                throw new IllegalArgumentException("invalid timeout: timeoutNs=" + timeoutNs + ", expected > 0");
            }
            concluded = true;
            return this;
        }

        /** An unconcluded copy with the same settings. */
        public Context copy() {
            return new Context().timeoutNs(timeoutNs).debugChecks(debugChecks);
        }

        private void checkNotConcluded() {
            if (concluded) {
                throw new IllegalStateException("context already concluded");
            }
        }

        @Override
        public String toString() {
            return "Context{timeoutNs=" + timeoutNs + ", debugChecks=" + debugChecks + "}";
        }
    }
}
