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
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The {@link DataBatch}es a payload value holds, for both sides of the runtime: {@link #map} rebuilds a value with its
 * batches replaced (a worker's results sent by reference, a consumer's references pulled, a controller's arguments
 * sent by reference), {@link #close} closes them under the runtime's ownership rules (a batch is closed at most once,
 * and one still reachable from {@code keep} is left open). Stateless.
 */
public final class Batches {

    private Batches() {
    }

    /**
     * {@code value} with every batch in it (itself, or at any depth of lists and maps up to
     * {@link PayloadCodec#MAX_DEPTH}, the deepest a payload nests, counting {@code value} as depth 0) replaced by what
     * {@code f} makes of it, in order; a list or map is copied (unmodifiable) only where an element changed, otherwise
     * the same object comes back. A batch deeper than that is left as it is (the codec refuses to send it).
     */
    public static Object map(Object value, UnaryOperator<DataBatch> f) {
        return map(value, f, 0);
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

    /** Closes every open batch in {@code value} that is not also in {@code keep}; failures are suppressed. */
    public static void close(Object value, Object keep) {
        Set<DataBatch> kept = Collections.newSetFromMap(new IdentityHashMap<>());
        collect(keep, kept, 0);
        Set<DataBatch> owned = Collections.newSetFromMap(new IdentityHashMap<>());
        collect(value, owned, 0);
        for (DataBatch batch : owned) {
            if (!kept.contains(batch) && !batch.isClosed()) {
                try {
                    batch.close();
                } catch (RuntimeException ignored) {
                    // closed meanwhile by its user: nothing left to free
                }
            }
        }
    }

    /** Closes every open batch in {@code value}. */
    public static void close(Object value) {
        close(value, null);
    }

    /**
     * The batches in {@code value}, as deep as a payload nests below the container that holds it: the values closed
     * are one level above a payload (a dispatch's argument lists hold the arguments as the codec's argument list
     * does, a call's results are a list of result payloads).
     */
    private static void collect(Object value, Set<DataBatch> into, int depth) {
        if (depth > PayloadCodec.MAX_DEPTH + 1) {
            return;
        }
        switch (value) {
            case DataBatch batch -> into.add(batch);
            case Object[] array -> {
                for (Object element : array) {
                    collect(element, into, depth + 1);
                }
            }
            case Collection<?> collection -> {
                for (Object element : collection) {
                    collect(element, into, depth + 1);
                }
            }
            case Map<?, ?> map -> {
                for (Object element : map.values()) {
                    collect(element, into, depth + 1);
                }
            }
            case null, default -> {
            }
        }
    }
}
