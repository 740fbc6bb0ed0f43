package io.yatt.collectives;

import java.util.List;

/**
 * Several ranks of one communicator world living in this JVM, one thread per rank (the in-process and cuda-local
 * backends): each rank's thread uses its own {@link #communicator(int)}; {@link #close()} aborts every communicator of
 * the world, split ones included. Thread-safe.
 */
public interface CommunicatorWorld extends AutoCloseable {

    /** The number of ranks. */
    int size();

    /**
     * Rank {@code rank}'s communicator, to be used by that rank's thread.
     *
     * @throws IllegalArgumentException if the rank is out of range
     */
    Communicator communicator(int rank);

    /** Every rank's communicator, in rank order. */
    List<Communicator> communicators();

    /**
     * Aborts every communicator of this world and releases what it holds.
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    void close();
}
