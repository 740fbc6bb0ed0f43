package io.yatt.collectives;

/**
 * The communicator was aborted (by a timeout, a mismatch, an explicit {@link Communicator#abort()} or the close of
 * its world) and cannot be used any more; the cause is the original failure.
 */
public class CommunicatorAbortedException extends CollectiveException {
    private static final long serialVersionUID = 1L;

    /** An abort described by {@code message}, originally caused by {@code cause} (may be null). */
    public CommunicatorAbortedException(String message, Throwable cause) {
        super(message, cause);
    }
}
