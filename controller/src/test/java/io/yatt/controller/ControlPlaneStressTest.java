package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Hammers the call path (callAsync, invoke offer, worker adapter, calls thread or agent thread, result offer,
 * controller adapter on the agent or on a waiting caller, future completion) from several threads at once and checks
 * that no call is lost: every call completes within a generous bound, with the value its worker computed or an
 * exception, never silence.
 */
class ControlPlaneStressTest {

    /** Bound on any one call: far above a call's latency on a loaded machine, far below a hang. */
    private static final long CALL_BOUND_S = 20;
    private static final int CALLERS = 6;
    private static final int CALLS_PER_CALLER = 1000;
    /**
     * Above the Aeron MTU (1408 bytes by default), so these frames travel in fragments and are reassembled; 6 callers
     * with 8 such calls each in flight fill a 1 MiB term and back-pressure the publications both ways.
     */
    private static final int LARGE_BYTES = 60000;

    /** Methods of a worker: an echo, and a result of a requested size. */
    static final class Echo {
        final int rank;

        Echo(int rank) {
            this.rank = rank;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        byte[] echo(byte[] payload) {
            return payload;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL", execution = Execution.AGENT)
        byte[] echoOnAgent(byte[] payload) {
            return payload;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        byte[] blob(int byteSize) {
            byte[] b = new byte[byteSize];
            Arrays.fill(b, (byte) rank);
            return b;
        }
    }

    @ParameterizedTest
    @CsvSource({"YIELDING, SHARED", "BACKOFF, SHARED", "YIELDING, INVOKER", "BACKOFF, INVOKER", "BUSY_SPIN, SHARED"})
    void shouldCompleteEveryCallFromConcurrentCallers(ControlPlane.Idle idle, ControlPlane.Threading threading)
            throws Exception {
        ControlPlane plane = ControlPlane.launch(TestWorkers.context().idle(idle).threading(threading));
        List<Worker> workers = new ArrayList<>();
        ExecutorService callers = Executors.newFixedThreadPool(CALLERS);
        try {
            for (int rank = 0; rank < 2; rank++) {
                workers.add(Worker.start(new Worker.Context().workerId(300 + rank).rank(rank).roles(List.of("echo"))
                        .idle(idle).methods(WorkerMethods.annotated(new Echo(rank), MethodHandles.lookup()))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            WorkerGroup group = plane.group("echo", 2, TestWorkers.GROUP_TIMEOUT_NS);
            List<Future<String>> outcomes = new ArrayList<>();
            for (int c = 0; c < CALLERS; c++) {
                int caller = c;
                outcomes.add(callers.submit(() -> hammer(plane, group, caller)));
            }
            for (Future<String> outcome : outcomes) {
                assertEquals("ok", outcome.get(CALL_BOUND_S * CALLS_PER_CALLER, TimeUnit.SECONDS));
            }
        } finally {
            callers.shutdownNow();
            for (Worker w : workers) {
                w.close();
            }
            plane.close();
        }
    }

    /**
     * Keeps up to 8 calls of one caller in flight, small and large alternating, a third of them run on the workers'
     * agents; every fifth call is awaited at once as {@code group.call} waits (the caller polls the control stream
     * while other callers do too); "ok" or what went wrong.
     */
    private static String hammer(ControlPlane plane, WorkerGroup group, int caller) throws Exception {
        List<CompletableFuture<Object>> window = new ArrayList<>();
        List<byte[]> sent = new ArrayList<>();
        for (int i = 0; i < CALLS_PER_CALLER; i++) {
            byte[] payload = new byte[i % 2 == 0 ? 8 : LARGE_BYTES];
            Arrays.fill(payload, (byte) (caller * 31 + i));
            String method = i % 3 == 0 ? "echoOnAgent" : "echo";
            if (i % 5 == 4 && i < CALLS_PER_CALLER - 1) {
                Object result;
                try {
                    result = plane.await(group.callAsync(method, (Object) payload),
                            TimeUnit.SECONDS.toNanos(CALL_BOUND_S));
                } catch (IllegalStateException e) {
                    return "awaited call failed: caller=" + caller + ", call=" + i + ", " + e.getMessage();
                }
                for (Object r : (List<?>) result) {
                    if (!Arrays.equals(payload, (byte[]) r)) {
                        return "wrong echo: caller=" + caller + ", call=" + i;
                    }
                }
                continue;
            }
            window.add(group.callAsync(method, (Object) payload));
            sent.add(payload);
            if (window.size() == 8 || i == CALLS_PER_CALLER - 1) {
                for (int k = 0; k < window.size(); k++) {
                    Object result;
                    try {
                        result = window.get(k).get(CALL_BOUND_S, TimeUnit.SECONDS);
                    } catch (TimeoutException e) {
                        return "call not completed within " + CALL_BOUND_S + " s: caller=" + caller + ", call="
                                + (i - window.size() + 1 + k) + ", bytes=" + sent.get(k).length;
                    }
                    List<?> perRank = (List<?>) result;
                    for (Object r : perRank) {
                        if (!Arrays.equals(sent.get(k), (byte[]) r)) {
                            return "wrong echo: caller=" + caller + ", call=" + (i - window.size() + 1 + k);
                        }
                    }
                }
                window.clear();
                sent.clear();
            }
        }
        return "ok";
    }

    /**
     * A result the worker cannot offer within its send timeout (the controller's agent, and with it the INVOKER
     * driver, is stalled in a collect, so the worker's publication fills up) must not vanish: the call fails with an
     * exception once the controller runs again, where before the fix the result was dropped and the call never
     * completed.
     */
    @Test
    void shouldFailACallWhoseResultCouldNotBeSent() throws Exception {
        CountDownLatch stallEntered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ControlPlane plane = ControlPlane.launch(TestWorkers.context()
                .dispatch(TestWorkers.stallingCollect(stallEntered, release))
                .threading(ControlPlane.Threading.INVOKER).heartbeatTimeoutNs(TimeUnit.SECONDS.toNanos(2)));
        try {
            CountDownLatch callReturned = new CountDownLatch(1);
            WorkerMethods methods = WorkerMethods.builder()
                    .method("stall", "STALL_COLLECT", TestWorkers.stallMethod(callReturned))
                    .method("blob", "ONE_TO_ALL", MethodHandles.lookup().findVirtual(Echo.class, "blob",
                            java.lang.invoke.MethodType.methodType(byte[].class, int.class)).bindTo(new Echo(0)))
                    .build();
            Worker.Context ctx = new Worker.Context().workerId(400).rank(0).roles(List.of("echo")).methods(methods)
                    .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())
                    .sendTimeoutNs(TimeUnit.MILLISECONDS.toNanos(200));
            try (Worker worker = Worker.start(ctx)) {
                WorkerGroup group = plane.group("echo", 1, TestWorkers.GROUP_TIMEOUT_NS);
                CompletableFuture<Object> stall = group.callAsync("stall");
                callReturned.countDown();
                assertTrue(stallEntered.await(CALL_BOUND_S, TimeUnit.SECONDS), "the collect did not stall");
                // 24 results of 100 KiB: more than the 1 MiB term the stalled controller can take
                List<CompletableFuture<Object>> calls = new ArrayList<>();
                for (int i = 0; i < 24; i++) {
                    calls.add(group.callAsync("blob", 100 * 1024));
                }
                String reason = worker.awaitShutdown();
                release.countDown();
                assertTrue(reason.matches("controller unreachable: reply not sent: correlationId=\\d+,"
                        + " error=java.lang.IllegalStateException, reason=back pressured, timeoutMs=200"), reason);
                stall.get(CALL_BOUND_S, TimeUnit.SECONDS);
                int delivered = 0;
                int failed = 0;
                for (int i = 0; i < calls.size(); i++) {
                    try {
                        List<?> perRank = (List<?>) calls.get(i).get(CALL_BOUND_S, TimeUnit.SECONDS);
                        assertEquals(100 * 1024, ((byte[]) perRank.getFirst()).length);
                        delivered++;
                    } catch (TimeoutException e) {
                        fail("call not completed within " + CALL_BOUND_S + " s: call=" + i);
                    } catch (ExecutionException e) {
                        assertTrue(e.getCause() instanceof WorkerLostException, e.getCause().toString());
                        assertTrue(e.getCause().getMessage().startsWith(
                                "worker lost: role=echo, rank=0, pid="), e.getCause().getMessage());
                        failed++;
                    }
                }
                assertEquals(24, delivered + failed);
                assertTrue(failed > 0, "no result was back pressured: delivered=" + delivered);
            }
        } finally {
            release.countDown();
            plane.close();
        }
    }
}
