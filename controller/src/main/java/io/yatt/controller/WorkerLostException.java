package io.yatt.controller;

import java.util.List;

/**
 * A worker stopped heartbeating (it died or stalled) while calls were in flight on it, or before a call: the message
 * names its roles, rank, pid, host and the age of its last heartbeat. Immutable.
 */
public final class WorkerLostException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final List<String> roles;
    private final int rank;
    private final long pid;
    private final String host;
    private final long lastHeartbeatAgeNs;

    /** The loss of the worker described by the arguments, detected with {@code timeoutNs}. */
    public WorkerLostException(List<String> roles, int rank, long pid, String host, long lastHeartbeatAgeNs,
                               long timeoutNs) {
        super("worker lost: role=" + String.join(",", roles) + ", rank=" + rank + ", "
                + LostDetails.of(pid, host, lastHeartbeatAgeNs, timeoutNs));
        this.roles = List.copyOf(roles);
        this.rank = rank;
        this.pid = pid;
        this.host = host;
        this.lastHeartbeatAgeNs = lastHeartbeatAgeNs;
    }

    public List<String> roles() {
        return roles;
    }

    public int rank() {
        return rank;
    }

    public long pid() {
        return pid;
    }

    public String host() {
        return host;
    }

    /** How long before detection the worker was last heard from. */
    public long lastHeartbeatAgeNs() {
        return lastHeartbeatAgeNs;
    }
}
