package io.yatt.controller.internal.runtime;

import io.yatt.controller.DataBatch;
import io.yatt.controller.internal.wire.PayloadCodec;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Closing the {@link DataBatch}es a payload value holds (at any depth of lists, maps and argument arrays), for the
 * runtime's ownership rules: a batch is closed at most once, and one still reachable from {@code keep} is left open.
 * Stateless.
 */
public final class Batches {

    private Batches() {
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

    private static void collect(Object value, Set<DataBatch> into, int depth) {
        if (depth > PayloadCodec.MAX_DEPTH) {
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
