package io.yatt.controller.internal.runtime;

import io.aeron.ExclusivePublication;
import io.yatt.controller.WorkerLostException;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.WorkerProxy;

/**
 * The controller's view of one registered worker: its registration, the Aeron session it sends from, the proxy to
 * reach it, and when it was last heard from. Fields written by the controller agent, read by callers.
 */
public final class WorkerSession {

    private final Message.Register registration;
    private final int sessionId;
    private final ExclusivePublication publication;
    private final WorkerProxy proxy;
    private volatile long lastSeenNs;
    private volatile WorkerLostException lost;
    /** Opens this worker's frames (null without a shared secret); used by whichever thread polls, under its lock. */
    private final FrameTag inbound;

    WorkerSession(Message.Register registration, int sessionId, ExclusivePublication publication, WorkerProxy proxy,
                  long nowNs, FrameTag inbound) {
        this.inbound = inbound;
        this.registration = registration;
        this.sessionId = sessionId;
        this.publication = publication;
        this.proxy = proxy;
        this.lastSeenNs = nowNs;
    }

    public Message.Register registration() {
        return registration;
    }

    FrameTag inbound() {
        return inbound;
    }

    int sessionId() {
        return sessionId;
    }

    ExclusivePublication publication() {
        return publication;
    }

    public WorkerProxy proxy() {
        return proxy;
    }

    long lastSeenNs() {
        return lastSeenNs;
    }

    void seen(long nowNs) {
        lastSeenNs = nowNs;
    }

    /** Why this worker is gone, or null while it is alive. */
    public WorkerLostException lost() {
        return lost;
    }

    void lost(WorkerLostException e) {
        lost = e;
    }
}
