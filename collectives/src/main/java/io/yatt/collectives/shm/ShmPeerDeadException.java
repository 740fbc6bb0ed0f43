package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveTimeoutException;

import java.util.List;

/**
 * A peer process of a shm communicator died (e.g. SIGKILL) while this rank waited for it; detected from the peer's
 * pid before the deadline passed. A {@link CollectiveTimeoutException} so that callers handle every missing-rank
 * failure alike; the message says what happened:
 * {@code allReduce failed: op=allReduce, seq=3, missing ranks=[1], dead ranks=[1:pid=4242], timeoutNs=...}.
 */
public final class ShmPeerDeadException extends CollectiveTimeoutException {
    private static final long serialVersionUID = 1L;
    private final List<Integer> deadRanks;
    private final String message;

    ShmPeerDeadException(String op, long seq, List<Integer> missingRanks, List<Integer> deadRanks, long timeoutNs,
                         String deadDescription) {
        super(op, seq, missingRanks, timeoutNs);
        this.deadRanks = List.copyOf(deadRanks);
        this.message = op + " failed: op=" + op + ", seq=" + seq + ", missing ranks=" + missingRanks
            + ", dead ranks=" + deadDescription + ", timeoutNs=" + timeoutNs;
    }

    /** Ranks (communicator numbering) whose process was found dead. */
    public List<Integer> deadRanks() {
        return deadRanks;
    }

    @Override
    public String getMessage() {
        return message;
    }
}
