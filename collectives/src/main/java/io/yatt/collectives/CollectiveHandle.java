package io.yatt.collectives;

import java.time.Duration;

/**
 * The pending result of an asynchronous collective or of a submitted {@link CollectiveGroup}. Thread-safe: any
 * thread may poll or wait.
 */
public interface CollectiveHandle {

    /** Whether the operation has completed, successfully or not. Never blocks. */
    boolean isDone();

    /**
     * Waits until the operation completes, at most {@code timeoutNs}.
     *
     * @throws CollectiveTimeoutException if it is still running after {@code timeoutNs}; the operation itself keeps
     *         running under the communicator's deadline and this handle can be awaited again
     * @throws CollectiveException (or a subclass) the operation's own failure, rethrown on every await
     * @throws IllegalArgumentException if {@code timeoutNs} is negative
     */
    void await(long timeoutNs);

    /** As {@link #await(long)} with a {@link Duration}. */
    default void await(Duration timeout) {
        await(timeout.toNanos());
    }
}
