package io.yatt.collectives;

/**
 * A group scope that fuses several calls, as {@code ncclGroupStart}/{@code ncclGroupEnd} do: while the scope is
 * open, collective and point-to-point calls on its communicator only validate their arguments (invalid ones throw
 * at once) and are queued; {@link #close()} executes them together, in order, with one synchronization, and waits.
 * Sends and receives in one group never deadlock against each other (a ring exchange works). Calls in one group
 * must be independent: no call may read a buffer that another call of the same group writes. Groups do not nest.
 * An empty group does nothing and synchronizes with nobody.
 *
 * <pre>{@code
 * try (CollectiveGroup group = comm.group()) {
 *     comm.allGather(a, gatheredA);
 *     comm.allGather(b, gatheredB);
 * }
 * }</pre>
 *
 * <p>Confined to the thread that opened it.
 */
public interface CollectiveGroup extends AutoCloseable {

    /**
     * Ends the scope and starts the queued calls without waiting; {@link #close()} then does nothing.
     *
     * @throws IllegalStateException if the group was already submitted or closed
     */
    CollectiveHandle submit();

    /**
     * Ends the scope, executes the queued calls and waits for them (unless {@link #submit()} already ran them).
     *
     * @throws CollectiveException (or a subclass) if an operation failed or timed out
     * @throws IllegalStateException on a second close
     */
    @Override
    void close();
}
