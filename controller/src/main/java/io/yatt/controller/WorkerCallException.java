package io.yatt.controller;

/**
 * A worker method threw: the exception's class name ({@link #type()}), its message and the worker's rank, as the
 * worker reported them. Immutable.
 */
public final class WorkerCallException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String group;
    private final String method;
    private final int rank;
    private final String type;
    private final String remoteMessage;

    /** The failure of {@code method} of {@code group} on worker {@code rank}. */
    public WorkerCallException(String group, String method, int rank, String type, String remoteMessage) {
        super("worker call failed: group=" + group + ", method=" + method + ", rank=" + rank + ", type=" + type
                + ", message=" + remoteMessage);
        this.group = group;
        this.method = method;
        this.rank = rank;
        this.type = type;
        this.remoteMessage = remoteMessage;
    }

    public String group() {
        return group;
    }

    public String method() {
        return method;
    }

    public int rank() {
        return rank;
    }

    /** Class name of the exception the method threw on the worker. */
    public String type() {
        return type;
    }

    /** Message of the exception on the worker (empty if it had none). */
    public String remoteMessage() {
        return remoteMessage;
    }
}
