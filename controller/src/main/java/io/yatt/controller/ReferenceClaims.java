package io.yatt.controller;

import io.yatt.controller.internal.runtime.Batches;
import io.yatt.controller.internal.runtime.ReferenceStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The controller's half of freeing a reference at its last consumer: after a dispatch has split a call's arguments,
 * it counts, for every region, how many pulls the called workers will make of it (one per worker, batch sent, at any
 * depth of the arguments, and reference column that holds rows of it) and sends that count with each consumer's batch
 * ({@link ReferenceStore#CLAIM_KEY}); each consumer passes it on to the owner with its pull. Stateless apart from the
 * dispatch id sequence.
 */
final class ReferenceClaims {

    private static final AtomicLong DISPATCHES = new AtomicLong();

    private ReferenceClaims() {
    }

    /**
     * Replaces, in place, every batch of {@code perWorker} that holds reference columns (an argument, or a batch at any
     * depth of an argument's lists and maps, whose holders are copied) by the same batch carrying the dispatch's
     * claim (ownership moves; a batch given to several workers, or several times, is moved once and counted at every
     * place it is sent, as each is pulled). The dispatch is the references' last use unless a batch carries
     * {@link ReferenceColumn#KEEP_KEY} = true.
     */
    static void claim(List<Object[]> perWorker) {
        // every place a batch is sent, over all workers: the arguments as the codec sends them (a list), as deep as
        // the workers pull
        List<DataBatch> sent = new ArrayList<>();
        for (Object[] args : perWorker) {
            if (args != null) {
                Batches.map(Arrays.asList(args), batch -> {
                    sent.add(batch);
                    return batch;
                });
            }
        }
        Map<ReferenceColumn.Region, Integer> pulls = new LinkedHashMap<>();
        boolean keep = false;
        for (DataBatch batch : sent) {
            if (hasReferences(batch)) {
                for (String key : batch.columnKeys()) {
                    if (batch.column(key) instanceof ReferenceColumn column) {
                        for (ReferenceColumn.Region region : column.regions().keySet()) {
                            pulls.merge(region, 1, Integer::sum);
                        }
                    }
                }
                keep |= Boolean.TRUE.equals(batch.metadata().get(ReferenceColumn.KEEP_KEY));
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
            if (args == null) {
                continue;
            }
            List<?> claimed = (List<?>) Batches.map(Arrays.asList(args), batch -> {
                // a batch met before (for another worker, or twice) is closed by its move: it takes its new batch
                DataBatch withClaim = moved.get(batch);
                if (withClaim == null && hasReferences(batch)) {
                    withClaim = batch.moveWithMetadata(ReferenceStore.CLAIM_KEY, claim);
                    moved.put(batch, withClaim);
                }
                return withClaim == null ? batch : withClaim;
            });
            for (int i = 0; i < args.length; i++) {
                args[i] = claimed.get(i);
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
