package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.CommunicatorAbortedException;

/**
 * The close and abort checks and exceptions the backends share: a call on a closed or aborted communicator, a second
 * close, a rank's own abort, and the recorded cause restated for the operation that ran into it. Stateless.
 */
public final class Lifecycle {

    private Lifecycle() {
    }

    /** {@code communicator aborted: rank=0, size=2, cause=<the cause's message>}, caused by {@code cause}. */
    public static CommunicatorAbortedException aborted(int rank, int size, Throwable cause) {
        return new CommunicatorAbortedException("communicator aborted: rank=" + rank + ", size=" + size + ", cause="
                + cause.getMessage(), cause);
    }

    /**
     * What operation {@code opName} (sequence {@code opSeq}) throws for a recorded abort cause: a timeout restated for
     * this op with the same missing ranks and {@code timeoutNs}, a mismatch with the same message, anything else as
     * {@link #aborted}.
     */
    public static RuntimeException translateCause(Throwable cause, String opName, long opSeq, long timeoutNs, int rank,
                                                  int size) {
        return switch (cause) {
            case CollectiveTimeoutException t -> new CollectiveTimeoutException(opName, opSeq, t.missingRanks(),
                    timeoutNs, t);
            case CollectiveMismatchException m -> new CollectiveMismatchException(m.getMessage(), m);
            default -> aborted(rank, size, cause);
        };
    }

    /**
     * Checks that a communicator may take a call: not closed, not aborted.
     *
     * @throws IllegalStateException {@code communicator closed: rank=0, size=2}
     * @throws CommunicatorAbortedException as {@link #aborted} for a recorded {@code abortCause}
     */
    public static void requireUsable(boolean closed, Throwable abortCause, int rank, int size) {
        if (closed) {
            throw closed(rank, size, null);
        }
        if (abortCause != null) {
            throw aborted(rank, size, abortCause);
        }
    }

    /** {@code communicator closed: rank=0, size=2}, caused by {@code cause} (may be null). */
    public static IllegalStateException closed(int rank, int size, Throwable cause) {
        return new IllegalStateException("communicator closed: rank=" + rank + ", size=" + size, cause);
    }

    /**
     * Checks that a communicator is closed only once.
     *
     * @throws IllegalStateException {@code communicator already closed: rank=0, size=2}
     */
    public static void requireNotClosed(boolean closed, int rank, int size) {
        if (closed) {
            throw new IllegalStateException("communicator already closed: rank=" + rank + ", size=" + size);
        }
    }

    /** The abort a rank records when it calls {@code abort()}: {@code communicator aborted by rank 0: size=2}. */
    public static CommunicatorAbortedException abortedBy(int rank, int size) {
        return new CommunicatorAbortedException("communicator aborted by rank " + rank + ": size=" + size, null);
    }
}
