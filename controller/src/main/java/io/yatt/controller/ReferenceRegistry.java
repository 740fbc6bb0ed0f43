package io.yatt.controller;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A producer's bookkeeping of the tensors it keeps for others: each published reference has a name, the step that
 * made it, a count per consumer rank and the owner of its memory. When the last consumer has pulled it, the memory is
 * freed; a step that ends with live references reports them by name. Thread-safe.
 */
public final class ReferenceRegistry implements AutoCloseable {
    private final Map<TensorRef, Entry> live = new LinkedHashMap<>();
    private boolean closed;

    private ReferenceRegistry() {
    }

    /** An empty registry. */
    public static ReferenceRegistry create() {
        return new ReferenceRegistry();
    }

    /**
     * A reference still live, as reported at the end of a step.
     *
     * @param name     the name it was published under
     * @param step     the step that published it
     * @param ref      where it lives
     * @param awaiting the consumer ranks that have not pulled it yet (a rank repeated once per pending pull)
     */
    public record LiveReference(String name, long step, TensorRef ref, List<Integer> awaiting) {
        /** Copies the list. */
        public LiveReference {
            awaiting = List.copyOf(awaiting);
        }

        @Override
        public String toString() {
            return name + "(step=" + step + ", owner=" + ref.ownerRank() + ", region=" + ref.regionId()
                    + ", byteOffset=" + ref.byteOffset() + ", awaiting=" + awaiting + ")";
        }
    }

    private static final class Entry {
        final String name;
        final long step;
        final AutoCloseable memory;
        final TreeMap<Integer, Integer> pending = new TreeMap<>();

        Entry(String name, long step, AutoCloseable memory) {
            this.name = name;
            this.step = step;
            this.memory = memory;
        }

        List<Integer> awaiting() {
            List<Integer> ranks = new ArrayList<>();
            pending.forEach((rank, count) -> {
                for (int i = 0; i < count; i++) {
                    ranks.add(rank);
                }
            });
            return ranks;
        }
    }

    /**
     * Records {@code ref} as live until every consumer in {@code consumerRanks} has pulled it (a rank listed twice
     * must pull twice); {@code memory} is closed then. The registry owns {@code memory} from now on.
     *
     * @throws IllegalArgumentException if the name is empty, there is no consumer, a rank is negative, or the
     *     reference is live already
     * @throws IllegalStateException if the registry is closed
     */
    public synchronized TensorRef publish(String name, long step, TensorRef ref, Collection<Integer> consumerRanks,
            AutoCloseable memory) {
        checkOpen();
        Objects.requireNonNull(ref, "ref");
        Objects.requireNonNull(memory, "memory");
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("invalid reference name: name=" + name + ", expected a non-empty name");
        }
        if (consumerRanks.isEmpty()) {
            throw new IllegalArgumentException("a reference needs at least one consumer: name=" + name);
        }
        Entry existing = live.get(ref);
        if (existing != null) {
            throw new IllegalArgumentException("reference already live: name=" + name + ", liveName=" + existing.name
                    + ", ref=" + ref);
        }
        Entry entry = new Entry(name, step, memory);
        for (int rank : consumerRanks) {
            checkRank(name, rank);
            entry.pending.merge(rank, 1, Integer::sum);
        }
        live.put(ref, entry);
        return ref;
    }

    /**
     * Adds one pending pull by {@code rank} to a live reference (a consumer found after publishing).
     *
     * @throws IllegalArgumentException if the reference is not live or the rank is negative
     */
    public synchronized void addConsumer(TensorRef ref, int rank) {
        Entry entry = entry(ref);
        checkRank(entry.name, rank);
        entry.pending.merge(rank, 1, Integer::sum);
    }

    /**
     * Records that {@code rank} pulled the reference; frees its memory when it was the last pending pull.
     *
     * @return whether the memory was freed
     * @throws IllegalArgumentException if the reference is not live or the rank has no pending pull of it
     * @throws IllegalStateException if freeing the memory failed (the reference is dropped all the same)
     */
    public synchronized boolean consumed(TensorRef ref, int rank) {
        Entry entry = entry(ref);
        Integer count = entry.pending.get(rank);
        if (count == null) {
            throw new IllegalArgumentException("reference not awaited by rank: name=" + entry.name + ", rank=" + rank
                    + ", awaiting=" + entry.awaiting());
        }
        if (count > 1) {
            entry.pending.put(rank, count - 1);
            return false;
        }
        entry.pending.remove(rank);
        if (!entry.pending.isEmpty()) {
            return false;
        }
        live.remove(ref);
        free(entry);
        return true;
    }

    /** Number of live references. */
    public synchronized int liveCount() {
        return live.size();
    }

    /**
     * The references published at or before {@code step} that are still live, ordered by step then name: what a step
     * that ends now leaves behind (empty when the step is clean). Nothing is freed.
     */
    public synchronized List<LiveReference> endStep(long step) {
        List<LiveReference> left = new ArrayList<>();
        live.forEach((ref, entry) -> {
            if (entry.step <= step) {
                left.add(new LiveReference(entry.name, entry.step, ref, entry.awaiting()));
            }
        });
        left.sort(Comparator.comparingLong(LiveReference::step).thenComparing(LiveReference::name));
        return List.copyOf(left);
    }

    /**
     * Frees the memory of every live reference (a job that stops) and closes the registry.
     *
     * @throws IllegalStateException if the registry is already closed, or freeing some memory failed (all are tried)
     */
    @Override
    public synchronized void close() {
        checkOpen();
        closed = true;
        IllegalStateException failure = null;
        for (Entry entry : live.values()) {
            try {
                free(entry);
            } catch (IllegalStateException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        live.clear();
        if (failure != null) {
            throw failure;
        }
    }

    private Entry entry(TensorRef ref) {
        checkOpen();
        Entry entry = live.get(Objects.requireNonNull(ref, "ref"));
        if (entry == null) {
            throw new IllegalArgumentException("reference not live: ref=" + ref);
        }
        return entry;
    }

    private static void free(Entry entry) {
        try {
            entry.memory.close();
        } catch (Exception e) {
            throw new IllegalStateException("freeing a reference failed: name=" + entry.name + ", step=" + entry.step,
                    e);
        }
    }

    private static void checkRank(String name, int rank) {
        if (rank < 0) {
            throw new IllegalArgumentException("consumer rank negative: name=" + name + ", rank=" + rank);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("reference registry is closed");
        }
    }
}
