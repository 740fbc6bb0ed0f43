package io.yatt.controller.internal.runtime;

import io.yatt.controller.DataBatch;
import io.yatt.controller.internal.wire.PayloadCodec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The {@link DataBatch}es a payload value holds, for both sides of the runtime: {@link #map} rebuilds a value with its
 * batches replaced (a worker's results sent by reference, a consumer's references pulled, a controller's arguments
 * sent by reference), {@link #close} closes them under the runtime's ownership rules (a batch is closed at most once,
 * and one still reachable from {@code keep} is left open). Stateless.
 */
public final class Batches {

    /** Up to this many kept batches are searched linearly. */
    private static final int SMALL = 8;

    private Batches() {
    }

    /**
     * {@code value} with every batch in it (itself, or at any depth of lists and maps up to
     * {@link PayloadCodec#MAX_DEPTH}, the deepest a payload nests, counting {@code value} as depth 0) replaced by what
     * {@code f} makes of it, in order; a list or map is copied (unmodifiable) only where an element changed, otherwise
     * the same object comes back. A batch deeper than that is left as it is (the codec refuses to send it).
     */
    public static Object map(Object value, UnaryOperator<DataBatch> f) {
        // most values hold no batch: one walk that allocates nothing instead of copying every list and map
        return holdsBatch(value) ? map(value, f, 0) : value;
    }

    private static Object map(Object value, UnaryOperator<DataBatch> f, int depth) {
        if (depth > PayloadCodec.MAX_DEPTH) {
            return value;
        }
        switch (value) {
            case DataBatch batch -> {
                return f.apply(batch);
            }
            case List<?> list -> {
                List<Object> out = new ArrayList<>(list.size());
                boolean changed = false;
                for (Object element : list) {
                    Object r = map(element, f, depth + 1);
                    changed |= r != element;
                    out.add(r);
                }
                return changed ? Collections.unmodifiableList(out) : value;
            }
            case Map<?, ?> map -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                boolean changed = false;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    Object r = map(e.getValue(), f, depth + 1);
                    changed |= r != e.getValue();
                    out.put(e.getKey(), r);
                }
                return changed ? Collections.unmodifiableMap(out) : value;
            }
            case null, default -> {
                return value;
            }
        }
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

    /**
     * Adds the batches in {@code value} to {@code into} (created at the first one) and returns it, as deep as a
     * payload nests below the container that holds it: the values closed are one level above a payload (a dispatch's
     * argument lists hold the arguments as the codec's argument list does, a call's results are a list of result
     * payloads).
     */
    private static List<DataBatch> collect(Object value, List<DataBatch> into, int depth) {
        if (depth > PayloadCodec.MAX_DEPTH + 1) {
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
