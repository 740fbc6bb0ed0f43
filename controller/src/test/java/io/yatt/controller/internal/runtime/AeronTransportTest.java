package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.controller.ControlPlane;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AeronTransportTest {

    /**
     * Without an agent beside it (as a control plane has), nothing but this thread runs an INVOKER driver, so the
     * driver's own periodic work (its conductor's timers and client checks, due at least every second) is done here:
     * the work count must turn positive. A SHARED driver runs on its own thread, and the call does nothing.
     */
    @Test
    void shouldRunAnInvokerDriverOnTheCallingThreadAndNoOtherDriver(@TempDir Path dir) throws Exception {
        try (AeronTransport shared = AeronTransport.embedded(dir.resolve("shared").toString(),
                ControlPlane.Threading.SHARED, ControlPlane.Idle.BACKOFF)) {
            for (int i = 0; i < 1000; i++) {
                assertEquals(0, shared.invokeDriver());
            }
        }
        try (AeronTransport invoker = AeronTransport.embedded(dir.resolve("invoker").toString(),
                ControlPlane.Threading.INVOKER, ControlPlane.Idle.BACKOFF)) {
            long work = 0;
            long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (work == 0 && System.nanoTime() - deadlineNs < 0) {
                work += invoker.invokeDriver();
                Thread.sleep(1);
            }
            assertTrue(work > 0, "no driver work ran on the calling thread in 10 s");
        }
    }
}
