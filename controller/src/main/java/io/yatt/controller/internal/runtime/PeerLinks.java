package io.yatt.controller.internal.runtime;

import io.aeron.ExclusivePublication;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.controller.internal.wire.Message;
import io.yatt.controller.internal.wire.PeerProxy;
import java.util.ArrayList;
import java.util.List;
import org.agrona.CloseHelper;

/**
 * One controller's publications to the other controllers of its mesh (on their control streams) and the inbox of
 * what they send back. The publications are added and closed on the agent's thread
 * ({@link ControllerAgent#onAgentThread}), so that under INVOKER threading no other thread runs the driver.
 * Thread-safe: each proxy holds its own lock.
 */
public final class PeerLinks implements AutoCloseable {

    private final ControllerAgent agent;
    private final int index;
    private final int count;
    private final List<ExclusivePublication> publications = new ArrayList<>();
    private final List<PeerProxy> proxies = new ArrayList<>();
    private final PeerInbox inbox;

    /**
     * Links controller {@code index} (whose agent is {@code agent}) to the controllers at {@code endpoints} on
     * {@code streamId}, whose ids are {@code controllerIds} (both in index order, this controller included).
     *
     * @throws IllegalStateException if the agent did not add a publication within the send timeout (or has stopped)
     */
    public PeerLinks(ControllerAgent agent, int index, List<String> endpoints, long[] controllerIds, int streamId) {
        this.agent = agent;
        this.index = index;
        this.count = endpoints.size();
        this.inbox = new PeerInbox(index, controllerIds);
        agent.peers(inbox);
        try {
            for (int i = 0; i < count; i++) {
                if (i == index) {
                    proxies.add(null);
                    continue;
                }
                String endpoint = endpoints.get(i);
                ExclusivePublication p = agent.onAgentThread("addExclusivePublication(" + endpoint + ")",
                        () -> agent.transport().aeron().addExclusivePublication(endpoint, streamId));
                publications.add(p);
                PeerProxy proxy = new PeerProxy(agent.payloads(),
                        new PublicationSink(agent.transport(), p, agent.sendTimeoutNs()));
                FrameTag sealer = agent.peerSealer(controllerIds[i]);
                if (sealer != null) {
                    proxy.seal(sealer);
                }
                proxies.add(proxy);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public PeerInbox inbox() {
        return inbox;
    }

    /**
     * Tells every other controller that this one reached {@code step}.
     *
     * @throws IllegalStateException if a peer could not be reached within the send timeout
     */
    public void sendBarrier(long step) {
        for (int i = 0; i < count; i++) {
            if (i != index && !proxies.get(i).stepBarrier(agent.controllerId(), index, count, step)) {
                throw unreachable(i, step);
            }
        }
    }

    /**
     * Sends this controller's partial metrics of {@code step} under {@code op} to every other controller.
     *
     * @throws IllegalStateException if a peer could not be reached within the send timeout
     */
    public void sendMetrics(long step, Message.ReduceOp op, List<Message.Metric> metrics) {
        for (int i = 0; i < count; i++) {
            if (i != index && !proxies.get(i).metricReduction(agent.controllerId(), index, count, step, op,
                    metrics)) {
                throw unreachable(i, step);
            }
        }
    }

    private IllegalStateException unreachable(int peer, long step) {
        return new IllegalStateException("peer controller not reachable: controller=" + index + ", peer=" + peer
                + ", step=" + step + ", timeoutMs=" + agent.sendTimeoutNs() / 1_000_000);
    }

    /**
     * Stops accepting peer frames and closes the publications on the agent's thread (with the plane already closed,
     * they went with its Aeron client).
     */
    @Override
    public void close() {
        agent.peers(null);
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
