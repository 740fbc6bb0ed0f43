package io.yatt.controller.internal.runtime;

import io.yatt.controller.internal.wire.Message;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * What the other controllers of a mesh sent: step barriers and metric reductions, kept by step until this controller
 * takes them. Filled by the controller agent, drained by the controller's threads. Thread-safe (synchronised).
 */
public final class PeerInbox {

    private final int index;
    private final int count;
    private final long[] controllerIds;
    private final Map<Long, boolean[]> barriers = new HashMap<>();
    private final Map<Long, List<Message.MetricReduction>> reductions = new HashMap<>();

    /** The inbox of controller {@code index} among controllers with ids {@code controllerIds} (index order). */
    public PeerInbox(int index, long[] controllerIds) {
        this.index = index;
        this.count = controllerIds.length;
        this.controllerIds = controllerIds.clone();
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

    synchronized void barrier(Message.StepBarrier b) {
        barriers.computeIfAbsent(b.step(), s -> new boolean[count])[b.controllerIndex()] = true;
        notifyAll();
    }

    synchronized void reduction(Message.MetricReduction m) {
        reductions.computeIfAbsent(m.step(), s -> new ArrayList<>()).add(m);
        notifyAll();
    }

    /**
     * Waits until every other controller reached {@code step}.
     *
     * @throws IllegalStateException on timeout, naming the controllers that have not
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
     * @throws IllegalStateException on timeout, naming the controllers that have not sent them all
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
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IllegalStateException("metric reduction timed out: step=" + step + ", controller=" + index
                        + ", missing=" + missing + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }
}
