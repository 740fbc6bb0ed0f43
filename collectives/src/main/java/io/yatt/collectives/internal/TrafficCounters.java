package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CommunicatorStats;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The live counters behind {@link io.yatt.collectives.Communicator#stats()}: backends add bytes where they move them
 * (a peer rank's thread may add to this rank's counters, so every counter is a {@link LongAdder}). Thread-safe.
 */
public final class TrafficCounters {
    private final LongAdder received = new LongAdder();
    private final LongAdder sent = new LongAdder();
    private final LongAdder deviceReceived = new LongAdder();
    private final LongAdder deviceSent = new LongAdder();
    private final LongAdder[] calls = new LongAdder[CollectiveKind.values().length];

    /** Zeroed counters. */
    public TrafficCounters() {
        for (int i = 0; i < calls.length; i++) {
            calls[i] = new LongAdder();
        }
    }

    /** Counts one call of {@code kind}. */
    public void call(CollectiveKind kind) {
        calls[kind.ordinal()].increment();
    }

    /** Counts host bytes of a peer's data received by this rank. */
    public void received(long bytes) {
        received.add(bytes);
    }

    /** Counts host bytes of this rank's data received by a peer. */
    public void sent(long bytes) {
        sent.add(bytes);
    }

    /** Counts device bytes of a peer's data received by this rank. */
    public void deviceReceived(long bytes) {
        received.add(bytes);
        deviceReceived.add(bytes);
    }

    /** Counts device bytes of this rank's data received by a peer. */
    public void deviceSent(long bytes) {
        sent.add(bytes);
        deviceSent.add(bytes);
    }

    /** The counts now (not atomic across counters while bytes move; exact between calls). */
    public CommunicatorStats snapshot() {
        Map<CollectiveKind, Long> byKind = new EnumMap<>(CollectiveKind.class);
        for (CollectiveKind kind : CollectiveKind.values()) {
            byKind.put(kind, calls[kind.ordinal()].sum());
        }
        long dr = deviceReceived.sum();
        long ds = deviceSent.sum();
        return new CommunicatorStats(Math.max(received.sum(), dr), Math.max(sent.sum(), ds), dr, ds, byKind);
    }

    /** Sets every counter to zero; call between operations. */
    public void reset() {
        received.reset();
        sent.reset();
        deviceReceived.reset();
        deviceSent.reset();
        for (LongAdder adder : calls) {
            adder.reset();
        }
    }
}
