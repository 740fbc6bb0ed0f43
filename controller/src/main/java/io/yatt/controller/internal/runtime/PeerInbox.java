package io.yatt.controller.internal.runtime;

import io.yatt.controller.ControllerLostException;
import io.yatt.controller.ControllerMesh;
import io.yatt.controller.internal.wire.Message;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * What the other controllers of a mesh sent: step barriers and metric reductions, kept by step until this controller
 * takes them, and when each was last heard from. Filled by the controller agent, drained by the controller's threads.
 * A controller silent for longer than the heartbeat timeout is lost: every wait fails from then on with its
 * {@link ControllerLostException}; one that said it leaves is no longer watched, and a wait for it fails at once.
 * Thread-safe (synchronised).
 */
public final class PeerInbox {

    private final int index;
    private final int count;
    private final long[] controllerIds;
    private final List<ControllerMesh.Peer> peers;
    private final long[] lastSeenNs;
    private final boolean[] left;
    private final Map<Long, boolean[]> barriers = new HashMap<>();
    private final Map<Long, List<Message.MetricReduction>> reductions = new HashMap<>();
    private ControllerLostException lost;
    /** Peers whose process exited, as their launcher reported (index order); lost at the next liveness check. */
    private final boolean[] exited;

    /**
     * The inbox of controller {@code index} among {@code peers} (index order, this one included), which count as
     * heard from at {@code joinedNs}.
     */
    public PeerInbox(int index, List<ControllerMesh.Peer> peers, long joinedNs) {
        this.exited = new boolean[peers.size()];
        this.index = index;
        this.count = peers.size();
        this.peers = List.copyOf(peers);
        this.controllerIds = new long[count];
        for (int i = 0; i < count; i++) {
            controllerIds[i] = peers.get(i).controllerId();
        }
        this.lastSeenNs = new long[count];
        Arrays.fill(lastSeenNs, joinedNs);
        this.left = new boolean[count];
    }

    /** The number of controllers in the mesh. */
    int count() {
        return count;
    }

    /** Whether a peer message claims a place in this mesh that its sender holds: another index, its id, the count. */
    boolean fromPeer(long controllerId, int senderIndex, int senderCount) {
        return senderCount == count && senderIndex >= 0 && senderIndex < count && senderIndex != index
                && controllerIds[senderIndex] == controllerId;
    }

    /** Controller {@code sender} was heard from at {@code nowNs} (any frame of it that was accepted). */
    synchronized void seen(int sender, long nowNs) {
        if (nowNs - lastSeenNs[sender] > 0) {
            lastSeenNs[sender] = nowNs;
        }
    }

    synchronized void heartbeat(Message.PeerHeartbeat h) {
        if (h.leaving()) {
            left[h.controllerIndex()] = true;
            notifyAll();
        }
    }

    synchronized void barrier(Message.StepBarrier b) {
        barriers.computeIfAbsent(b.step(), s -> new boolean[count])[b.controllerIndex()] = true;
        notifyAll();
    }

    synchronized void reduction(Message.MetricReduction m) {
        reductions.computeIfAbsent(m.step(), s -> new ArrayList<>()).add(m);
        notifyAll();
    }

    /**
     * The first controller found silent for longer than {@code timeoutNs} at {@code nowNs} (one that left is not
     * watched), which from now on fails every wait; null if none is, or one was found before.
     */
    synchronized ControllerLostException checkLiveness(long nowNs, long timeoutNs) {
        if (lost != null) {
            return null;
        }
        for (int i = 0; i < count; i++) {
            long ageNs = nowNs - lastSeenNs[i];
            if (i != index && !left[i] && (ageNs > timeoutNs || exited[i])) {
                ControllerMesh.Peer p = peers.get(i);
                lost = new ControllerLostException(i, p.pid(), p.host(), ageNs, timeoutNs);
                notifyAll();
                return lost;
            }
        }
        return null;
    }

    /**
     * Marks the peers that run in process {@code pid} on {@code host} as exited: the next liveness check finds them
     * lost without waiting out the heartbeat timeout (unless they left the mesh first).
     */
    public synchronized void processExited(long pid, String host) {
        for (int i = 0; i < count; i++) {
            ControllerMesh.Peer p = peers.get(i);
            if (i != index && p.pid() == pid && p.host().equals(host)) {
                exited[i] = true;
            }
        }
    }

    /** Whether controller {@code i} said it leaves the mesh. */
    synchronized boolean hasLeft(int i) {
        return left[i];
    }

    /** The lost controller's exception, null while none is lost. */
    public synchronized ControllerLostException lost() {
        return lost;
    }

    /**
     * Waits until every other controller reached {@code step}.
     *
     * @throws ControllerLostException if a controller is lost before they all have
     * @throws IllegalStateException on timeout, naming the controllers that have not, or if one of them left the mesh
     * @throws InterruptedException if interrupted
     */
    public synchronized void awaitBarrier(long step, long timeoutNs) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNs;
        while (true) {
            boolean[] arrived = barriers.computeIfAbsent(step, s -> new boolean[count]);
            List<Integer> missing = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                if (i != index && !arrived[i]) {
                    missing.add(i);
                }
            }
            if (missing.isEmpty()) {
                barriers.remove(step);
                return;
            }
            failIfBroken("step barrier", step, missing);
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IllegalStateException("step barrier timed out: step=" + step + ", controller=" + index
                        + ", missing=" + missing + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    /**
     * Waits for {@code perPeer} metric reductions of {@code step} from every other controller and takes them.
     *
     * @throws ControllerLostException if a controller is lost before they all have sent them
     * @throws IllegalStateException on timeout, naming the controllers that have not sent them all, or if one of them
     *     left the mesh
     * @throws InterruptedException if interrupted
     */
    public synchronized List<Message.MetricReduction> awaitReductions(long step, int perPeer, long timeoutNs)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNs;
        while (true) {
            List<Message.MetricReduction> arrived = reductions.getOrDefault(step, List.of());
            int[] per = new int[count];
            for (Message.MetricReduction m : arrived) {
                per[m.controllerIndex()]++;
            }
            TreeSet<Integer> missing = new TreeSet<>();
            for (int i = 0; i < count; i++) {
                if (i != index && per[i] < perPeer) {
                    missing.add(i);
                }
            }
            if (missing.isEmpty()) {
                reductions.remove(step);
                return List.copyOf(arrived);
            }
            failIfBroken("metric reduction", step, missing);
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IllegalStateException("metric reduction timed out: step=" + step + ", controller=" + index
                        + ", missing=" + missing + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    /** A wait that still misses {@code missing} cannot end: a controller is lost, or one it waits for has left. */
    private void failIfBroken(String what, long step, Iterable<Integer> missing) {
        if (lost != null) {
            throw lost;
        }
        List<Integer> gone = new ArrayList<>();
        for (int i : missing) {
            if (left[i]) {
                gone.add(i);
            }
        }
        if (!gone.isEmpty()) {
            throw new IllegalStateException(what + " cannot complete, controllers left the mesh: step=" + step
                    + ", controller=" + index + ", left=" + gone);
        }
    }
}
