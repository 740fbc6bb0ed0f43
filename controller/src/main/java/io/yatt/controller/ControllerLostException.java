package io.yatt.controller;

/**
 * Another controller of a {@link ControllerMesh} stopped heartbeating (it died or stalled): the barriers, reductions
 * and calls in flight on the controllers that noticed fail with it; the message names its index, pid, host and the
 * age of its last heartbeat. Immutable.
 */
public final class ControllerLostException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int index;
    private final long pid;
    private final String host;
    private final long lastHeartbeatAgeNs;

    /** The loss of controller {@code index} (process {@code pid} on {@code host}), detected with {@code timeoutNs}. */
    public ControllerLostException(int index, long pid, String host, long lastHeartbeatAgeNs, long timeoutNs) {
        super("controller lost: index=" + index + ", " + LostDetails.of(pid, host, lastHeartbeatAgeNs, timeoutNs));
        this.index = index;
        this.pid = pid;
        this.host = host;
        this.lastHeartbeatAgeNs = lastHeartbeatAgeNs;
    }

    /** The lost controller's index in its mesh. */
    public int index() {
        return index;
    }

    public long pid() {
        return pid;
    }

    public String host() {
        return host;
    }

    /** How long before detection the controller was last heard from (or, if never, since this one joined). */
    public long lastHeartbeatAgeNs() {
        return lastHeartbeatAgeNs;
    }
}
