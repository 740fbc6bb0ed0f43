package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveHandle;

/**
 * The handle of an asynchronous operation a {@link CommunicatorBase} tracks until the rank's next call or its close:
 * one that can be joined, waiting until its outcome is known under the operation's own deadline.
 */
public interface PendingHandle extends CollectiveHandle {

    /**
     * Waits until the operation succeeded or failed (a failure is kept for {@link #await(long)}, not thrown here);
     * bounded by the operation's own deadline, interrupts deferred.
     */
    void join();
}
