package io.yatt.controller.internal.runtime;

import io.aeron.ExclusivePublication;
import io.yatt.controller.ControllerLostException;
import io.yatt.controller.ControllerMesh;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PeerProxy;
import java.util.ArrayList;
import java.util.List;
import org.agrona.CloseHelper;

/**
 * One controller's publications to the other controllers of its mesh (on their control streams), the inbox of what
 * they send back, and the heartbeats both ways: the agent sends this controller's every interval and, when another
 * controller has been silent past the timeout, fails the waits of the mesh and aborts the plane's calls with its
 * {@link ControllerLostException}. The publications are added and closed on the agent's thread
 * ({@link ControllerAgent#onAgentThread}), so that under INVOKER threading no other thread runs the driver.
 * Thread-safe: each proxy holds its own lock; {@link #duty} runs on the agent's thread only.
 */
public final class PeerLinks implements AutoCloseable {

    private final ControllerAgent agent;
    private final int index;
    private final int count;
    private final long heartbeatIntervalNs;
    private final long heartbeatTimeoutNs;
    /** By peer index (null at this controller's). */
    private final List<ExclusivePublication> publications = new ArrayList<>();
    private final List<PeerProxy> proxies = new ArrayList<>();
    private final PeerInbox inbox;
    /** Set once every publication exists: heartbeats start then. */
    private volatile boolean linked;
    private long nextHeartbeatNs;
    private long nextLivenessCheckNs;

    /**
     * Links controller {@code index} (whose agent is {@code agent}) to the controllers {@code peers} (index order, this
     * one included) on {@code streamId}, heartbeating each every {@code heartbeatIntervalNs} and counting one silent
     * for longer than {@code heartbeatTimeoutNs} as lost.
     *
     * @throws IllegalStateException if the agent did not add a publication within the send timeout (or has stopped)
     */
    public PeerLinks(ControllerAgent agent, int index, List<ControllerMesh.Peer> peers, int streamId,
                     long heartbeatIntervalNs, long heartbeatTimeoutNs) {
        this.agent = agent;
        this.index = index;
        this.count = peers.size();
        this.heartbeatIntervalNs = heartbeatIntervalNs;
        this.heartbeatTimeoutNs = heartbeatTimeoutNs;
        this.inbox = new PeerInbox(index, peers, System.nanoTime());
        agent.peers(this);
        try {
            for (int i = 0; i < count; i++) {
                if (i == index) {
                    publications.add(null);
                    proxies.add(null);
                    continue;
                }
                String endpoint = peers.get(i).endpoint();
                ExclusivePublication p = agent.onAgentThread("addExclusivePublication(" + endpoint + ")",
                        () -> agent.transport().aeron().addExclusivePublication(endpoint, streamId));
                publications.add(p);
                PeerProxy proxy = new PeerProxy(agent.payloads(),
                        new PublicationSink(agent.transport(), p, agent.sendTimeoutNs()));
                FrameTag sealer = agent.peerSealer(peers.get(i).controllerId());
                if (sealer != null) {
                    proxy.seal(sealer);
                }
                proxies.add(proxy);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        linked = true;
    }

    public PeerInbox inbox() {
        return inbox;
    }

    /**
     * The agent's share, each duty cycle: a heartbeat to every other controller once an interval (sent only if it
     * goes at once), and every quarter interval a liveness check; the first controller found lost fails the mesh's
     * waits and every call in flight on this controller's plane (whose workers are told to abort theirs).
     *
     * @return the work done
     */
    int duty(long nowNs) {
        if (!linked) {
            return 0;
        }
        int work = 0;
        if (nowNs - nextHeartbeatNs >= 0) {
            nextHeartbeatNs = nowNs + heartbeatIntervalNs;
            for (int i = 0; i < count; i++) {
                if (i != index && proxies.get(i).heartbeatNow(agent.controllerId(), index, count, nowNs)) {
                    work++;
                }
            }
        }
        if (nowNs - nextLivenessCheckNs >= 0) {
            nextLivenessCheckNs = nowNs + Math.max(1, heartbeatIntervalNs / 4);
            ControllerLostException lost = inbox.checkLiveness(nowNs, heartbeatTimeoutNs);
            if (lost != null) {
                agent.abort(lost.getMessage(), lost);
                work++;
            }
        }
        return work;
    }

    /**
     * Tells every other controller that this controller reached {@code step} (not those that left the mesh).
     *
     * @throws ControllerLostException if a controller of the mesh is lost
     * @throws IllegalStateException if a peer could not be reached within the send timeout
     */
    public void sendBarrier(long step) {
        for (int i = 0; i < count; i++) {
            if (i != index && !inbox.hasLeft(i)
                    && !proxies.get(i).stepBarrier(agent.controllerId(), index, count, step)) {
                throw unreachable(i, step);
            }
        }
    }

    /**
     * Sends this controller's partial metrics of {@code step} under {@code op} to every other controller (not those
     * that left the mesh).
     *
     * @throws ControllerLostException if a controller of the mesh is lost
     * @throws IllegalStateException if a peer could not be reached within the send timeout
     */
    public void sendMetrics(long step, Message.ReduceOp op, List<Message.Metric> metrics) {
        for (int i = 0; i < count; i++) {
            if (i != index && !inbox.hasLeft(i) && !proxies.get(i).metricReduction(agent.controllerId(), index,
                    count, step, op, metrics)) {
                throw unreachable(i, step);
            }
        }
    }

    /** A lost controller's exception (the send failed because of it), else peer {@code peer} not reachable. */
    private RuntimeException unreachable(int peer, long step) {
        ControllerLostException lost = inbox.lost();
        if (lost != null) {
            return lost;
        }
        return new IllegalStateException("peer controller not reachable: controller=" + index + ", peer=" + peer
                + ", step=" + step + ", timeoutMs=" + agent.sendTimeoutNs() / 1_000_000);
    }

    /**
     * Stops the heartbeats, tells every other controller that has not left that this one leaves (so none counts it
     * lost; a peer that cannot be told within the send timeout may; once a controller is lost, only those whose link
     * is connected are told) and closes the publications on the agent's thread (with the plane already closed, they
     * went with its Aeron client).
     */
    @Override
    public void close() {
        agent.peers(null);
        if (linked) {
            // a healthy mesh waits (up to the send timeout) for a link still connecting; a broken one waits for none
            boolean wait = inbox.lost() == null;
            for (int i = 0; i < count; i++) {
                if (i != index && !inbox.hasLeft(i) && (wait || publications.get(i).isConnected())) {
                    proxies.get(i).leaving(agent.controllerId(), index, count, System.nanoTime());
                }
            }
        }
        linked = false;
        try {
            agent.onAgentThread("close peer publications", () -> {
                for (ExclusivePublication p : publications) {
                    CloseHelper.quietClose(p);
                }
                return null;
            });
        } catch (IllegalStateException e) {
            // the agent has stopped: the plane's Aeron client closed these publications with it
        }
    }
}
