package io.yatt.controller;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A call ran past the control plane's call deadline ({@link ControlPlane.Context#callTimeoutNs}) while its workers
 * still heartbeat: a method that hangs or stalls. The message names the group, the method, the deadline and every
 * worker that had not answered (rank, pid, host and the age of its last heartbeat); those workers and the workers
 * sharing their roles are sent an abort, so the hung method is interrupted and no peer waits in a collective.
 * Immutable.
 */
public final class CallTimeoutException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** A worker that had not answered when the deadline passed. */
    public record Unanswered(int rank, long pid, String host, long lastHeartbeatAgeNs) {
        @Override
        public String toString() {
            return "rank=" + rank + " pid=" + pid + " host=" + host + " lastHeartbeatAgeMs="
                    + TimeUnit.NANOSECONDS.toMillis(lastHeartbeatAgeNs);
        }
    }

    private final String group;
    private final String method;
    private final long timeoutNs;
    private final List<Unanswered> unanswered;

    /** The timeout of {@code method} on {@code group} after {@code timeoutNs}, with the workers still running it. */
    public CallTimeoutException(String group, String method, long timeoutNs, List<Unanswered> unanswered) {
        super("call timed out: group=" + group + ", method=" + method + ", timeoutMs="
                + TimeUnit.NANOSECONDS.toMillis(timeoutNs) + ", unanswered=" + unanswered);
        this.group = group;
        this.method = method;
        this.timeoutNs = timeoutNs;
        this.unanswered = List.copyOf(unanswered);
    }

    public String group() {
        return group;
    }

    public String method() {
        return method;
    }

    public long timeoutNs() {
        return timeoutNs;
    }

    /** The workers that had not answered, in rank order. */
    public List<Unanswered> unanswered() {
        return unanswered;
    }
}
