package io.yatt.collectives;

import io.yatt.collectives.inprocess.InProcessCommunicator;

import java.util.List;
import java.util.Objects;

/**
 * N ranks as threads in one JVM: the in-process backend, for host tensors. Each rank's thread uses its own
 * {@link #communicator(int)}; data moves with one copy per byte straight between the ranks' buffers, and
 * reductions are split so that every rank reduces one slice. Thread-safe; {@link #close()} aborts every
 * communicator of this world, including those made by {@link Communicator#split(int, int)}.
 *
 * <pre>{@code
 * try (InProcessWorld world = InProcessWorld.create(4, new Communicator.Context().timeoutNs(5_000_000_000L))) {
 *     // thread i: world.communicator(i).allReduce(buf, ReduceOp.SUM);
 * }
 * }</pre>
 */
public final class InProcessWorld implements CommunicatorWorld {
    private final List<InProcessCommunicator> communicators;
    private boolean closed;

    private InProcessWorld(List<InProcessCommunicator> communicators) {
        this.communicators = communicators;
    }

    /**
     * A world of {@code size} ranks with the default {@link Communicator.Context}.
     *
     * @throws IllegalArgumentException if {@code size < 1}
     */
    public static InProcessWorld create(int size) {
        return create(size, new Communicator.Context());
    }

    /**
     * A world of {@code size} ranks; the context is concluded here.
     *
     * @throws IllegalArgumentException if {@code size < 1} or the context is invalid
     */
    public static InProcessWorld create(int size, Communicator.Context context) {
        Objects.requireNonNull(context, "context");
        if (size < 1) {
            throw new IllegalArgumentException("invalid world size: size=" + size + ", expected >= 1");
        }
        context.conclude();
        return new InProcessWorld(InProcessCommunicator.createWorld(size, context));
    }

    @Override
    public int size() {
        return communicators.size();
    }

    @Override
    public Communicator communicator(int rank) {
        if (rank < 0 || rank >= communicators.size()) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", size=" + communicators.size());
        }
        return communicators.get(rank);
    }

    @Override
    public List<Communicator> communicators() {
        return List.copyOf(communicators);
    }

    /**
     * Aborts every communicator of this world (waiting calls fail at once) and releases their threads.
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    public synchronized void close() {
        if (closed) {
            throw new IllegalStateException("in-process world already closed: size=" + communicators.size());
        }
        closed = true;
        InProcessCommunicator.closeWorld(communicators);
    }
}
