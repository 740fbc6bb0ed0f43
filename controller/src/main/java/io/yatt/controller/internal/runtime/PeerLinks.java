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
 * what they send back. Thread-safe: each proxy holds its own lock.
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
                ExclusivePublication p = agent.transport().aeron().addExclusivePublication(endpoints.get(i), streamId);
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

    @Override
    public void close() {
        agent.peers(null);
        for (ExclusivePublication p : publications) {
            CloseHelper.quietClose(p);
        }
    }
}
