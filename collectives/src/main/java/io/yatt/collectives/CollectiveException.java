package io.yatt.collectives;

/**
 * A collective operation failed on this rank: the base of every communication failure that is not an invalid
 * argument (invalid arguments throw {@link IllegalArgumentException} before any data moves).
 */
public class CollectiveException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A failure described by {@code message}. */
    public CollectiveException(String message) {
        super(message);
    }

    /** A failure described by {@code message}, caused by {@code cause}. */
    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
