package io.yatt.collectives.internal;

import java.util.List;

/**
 * Closing a backend's native resources (streams, events, device and pinned buffers, the communicator handle) so that
 * one failure does not leak the rest: every resource is closed, in order, and the failures are kept together.
 * Shared by the GPU backends' {@code release} and their construction clean-up. Stateless.
 */
public final class Resources {

    private Resources() {
    }

    /**
     * Closes every resource of {@code resources} in order (null elements skipped) and returns the failure to throw:
     * {@code failure} when it is not null, else the first resource's failure (a checked exception wrapped in an
     * {@link IllegalStateException} {@code close failed: <message>}), with every later failure added as suppressed;
     * {@code null} when nothing failed.
     */
    public static RuntimeException closeAll(RuntimeException failure, List<? extends AutoCloseable> resources) {
        RuntimeException result = failure;
        for (AutoCloseable resource : resources) {
            if (resource == null) {
                continue;
            }
            try {
                resource.close();
            } catch (Exception e) {
                if (result == null) {
                    result = e instanceof RuntimeException r ? r
                            : new IllegalStateException("close failed: " + e.getMessage(), e);
                } else {
                    result.addSuppressed(e);
                }
            }
        }
        return result;
    }
}
