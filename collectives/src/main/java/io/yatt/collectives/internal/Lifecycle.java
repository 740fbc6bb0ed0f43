package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.CommunicatorAbortedException;

/**
 * The exceptions a rank throws once its communicator is aborted, shared by the backends: the abort itself, and the
 * recorded cause restated for the operation that ran into it. Stateless.
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
}
