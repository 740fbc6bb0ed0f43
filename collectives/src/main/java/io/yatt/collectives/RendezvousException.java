package io.yatt.collectives;

import java.util.List;

/**
 * A rendezvous step failed: a deadline passed with ranks missing, the store could not be reached, or a peer was
 * refused. {@link #missingRanks()} lists the ranks that had not arrived (empty when unknown).
 */
public final class RendezvousException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final List<Integer> missingRanks;

    /** A failure with its message, the ranks that had not arrived (may be empty) and the cause (may be null). */
    public RendezvousException(String message, List<Integer> missingRanks, Throwable cause) {
        super(message, cause);
        this.missingRanks = List.copyOf(missingRanks);
    }

    /** Ranks that had not arrived when the step failed, ascending; empty when not known. */
    public List<Integer> missingRanks() {
        return missingRanks;
    }
}
