package io.yatt.collectives;

import java.util.List;

/**
 * A blocking call did not complete within its deadline because some ranks never arrived. Names the operation,
 * this rank's sequence number for it, the ranks that were missing when the deadline passed and the deadline:
 * {@code allGather timed out: op=allGather, seq=17, missing ranks=[2], timeoutNs=5000000000}. When thrown by a
 * collective call the communicator has been aborted; when thrown by {@link CollectiveHandle#await(long)} only
 * the wait timed out and the operation keeps running under its own deadline.
 */
public class CollectiveTimeoutException extends CollectiveException {
    private static final long serialVersionUID = 1L;

    private final String op;
    private final long seq;
    private final List<Integer> missingRanks;
    private final long timeoutNs;

    /**
     * A timeout of {@code op} (its sequence number on this rank {@code seq}) after {@code timeoutNs}, with the ranks
     * in the communicator's numbering that had not arrived.
     */
    public CollectiveTimeoutException(String op, long seq, List<Integer> missingRanks, long timeoutNs) {
        this(op, seq, missingRanks, timeoutNs, null);
    }

    /** As {@link #CollectiveTimeoutException(String, long, List, long)}, caused by {@code cause}. */
    public CollectiveTimeoutException(String op, long seq, List<Integer> missingRanks, long timeoutNs, Throwable cause) {
        super(op + " timed out: op=" + op + ", seq=" + seq + ", missing ranks=" + missingRanks + ", timeoutNs=" + timeoutNs,
                cause);
        this.op = op;
        this.seq = seq;
        this.missingRanks = List.copyOf(missingRanks);
        this.timeoutNs = timeoutNs;
    }

    /** The operation that timed out, e.g. {@code allGather} or {@code group(allGather, allReduce)}. */
    public String op() {
        return op;
    }

    /** This rank's sequence number of the operation on its communicator (0 for the first call). */
    public long seq() {
        return seq;
    }

    /** The ranks (communicator numbering, ascending) that had not arrived when the deadline passed. */
    public List<Integer> missingRanks() {
        return missingRanks;
    }

    /** The deadline that passed, in nanoseconds. */
    public long timeoutNs() {
        return timeoutNs;
    }
}
