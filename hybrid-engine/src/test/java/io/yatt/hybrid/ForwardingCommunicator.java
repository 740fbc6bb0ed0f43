package io.yatt.hybrid;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Tensor;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * For test backends built over a real communicator: forwards every abstract call (and so the counters) to
 * {@code inner}, and wraps communicators split from it with {@code wrap}, so they behave alike. Default methods such
 * as {@code allGatherv} are not forwarded: they run the interface's default unless a subclass overrides them.
 */
abstract class ForwardingCommunicator implements Communicator {
    final Communicator inner;
    private final UnaryOperator<Communicator> wrap;

    ForwardingCommunicator(Communicator inner, UnaryOperator<Communicator> wrap) {
        this.inner = inner;
        this.wrap = wrap;
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
    public void allGather(Tensor send, Tensor recv) {
        inner.allGather(send, recv);
    }

    @Override
    public void reduceScatter(Tensor send, Tensor recv, ReduceOp op) {
        inner.reduceScatter(send, recv, op);
    }

    @Override
    public void allReduce(Tensor send, Tensor recv, ReduceOp op) {
        inner.allReduce(send, recv, op);
    }

    @Override
    public void broadcast(Tensor send, Tensor recv, int root) {
        inner.broadcast(send, recv, root);
    }

    @Override
    public void reduce(Tensor send, Tensor recv, ReduceOp op, int root) {
        inner.reduce(send, recv, op, root);
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
    public void allToAll(Tensor send, Tensor recv) {
        inner.allToAll(send, recv);
    }

    @Override
    public void barrier() {
        inner.barrier();
    }

    @Override
    public Optional<Communicator> split(int color, int key) {
        return inner.split(color, key).map(wrap);
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
        inner.close();
    }
}
