package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A call whose input fails is cancelled on its workers, which queued it waiting for that input; a cancel that cannot be
 * sent then (the worker's stream is full) must not hold the worker's later calls behind the waiting one for good.
 */
class UnsentCancelTest {

    private static final long BOUND_NS = TimeUnit.SECONDS.toNanos(30);
    private static final int LARGE_BYTES = 100_000;

    static final class Methods {
        final CountDownLatch stalled = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        /** Holds the worker's agent thread: it reads nothing, so the controller's frames to it pile up. */
        @WorkerMethod(dispatch = "ONE_TO_ALL", execution = Execution.AGENT)
        int stallAgent() throws InterruptedException {
            stalled.countDown();
            release.await();
            return 0;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int length(byte[] bytes) {
            return bytes.length;
        }
    }

    @Test
    void shouldDeliverACancelThatCouldNotBeSentSoLaterCallsRun() throws Exception {
        Methods methods = new Methods();
        ControlPlane.Context ctx = TestWorkers.context().sendTimeoutNs(TimeUnit.MILLISECONDS.toNanos(200))
                .heartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(20));
        try (ControlPlane plane = ControlPlane.launch(ctx);
             Worker worker = Worker.start(new Worker.Context().workerId(800).rank(0).roles(List.of("r"))
                     .methods(WorkerMethods.annotated(methods, MethodHandles.lookup())).controller(plane.endpoint())
                     .externalDriverDirectory(plane.driverDirectory()).controllerTimeoutNs(BOUND_NS))) {
            WorkerGroup group = plane.group("r", 1, TestWorkers.GROUP_TIMEOUT_NS);
            CompletableFuture<Object> stall = group.callAsync("stallAgent");
            try {
                assertTrue(methods.stalled.await(30, TimeUnit.SECONDS), "the worker's agent did not stall");
                CompletableFuture<Object> input = new CompletableFuture<>();
                CompletableFuture<Object> waiting = group.callAsync("length", input);
                // fill the worker's stream: large invokes until one is back pressured past the send timeout
                List<CompletableFuture<Object>> queued = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    CompletableFuture<Object> call = group.callAsync("length", (Object) new byte[LARGE_BYTES]);
                    if (call.isCompletedExceptionally()) {
                        IllegalStateException e = assertThrows(IllegalStateException.class,
                                () -> plane.await(call, BOUND_NS));
                        assertTrue(e.getMessage().startsWith("invoke not sent: group=r, method=length, rank=0,"
                                + " workerId=800, reason=back pressured"), e.getMessage());
                        break;
                    }
                    queued.add(call);
                }
                assertTrue(queued.size() < 64, "the worker's stream never filled");
                // the controller's heartbeats (every 20 ms, sent only when they fit) take what room is left
                Thread.sleep(1000);
                input.completeExceptionally(new IllegalStateException("input lost: step=3"));
                ExecutionException failed = assertThrows(ExecutionException.class,
                        () -> waiting.get(30, TimeUnit.SECONDS));
                assertEquals("input lost: step=3", failed.getCause().getMessage());
                assertEquals(1, plane.unsentCancels());

                methods.release.countDown();
                assertEquals(List.of(0), plane.await(stall, BOUND_NS));
                for (CompletableFuture<Object> call : queued) {
                    assertEquals(List.of(LARGE_BYTES), plane.await(call, BOUND_NS));
                }
                assertEquals(List.of(3), group.call("length", (Object) new byte[3]));
                assertEquals(0, plane.unsentCancels());
            } finally {
                methods.release.countDown();
            }
        }
    }
}
