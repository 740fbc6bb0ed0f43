package io.yatt.bench.collectives;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;
import java.util.Optional;

/**
 * A faulty backend for tests: a real communicator, except that on rank {@code victim} every call whose result has
 * more than one element (every in-place one, with {@code inPlaceOnly}) leaves the receive buffer as it was before
 * the call (nothing arrives); the sweep's one-element timing and check all-reduces pass through untouched. Only the
 * ops the sweep calls are faulty.
 */
final class StaleChunkCommunicator implements Communicator {
    private final Communicator inner;
    private final int victim;
    private final boolean inPlaceOnly;
    private final Allocator allocator = Allocator.root("stale-chunk");

    StaleChunkCommunicator(Communicator inner, int victim, boolean inPlaceOnly) {
        this.inner = inner;
        this.victim = victim;
        this.inPlaceOnly = inPlaceOnly;
    }

    private interface Call {
        void run();
    }

    /** Runs {@code call}; on the victim, puts {@code recv}'s bytes back as they were before it. */
    private void stale(Tensor send, Tensor recv, Call call) {
        long s = send.dataPointer().address();
        long r = recv.dataPointer().address();
        boolean overlap = s < r + recv.byteSize() && r < s + send.byteSize();
        if (rank() != victim || recv.numel() <= 1 || inPlaceOnly && !overlap) {
            call.run();
            return;
        }
        try (Tensor before = Tensor.allocate(allocator, recv.dtype(), recv.shape(), recv.device())) {
            before.copyFrom(recv);
            call.run();
            recv.copyFrom(before);
        }
    }

    @Override
    public void allGather(Tensor send, Tensor recv) {
        stale(send, recv, () -> inner.allGather(send, recv));
    }

    @Override
    public void reduceScatter(Tensor send, Tensor recv, ReduceOp op) {
        stale(send, recv, () -> inner.reduceScatter(send, recv, op));
    }

    @Override
    public void allReduce(Tensor send, Tensor recv, ReduceOp op) {
        stale(send, recv, () -> inner.allReduce(send, recv, op));
    }

    @Override
    public void broadcast(Tensor send, Tensor recv, int root) {
        stale(send, recv, () -> inner.broadcast(send, recv, root));
    }

    @Override
    public void reduce(Tensor send, Tensor recv, ReduceOp op, int root) {
        stale(send, recv, () -> inner.reduce(send, recv, op, root));
    }

    @Override
    public void allToAll(Tensor send, Tensor recv) {
        stale(send, recv, () -> inner.allToAll(send, recv));
    }

    @Override
    public int rank() {
        return inner.rank();
    }

    @Override
    public int size() {
        return inner.size();
    }

    @Override
    public void send(Tensor send, int peer) {
        inner.send(send, peer);
    }

    @Override
    public void recv(Tensor recv, int peer) {
        inner.recv(recv, peer);
    }

    @Override
    public void barrier() {
        inner.barrier();
    }

    @Override
    public Optional<Communicator> split(int color, int key) {
        return inner.split(color, key);
    }

    @Override
    public CollectiveGroup group() {
        return inner.group();
    }

    @Override
    public CommunicatorStats stats() {
        return inner.stats();
    }

    @Override
    public void resetStats() {
        inner.resetStats();
    }

    @Override
    public void abort() {
        inner.abort();
    }

    @Override
    public void close() {
        allocator.close();
        inner.close();
    }
}
