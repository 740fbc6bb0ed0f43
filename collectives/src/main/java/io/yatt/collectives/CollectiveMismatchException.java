package io.yatt.collectives;

/**
 * Ranks called different collectives, or the same one with different count, dtype, op or root. The message names
 * both sides: {@code mismatched collective: rank 0 called allReduce(count=16, dtype=F32, op=SUM) but rank 1 called
 * allReduce(count=8, dtype=F32, op=SUM)}. Thrown on every participating rank before any data moves; the
 * communicator is aborted.
 */
public class CollectiveMismatchException extends CollectiveException {
    private static final long serialVersionUID = 1L;

    /** A mismatch described by {@code message}. */
    public CollectiveMismatchException(String message) {
        super(message);
    }

    /** A mismatch described by {@code message}, reported first by {@code cause} (another rank's exception). */
    public CollectiveMismatchException(String message, Throwable cause) {
        super(message, cause);
    }
}
