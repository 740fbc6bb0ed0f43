package io.yatt.controller.internal.runtime;

import io.yatt.controller.DataBatch;
import io.yatt.controller.internal.wire.PayloadCodec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;
import java.util.Set;

/**
 * Closing the {@link DataBatch}es a payload value holds (at any depth of lists, maps and argument arrays), for the
 * runtime's ownership rules: a batch is closed at most once, and one still reachable from {@code keep} is left open.
 * Stateless.
 */
public final class Batches {

    /** Up to this many kept batches are searched linearly. */
    private static final int SMALL = 8;

    private Batches() {
    }

    /**
     * Closes every open batch in {@code value} that is not also in {@code keep}; failures are suppressed. A value
     * that holds no batch (the common case of a call's plain arguments and results) costs one walk and allocates
     * nothing.
     */
    public static void close(Object value, Object keep) {
        List<DataBatch> owned = collect(value, null, 0);
        if (owned == null) {
            return;
        }
        List<DataBatch> kept = collect(keep, null, 0);
        Set<DataBatch> keptSet = null;
        if (kept != null && kept.size() > SMALL) {
            keptSet = Collections.newSetFromMap(new IdentityHashMap<>());
            keptSet.addAll(kept);
        }
        for (DataBatch batch : owned) {
            boolean isKept = keptSet != null ? keptSet.contains(batch) : kept != null && containsIdentity(kept, batch);
            if (!isKept && !batch.isClosed()) {
                try {
                    batch.close();
                } catch (RuntimeException ignored) {
                    // closed meanwhile by its user: nothing left to free
                }
            }
        }
    }

    /** Whether {@code value} holds a batch at any depth of lists, maps and argument arrays. */
    public static boolean holdsBatch(Object value) {
        return collect(value, null, 0) != null;
    }

    private static boolean containsIdentity(List<DataBatch> batches, DataBatch batch) {
        for (DataBatch b : batches) {
            if (b == batch) {
                return true;
            }
        }
        return false;
    }

    /** Closes every open batch in {@code value}. */
    public static void close(Object value) {
        close(value, null);
    }

    /** Adds the batches of {@code value} to {@code into} (created at the first one); returns it. */
    private static List<DataBatch> collect(Object value, List<DataBatch> into, int depth) {
        if (depth > PayloadCodec.MAX_DEPTH) {
            return into;
        }
        switch (value) {
            case DataBatch batch -> {
                List<DataBatch> out = into == null ? new ArrayList<>() : into;
                out.add(batch);
                return out;
            }
            case Object[] array -> {
                for (Object element : array) {
                    into = collect(element, into, depth + 1);
                }
                return into;
            }
            case List<?> list when list instanceof RandomAccess -> {
                // by index: an iterator per list would be allocated on every call's arguments and results
                for (int i = 0; i < list.size(); i++) {
                    into = collect(list.get(i), into, depth + 1);
                }
                return into;
            }
            case Collection<?> collection -> {
                for (Object element : collection) {
                    into = collect(element, into, depth + 1);
                }
                return into;
            }
            case Map<?, ?> map -> {
                for (Object element : map.values()) {
                    into = collect(element, into, depth + 1);
                }
                return into;
            }
            case null, default -> {
                return into;
            }
        }
    }
}
