package io.yatt.ffi.cuda;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Reports native resources that became unreachable without being closed: a {@link Cleaner} action
 * logs a warning naming the resource (and, with {@code -Dyatt.debug.checks=true}, where it was
 * allocated). The memory is not freed from the cleaner thread, because a raw address of it may still
 * be in use elsewhere; fix the missing {@code close()}.
 */
final class Leaks {
    static final boolean RECORD_SITES = Boolean.getBoolean("yatt.debug.checks");
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger("io.yatt.ffi.cuda");
    private static final java.util.concurrent.ConcurrentLinkedQueue<String> RECENT = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private static final int RECENT_LIMIT = 16;

    private Leaks() {
    }

    /** Tracks one resource; {@link #close()} marks it closed, returning false when it already was. */
    static final class Tracker implements Runnable {
        private final AtomicBoolean closed = new AtomicBoolean();
        private final String description;
        private final Throwable site;
        private Cleaner.Cleanable cleanable;

        private Tracker(String description) {
            this.description = description;
            this.site = RECORD_SITES ? new Throwable("allocated here") : null;
        }

        boolean close() {
            if (!closed.compareAndSet(false, true)) {
                return false;
            }
            cleanable.clean();
            return true;
        }

        boolean isClosed() {
            return closed.get();
        }

        @Override
        public void run() {
            if (!closed.get()) {
                String message = message(description, site);
                RECENT.add(message);
                while (RECENT.size() > RECENT_LIMIT) {
                    RECENT.poll();
                }
                LOG.log(System.Logger.Level.WARNING, message, site);
            }
        }
    }

    static String message(String description, Throwable site) {
        return "native resource never closed (leaked): " + description
                + (site == null ? " (run with -Dyatt.debug.checks=true to record where it was allocated)" : "");
    }

    /** @return the last few leak reports, oldest first (for tests and diagnostics) */
    static java.util.List<String> recentReports() {
        return java.util.List.copyOf(RECENT);
    }

    /**
     * @param owner the object whose unreachability means a leak (must not be reachable from the tracker)
     * @param description what leaks, e.g. {@code DeviceBuffer: device=0, address=0x7f00, byteSize=1024}
     * @return the tracker to close with the owner
     */
    static Tracker track(Object owner, String description) {
        Tracker tracker = new Tracker(description);
        tracker.cleanable = CLEANER.register(owner, tracker);
        return tracker;
    }
}
