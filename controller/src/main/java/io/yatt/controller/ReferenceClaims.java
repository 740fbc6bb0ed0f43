package io.yatt.controller;

import io.yatt.controller.internal.runtime.ReferenceStore;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The controller's half of freeing a reference at its last consumer: after a dispatch has split a call's arguments,
 * it counts, for every region, how many pulls the called workers will make of it (one per worker, argument and
 * reference column that holds rows of it) and sends that count with each consumer's batch
 * ({@link ReferenceStore#CLAIM_KEY}); each consumer passes it on to the owner with its pull. Stateless apart from the
 * dispatch id sequence.
 */
final class ReferenceClaims {

    private static final AtomicLong DISPATCHES = new AtomicLong();

    private ReferenceClaims() {
    }

    /**
     * Replaces, in place, every batch of {@code perWorker} that holds reference columns by the same batch carrying
     * the dispatch's claim (ownership moves; a batch given to several workers is moved once). The dispatch is the
     * references' last use unless a batch carries {@link ReferenceColumn#KEEP_KEY} = true.
     */
    static void claim(List<Object[]> perWorker) {
        Map<ReferenceColumn.Region, Integer> pulls = new LinkedHashMap<>();
        boolean keep = false;
        for (Object[] args : perWorker) {
            if (args == null) {
                continue;
            }
            for (Object arg : args) {
                if (arg instanceof DataBatch batch && !batch.isClosed()) {
                    for (String key : batch.columnKeys()) {
                        if (batch.column(key) instanceof ReferenceColumn column) {
                            for (ReferenceColumn.Region region : column.regions().keySet()) {
                                pulls.merge(region, 1, Integer::sum);
                            }
                            keep |= Boolean.TRUE.equals(batch.metadata().get(ReferenceColumn.KEEP_KEY));
                        }
                    }
                }
            }
        }
        if (pulls.isEmpty()) {
            return;
        }
        List<Object> consumers = new ArrayList<>();
        pulls.forEach((region, n) -> consumers.add(List.of(region.ownerRank(), region.regionId(), n)));
        Map<String, Object> claim = Map.of("dispatch", DISPATCHES.incrementAndGet(), "last", !keep,
                "consumers", List.copyOf(consumers));
        Map<DataBatch, DataBatch> moved = new IdentityHashMap<>();
        for (Object[] args : perWorker) {
            for (int i = 0; args != null && i < args.length; i++) {
                if (args[i] instanceof DataBatch batch && hasReferences(batch)) {
                    args[i] = moved.computeIfAbsent(batch,
                            b -> b.moveWithMetadata(ReferenceStore.CLAIM_KEY, claim));
                }
            }
        }
    }

    private static boolean hasReferences(DataBatch batch) {
        if (batch.isClosed()) {
            return false;
        }
        for (String key : batch.columnKeys()) {
            if (batch.column(key) instanceof ReferenceColumn) {
                return true;
            }
        }
        return false;
    }
}
