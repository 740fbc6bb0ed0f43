package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The per-operation entry code every backend shares: each collective and point-to-point call checks that the
 * communicator is usable, that its tensors live where the backend moves data, and its arguments
 * ({@link CollectiveChecks}), in that order and before any data moves, then hands the checked call to the backend's
 * {@link #collective} or {@link #pointToPoint}, which runs it now or queues it in an open group. Counted bytes come
 * from the backend's {@link #counters()}.
 *
 * <p>Thread-safety: as the backend says (confined to the rank's thread in every built-in backend).
 */
public abstract class CommunicatorBase implements Communicator {
    /** This rank's index in the communicator. */
    protected final int rank;
    /** Ranks in the communicator. */
    protected final int size;

    /** For subclasses: rank {@code rank} of {@code size}. */
    protected CommunicatorBase(int rank, int size) {
        this.rank = rank;
        this.size = size;
    }

    @Override
    public final int rank() {
        return rank;
    }

    @Override
    public final int size() {
        return size;
    }

    /**
     * Throws if this communicator was closed or aborted.
     *
     * @throws io.yatt.collectives.CommunicatorAbortedException if it was closed or aborted
     */
    protected abstract void checkUsable();

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
