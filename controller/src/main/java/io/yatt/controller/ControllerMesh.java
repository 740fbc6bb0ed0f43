package io.yatt.controller;

import io.yatt.controller.ParallelControllers.Metric;
import io.yatt.controller.ParallelControllers.MetricOp;
import io.yatt.controller.internal.runtime.PeerLinks;
import io.yatt.controller.internal.wire.Message;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The C controllers of a job over the control plane (WeChat-YATT's parallel controllers): controller {@code i} drives
 * the workers of DP slice {@code i} on its own {@link ControlPlane}; through this mesh it meets the others at step
 * barriers ({@code StepBarrier}) and reduces metrics with them ({@code MetricReduction}, exact partials), so all
 * agree on step boundaries and on every reduced number. The controllers heartbeat each other over the same links (at
 * the plane's {@link ControlPlane.Context#peerHeartbeatIntervalNs}); one silent for longer than
 * {@link ControlPlane.Context#peerHeartbeatTimeoutNs} is lost, and every other controller's barrier, reduction and
 * call in flight fails with {@link ControllerLostException}. One controller is the single-controller mode (every call
 * returns at once). Thread-safe; closed once by its owner.
 */
public final class ControllerMesh implements AutoCloseable {

    /** Default time to wait for the other controllers at a barrier or reduction: 60 s. */
    public static final long DEFAULT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);

    private static final String COUNT = "#count";
    private static final String MIN = "#min";
    private static final String MAX = "#max";
    private static final String NON_FINITE = "#nonFinite";
    private static final String SUM = "#sum";

    /**
     * Where a controller listens and who it is.
     *
     * @param endpoint     its control channel ({@link ControlPlane#endpoint()}), reachable from the other controllers
     * @param controllerId its id ({@link ControlPlane#controllerId()})
     * @param pid          its process id (named when it is lost)
     * @param host         its host name (named when it is lost)
     */
    public record Peer(String endpoint, long controllerId, long pid, String host) {
        /** @throws NullPointerException if the endpoint or the host is null */
        public Peer {
            Objects.requireNonNull(endpoint, "endpoint");
            Objects.requireNonNull(host, "host");
        }
    }

    private final int index;
    private final int count;
    private final PeerLinks links;
    private final long timeoutNs;
    private boolean closed;

    private ControllerMesh(int index, int count, PeerLinks links, long timeoutNs) {
        this.index = index;
        this.count = count;
        this.links = links;
        this.timeoutNs = timeoutNs;
    }

    /**
     * Joins {@code plane}, controller {@code index}, to the controllers {@code peers} (index order, this one
     * included); frames from other senders claiming a place in the mesh are counted as unauthenticated. Heartbeats
     * start now; a controller not heard from within the plane's peer heartbeat timeout of this join is lost.
     *
     * @throws IllegalArgumentException if the index is outside the peers, peer {@code index} is not this plane, or
     *     the timeout is not positive
     * @throws IllegalStateException if the plane's agent did not add the links within the plane's send timeout
     */
    public static ControllerMesh join(ControlPlane plane, int index, List<Peer> peers, long timeoutNs) {
        if (index < 0 || index >= peers.size()) {
            throw new IllegalArgumentException("controller index out of range: index=" + index + ", controllers="
                    + peers.size());
        }
        if (peers.get(index).controllerId() != plane.controllerId()) {
            throw new IllegalArgumentException("peer at this controller's index is another controller: index="
                    + index + ", peer=" + peers.get(index) + ", controllerId=" + plane.controllerId());
        }
        if (timeoutNs <= 0) {
            throw new IllegalArgumentException("mesh timeout must be positive: timeoutNs=" + timeoutNs);
        }
        ControlPlane.Context ctx = plane.context();
        return new ControllerMesh(index, peers.size(), new PeerLinks(plane.agent(), index, peers,
                ControlPlane.CONTROL_STREAM_ID, ctx.peerHeartbeatIntervalNs(), ctx.peerHeartbeatTimeoutNs()),
                timeoutNs);
    }

    /**
     * Tells the mesh that a process of this host exited (its launcher saw it, for example through {@link
     * Process#onExit()}): a controller of the mesh that ran in it is lost at the next liveness check, a quarter of the
     * heartbeat interval later, not after the heartbeat timeout. A pid of no peer is ignored. Any thread.
     */
    public void processExited(long pid) {
        links.inbox().processExited(pid, Contexts.localHostName());
    }

    /** This controller's index, i. */
    public int index() {
        return index;
    }

    /** Number of controllers, C. */
    public int count() {
        return count;
    }

    /**
     * Waits until every controller reached {@code step}.
     *
     * @throws ControllerLostException if a controller is lost (before this call or while it waits)
     * @throws IllegalStateException if a controller could not be reached, did not arrive within the timeout (naming
     *     the missing ones) or left the mesh
     */
    public void barrier(long step) {
        failIfLost();
        links.sendBarrier(step);
        try {
            links.inbox().awaitBarrier(step, timeoutNs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted at a step barrier: step=" + step, e);
        }
    }

    /**
     * The metrics of {@code step} reduced over every controller's partials: the same map on every controller, and
     * the same values for any C (partials are exact until the final rounding). Every controller calls it once per
     * step.
     *
     * @throws ControllerLostException if a controller is lost (before this call or while it waits)
     * @throws IllegalStateException if a controller could not be reached, did not send within the timeout or left
     *     the mesh
     * @throws IllegalArgumentException if partials of one name use different ops, here or across controllers
     */
    public Map<String, Double> reduce(long step, Collection<Metric> partials) {
        failIfLost();
        List<Metric> all = new ArrayList<>(partials);
        for (MetricOp op : MetricOp.values()) {
            List<Message.Metric> entries = new ArrayList<>();
            for (Metric m : partials) {
                if (m.op() == op) {
                    entries.add(new Message.Metric(m.name() + COUNT, m.count()));
                    entries.add(new Message.Metric(m.name() + MIN, m.min()));
                    entries.add(new Message.Metric(m.name() + MAX, m.max()));
                    entries.add(new Message.Metric(m.name() + NON_FINITE, m.nonFiniteSum()));
                    for (double c : m.sumComponents()) {
                        entries.add(new Message.Metric(m.name() + SUM, c));
                    }
                }
            }
            links.sendMetrics(step, Message.ReduceOp.valueOf(op.name()), entries);
        }
        List<Message.MetricReduction> received;
        try {
            received = links.inbox().awaitReductions(step, MetricOp.values().length, timeoutNs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted reducing metrics: step=" + step, e);
        }
        for (Message.MetricReduction m : received) {
            all.addAll(partials(MetricOp.valueOf(m.op().name()), m.metrics()));
        }
        return ParallelControllers.reduce(all);
    }

    private void failIfLost() {
        ControllerLostException lost = links.inbox().lost();
        if (lost != null) {
            throw lost;
        }
    }

    /** The partials one reduction message carries, in the order their entries came. */
    private static List<Metric> partials(MetricOp op, List<Message.Metric> entries) {
        Map<String, List<Double>> sums = new LinkedHashMap<>();
        Map<String, double[]> scalars = new LinkedHashMap<>();
        for (Message.Metric e : entries) {
            int cut = e.name().lastIndexOf('#');
            if (cut <= 0) {
                throw new IllegalArgumentException("metric entry without a part: name=" + e.name());
            }
            String name = e.name().substring(0, cut);
            String part = e.name().substring(cut);
            double[] s = scalars.computeIfAbsent(name, n -> new double[4]);
            sums.computeIfAbsent(name, n -> new ArrayList<>());
            switch (part) {
                case COUNT -> s[0] = e.value();
                case MIN -> s[1] = e.value();
                case MAX -> s[2] = e.value();
                case NON_FINITE -> s[3] = e.value();
                case SUM -> sums.get(name).add(e.value());
                default -> throw new IllegalArgumentException("unknown metric entry part: name=" + e.name());
            }
        }
        List<Metric> out = new ArrayList<>();
        scalars.forEach((name, s) -> {
            double[] components = sums.get(name).stream().mapToDouble(Double::doubleValue).toArray();
            out.add(Metric.fromParts(name, op, (long) s[0], components, s[3], s[1], s[2]));
        });
        return out;
    }

    /**
     * Stops heartbeating and accepting peer frames, tells the other controllers that this one leaves (they do not
     * count it lost) and closes the publications to them.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public synchronized void close() {
        if (closed) {
            throw new IllegalStateException("controller mesh already closed: index=" + index);
        }
        closed = true;
        links.close();
    }
}
