package io.yatt.controller;

import io.yatt.controller.internal.runtime.Batches;
import io.yatt.controller.internal.runtime.ReferencePlane;
import io.yatt.controller.internal.runtime.ReferenceStore;
import io.yatt.controller.internal.wire.PayloadCodec;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The controller as the producer of references: a tensor of a DataBatch argument (or of a batch nested in the lists
 * and maps of an argument) above the plane's inline limit does not travel inline; the controller keeps it in a
 * {@link ReferenceStore} of its own (owner id {@link #CONTROLLER_OWNER_ID}) and the batch that is dispatched carries a
 * {@link ReferenceColumn} in its place, which the workers pull as they pull a worker's references: straight from the
 * store when they run in this process, over this controller's {@link ReferencePlane} (started with the first such
 * tensor) otherwise. Each region is freed at its last pull (the dispatch's claim) or by {@link #endStep}.
 * Thread-safe (synchronised).
 */
final class ControllerReferences implements AutoCloseable {

    /** The owner id of the controller's references; no worker may register with it. */
    static final int CONTROLLER_OWNER_ID = Integer.MAX_VALUE;

    private final long controllerId;
    private final Allocator allocator;
    private final String driverDirectory;
    private final String host;
    private final long timeoutNs;
    private final byte[] secret;
    private ReferenceStore store;
    private ReferencePlane plane;
    private boolean closed;

    ControllerReferences(long controllerId, Allocator allocator, String driverDirectory, String host, long timeoutNs,
            byte[] secret) {
        this.controllerId = controllerId;
        this.allocator = allocator;
        this.driverDirectory = driverDirectory;
        this.host = host;
        this.timeoutNs = timeoutNs;
        this.secret = secret;
    }

    /**
     * What {@link #publish} made of a call's arguments.
     *
     * @param args      the arguments to dispatch: the caller's, where a batch (an argument, or one at any depth of
     *                  the lists and maps an argument holds) had a tensor above the limit, with the batch made for it
     *                  in its place (the lists and maps that hold it copied); the caller's array itself when there was
     *                  none
     * @param derived   each batch replaced, with the batch made for it (by identity: a batch met twice is made once)
     * @param regionIds the regions filled for them
     */
    record Published(Object[] args, Map<DataBatch, DataBatch> derived, List<Long> regionIds) {
    }

    /**
     * {@code args} with every DataBatch that holds a tensor above {@code inlineLimitBytes} (an argument, or a batch at
     * any depth of the lists and maps an argument holds, up to {@link PayloadCodec#MAX_DEPTH} with the arguments at
     * depth 1, as the codec counts) replaced by a batch of its own
     * (views of the small tensors, the same columns and metadata) in which each such tensor is a reference column to
     * a copy in the controller's store, plus the endpoint consumers fetch it from. The caller's batches are left as
     * they are; the caller of this method closes the batches made that it does not hand on, or undoes everything
     * with {@link #discard} if the call fails before it hands anything on. If publishing fails, what it published and
     * made so far is undone before the failure is thrown.
     *
     * @throws IllegalStateException if the references are closed
     */
    synchronized Published publish(Object[] args, long inlineLimitBytes, long step) {
        if (!Batches.holdsBatch(args)) {
            return new Published(args, Map.of(), List.of());
        }
        Map<DataBatch, DataBatch> derived = new IdentityHashMap<>();
        List<Long> regionIds = new ArrayList<>();
        try {
            // the arguments as the codec sends them (a list): a batch beyond its depth is left to the codec to refuse
            List<?> sent = (List<?>) Batches.map(Arrays.asList(args), batch -> {
                if (batch.isClosed() || !above(batch, inlineLimitBytes)) {
                    return batch;
                }
                DataBatch made = derived.get(batch);
                if (made == null) {
                    made = referenced(batch, inlineLimitBytes, step, regionIds);
                    derived.put(batch, made);
                }
                return made;
            });
            return new Published(derived.isEmpty() ? args : sent.toArray(), derived, regionIds);
        } catch (RuntimeException | Error e) {
            discard(new Published(args, derived, regionIds));
            throw e;
        }
    }

    /**
     * Undoes {@code published} for a call that failed before its dispatch handed anything on: frees its regions (not
     * counted as freed at a pull) and closes the batches made for it that are still open.
     */
    synchronized void discard(Published published) {
        Batches.close(published.derived().values());
        if (store != null) {
            for (long regionId : published.regionIds()) {
                store.unpublish(regionId);
            }
        }
    }

    private static boolean above(DataBatch batch, long inlineLimitBytes) {
        for (String key : batch.tensorKeys()) {
            if (byReference(batch.tensor(key), inlineLimitBytes)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code t} travels as a reference: above the limit, and with rows to refer to. */
    private static boolean byReference(Tensor t, long inlineLimitBytes) {
        return !TensorRef.travelsInline(t.byteSize(), inlineLimitBytes) && t.shape().dim(0) > 0;
    }

    /** A batch made for {@code batch} with its tensors above the limit by reference; their regions go to regionIds. */
    private DataBatch referenced(DataBatch batch, long inlineLimitBytes, long step, List<Long> regionIds) {
        if (closed) {
            throw new IllegalStateException("controller references closed: controllerId=" + controllerId);
        }
        if (store == null) {
            store = ReferenceStore.open(controllerId, CONTROLLER_OWNER_ID, allocator);
        }
        List<Tensor> views = new ArrayList<>();
        try {
            DataBatch.Builder b = DataBatch.builder(allocator);
            for (String key : batch.tensorKeys()) {
                Tensor t = batch.tensor(key);
                if (byReference(t, inlineLimitBytes)) {
                    ReferenceColumn column = store.publish(key, step, t);
                    regionIds.add(column.runs().getFirst().regionId());
                    b.column(key, column);
                } else {
                    Tensor view = t.narrow(0, 0, t.shape().dim(0));
                    views.add(view);
                    b.tensor(key, view);
                }
            }
            for (String key : batch.columnKeys()) {
                b.column(key, batch.column(key));
            }
            batch.metadata().forEach(b::metadata);
            if (!ReferencePlane.endpoints(batch.metadata()).containsKey(CONTROLLER_OWNER_ID)) {
                b.metadata(ReferencePlane.ENDPOINT_KEY_PREFIX + CONTROLLER_OWNER_ID, plane().endpoint());
            }
            return b.build();
        } catch (RuntimeException e) {
            for (Tensor v : views) {
                v.close();
            }
            throw e;
        }
    }

    /** The reference plane consumers in other processes fetch from, started on first use. */
    private ReferencePlane plane() {
        if (plane == null) {
            plane = ReferencePlane.start(driverDirectory, CONTROLLER_OWNER_ID, host, timeoutNs, secret);
            plane.serve(store);
        }
        return plane;
    }

    /** Frees the regions published at or before {@code step} that are still live and names them (none: empty). */
    synchronized List<String> endStep(long step) {
        return store == null ? List.of() : store.endStep(step);
    }

    /** Regions held now. */
    synchronized int liveCount() {
        return store == null ? 0 : store.liveCount();
    }

    /** Regions freed at their last pull. */
    synchronized long freedCount() {
        return store == null ? 0 : store.freedCount();
    }

    /** Stops serving and frees every region. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (plane != null) {
                plane.close();
            }
        } finally {
            if (store != null) {
                store.close();
            }
        }
    }
}
