package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Methods declared {@link Execution#AGENT} run on the worker's agent thread, unless an earlier call is queued, and a
 * blocking call's caller reads its answer off the control stream itself.
 */
class AgentExecutionTest {

    private static final long BOUND_S = 30;

    static final class Methods {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @WorkerMethod(dispatch = "ONE_TO_ALL", execution = Execution.AGENT)
        String threadOnAgent() {
            return Thread.currentThread().getName();
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        String threadOnCalls() {
            return Thread.currentThread().getName();
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL", execution = Execution.AGENT)
        int failOnAgent(String message) {
            throw new IllegalArgumentException(message);
        }

        volatile boolean blockFinished;

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int block() throws InterruptedException {
            started.countDown();
            release.await();
            blockFinished = true;
            return 1;
        }

        /** Whether {@link #block} had finished when this ran. */
        @WorkerMethod(dispatch = "ONE_TO_ALL", execution = Execution.AGENT)
        boolean afterBlock() {
            return blockFinished;
        }
    }

    private static Worker start(ControlPlane plane, Methods methods, ControlPlane.Idle idle) {
        return Worker.start(new Worker.Context().workerId(700).rank(0).roles(List.of("r")).idle(idle)
                .methods(WorkerMethods.annotated(methods, MethodHandles.lookup())).controller(plane.endpoint())
                .externalDriverDirectory(plane.driverDirectory()));
    }

    @Test
    void shouldReadExecutionFromAnnotationAndDefaultToTheCallThread() throws Exception {
        WorkerMethods methods = WorkerMethods.annotated(new Methods(), MethodHandles.lookup());
        assertEquals(Execution.AGENT, methods.execution("threadOnAgent"));
        assertEquals(Execution.CALL_THREAD, methods.execution("threadOnCalls"));
        WorkerMethods explicit = WorkerMethods.builder()
                .method("a", "ONE_TO_ALL", Execution.AGENT, MethodHandles.lookup().findVirtual(String.class,
                        "length", MethodType.methodType(int.class)))
                .method("b", "ONE_TO_ALL", MethodHandles.lookup().findVirtual(String.class, "isEmpty",
                        MethodType.methodType(boolean.class)))
                .build();
        assertEquals(Execution.AGENT, explicit.execution("a"));
        assertEquals(Execution.CALL_THREAD, explicit.execution("b"));
    }

    @Test
    void shouldRunAgentMethodOnTheAgentThreadAndOthersOnTheCallsThread() {
        for (ControlPlane.Idle idle : ControlPlane.Idle.values()) {
            try (ControlPlane plane = ControlPlane.launch(TestWorkers.context().idle(idle));
                 Worker worker = start(plane, new Methods(), idle)) {
                WorkerGroup group = plane.group("r", 1, TestWorkers.GROUP_TIMEOUT_NS);
                assertEquals(List.of("yatt-worker-700"), group.call("threadOnAgent"), idle.name());
                assertEquals(List.of("yatt-worker-700-calls"), group.call("threadOnCalls"), idle.name());
                WorkerCallException e = assertThrows(WorkerCallException.class,
                        () -> group.call("failOnAgent", "no such row: row=9, rows=4"));
                assertEquals("worker call failed: group=r, method=failOnAgent, rank=0,"
                        + " type=java.lang.IllegalArgumentException, message=no such row: row=9, rows=4",
                        e.getMessage());
                // (dropped frames may be repeated acks of a registration retried under load)
                assertEquals(0, worker.stats().malformedFrames() + worker.stats().unauthenticatedFrames());
            }
        }
    }

    @Test
    void shouldQueueAgentMethodBehindAnEarlierCall() throws Exception {
        Methods methods = new Methods();
        try (ControlPlane plane = ControlPlane.launch(TestWorkers.context());
             Worker worker = start(plane, methods, ControlPlane.Idle.BACKOFF)) {
            WorkerGroup group = plane.group("r", 1, TestWorkers.GROUP_TIMEOUT_NS);
            CompletableFuture<Object> blocked = group.callAsync("block");
            assertTrue(methods.started.await(BOUND_S, TimeUnit.SECONDS));
            CompletableFuture<Object> behind = group.callAsync("afterBlock");
            // it waits behind the blocked call (run at once on the agent, it would answer now)
            assertEquals("call not completed: timeoutMs=200", assertThrows(IllegalStateException.class,
                    () -> plane.await(behind, TimeUnit.MILLISECONDS.toNanos(200))).getMessage());
            methods.release.countDown();
            assertEquals(List.of(1), plane.await(blocked, TimeUnit.SECONDS.toNanos(BOUND_S)));
            assertEquals(List.of(true), plane.await(behind, TimeUnit.SECONDS.toNanos(BOUND_S)));
            assertEquals(List.of("yatt-worker-700"), group.call("threadOnAgent"));
        }
    }

    @Test
    void shouldNameTheTimeoutOfAnAwaitedCall() throws Exception {
        Methods methods = new Methods();
        try (ControlPlane plane = ControlPlane.launch(TestWorkers.context());
             Worker worker = start(plane, methods, ControlPlane.Idle.BACKOFF)) {
            WorkerGroup group = plane.group("r", 1, TestWorkers.GROUP_TIMEOUT_NS);
            CompletableFuture<Object> blocked = group.callAsync("block");
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> plane.await(blocked, TimeUnit.MILLISECONDS.toNanos(50)));
            assertEquals("call not completed: timeoutMs=50", e.getMessage());
            methods.release.countDown();
            assertEquals(List.of(1), plane.await(blocked, TimeUnit.SECONDS.toNanos(BOUND_S)));
        }
    }
}
