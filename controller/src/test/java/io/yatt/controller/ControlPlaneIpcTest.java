package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ControlPlaneIpcTest {

    @Test
    void shouldReturnOneNullPerWorkerForNoOpOneToAllCall() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 3)) {
            WorkerGroup group = cluster.group();
            assertEquals(Arrays.asList(null, null, null), group.call("noop"));
            assertEquals(new FrameStats(0, 0, 0), cluster.plane.stats());
        }
    }

    @Test
    void shouldSendArgumentsToEveryWorkerAndCollectByRank() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 3)) {
            assertEquals(List.of(10, 11, 12), cluster.group().call("addRank", 10));
        }
    }

    @Test
    void shouldReturnRankZerosResultForRankZeroMode() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 2)) {
            assertEquals("rank-0", cluster.group().call("whoAnswers", "rank-"));
        }
    }

    @Test
    void shouldCarryNestedPayloadValuesBothWays() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1)) {
            Object result = cluster.group().call("describe", List.of("a", 2L, List.of(true)), new byte[] {1, 2, 3},
                    new float[] {1.5f, 2.25f});
            assertEquals(List.of(Map.of("rank", 0, "items", List.of("a", 2L, List.of(true)), "raw", 3,
                    "sum", 3.75)), result);
        }
    }

    @Test
    void shouldPropagateWorkerErrorWithTypeMessageAndRank() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 2)) {
            WorkerCallException e = assertThrows(WorkerCallException.class,
                    () -> cluster.group().call("failOnRankOne", "bad batch"));
            assertEquals("worker call failed: group=actor, method=failOnRankOne, rank=1,"
                    + " type=java.lang.IllegalStateException, message=bad batch", e.getMessage());
            assertEquals(1, e.rank());
            assertEquals("java.lang.IllegalStateException", e.type());
            assertEquals("bad batch", e.remoteMessage());
        }
    }

    @Test
    void shouldReportArgumentCountMismatchFromWorker() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1)) {
            WorkerCallException e = assertThrows(WorkerCallException.class,
                    () -> cluster.group().call("addRank", 1, 2));
            assertEquals("argument count mismatch: method=addRank, expected=1, actual=2", e.remoteMessage());
            assertEquals("java.lang.IllegalArgumentException", e.type());
        }
    }

    @Test
    void shouldRejectUnknownMethodBeforeSending() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cluster.group().call("train"));
            assertEquals("unknown method: group=actor, method=train, known=[addRank, blockUntilReleased, describe,"
                    + " device, failOnRankOne, firstOnly, noop, whoAnswers]", e.getMessage());
        }
    }

    @Test
    void shouldChainCallOnFutureArgumentWithoutBlockingCaller() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 2)) {
            WorkerGroup group = cluster.group();
            CompletableFuture<Object> blocked = group.callAsync("blockUntilReleased");
            CompletableFuture<Object> first = blocked.thenApply(ranks -> ((List<?>) ranks).size() * 100);
            CompletableFuture<Object> second = group.callAsync("addRank", first);
            cluster.methods.get(0).started.await();
            assertFalse(second.isDone());
            cluster.methods.forEach(m -> m.release.countDown());
            assertEquals(List.of(200, 201), second.get());
        }
    }

    @Test
    void shouldQueueCallAwaitingInputOnWorkersAheadOfLaterCalls() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 2)) {
            WorkerGroup group = cluster.group();
            CompletableFuture<Object> input = new CompletableFuture<>();
            CompletableFuture<Object> waiting = group.callAsync("addRank", input);
            CompletableFuture<Object> later = group.callAsync("addRank", 1);
            Thread.sleep(200);
            assertFalse(later.isDone());
            assertEquals(List.of(), cluster.methods.get(0).addRankValues);
            input.complete(10);
            assertEquals(List.of(10, 11), waiting.get());
            assertEquals(List.of(1, 2), later.get());
            assertEquals(List.of(10, 1), cluster.methods.get(0).addRankValues);
            assertEquals(List.of(10, 1), cluster.methods.get(1).addRankValues);
        }
    }

    @Test
    void shouldReleaseWorkersWhenInputFails() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 2)) {
            WorkerGroup group = cluster.group();
            CompletableFuture<Object> input = new CompletableFuture<>();
            CompletableFuture<Object> waiting = group.callAsync("addRank", input);
            input.completeExceptionally(new IllegalStateException("no batch"));
            ExecutionException e = assertThrows(ExecutionException.class, waiting::get);
            assertEquals("no batch", e.getCause().getMessage());
            assertEquals(List.of(2, 3), group.callAsync("addRank", 2).get(60, TimeUnit.SECONDS));
            assertEquals(List.of(2), cluster.methods.get(0).addRankValues);
        }
    }

    @Test
    void shouldSkipWorkersTheDispatchLeavesOutOfAnAwaitedCall() throws Exception {
        Dispatch firstOnly = new Dispatch() {
            @Override
            public String name() {
                return "FIRST_ONLY";
            }

            @Override
            public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
                List<Object[]> perWorker = new ArrayList<>();
                for (int i = 0; i < topology.size(); i++) {
                    perWorker.add(i == 0 ? args : null);
                }
                return perWorker;
            }

            @Override
            public Object collect(List<Object> results, GroupTopology topology) {
                return results;
            }
        };
        ControlPlane.Context ctx = TestWorkers.context().dispatch(firstOnly);
        try (TestWorkers cluster = new TestWorkers(ctx, 2)) {
            WorkerGroup group = cluster.group();
            CompletableFuture<Object> input = new CompletableFuture<>();
            CompletableFuture<Object> call = group.callAsync("firstOnly", input);
            input.complete(4);
            assertEquals(Arrays.asList(40, null), call.get(60, TimeUnit.SECONDS));
            assertEquals(List.of(5, 6), group.callAsync("addRank", 5).get(60, TimeUnit.SECONDS));
            assertEquals(Arrays.asList(70, null), group.call("firstOnly", 7));
        }
    }

    @Test
    void shouldFailChainedCallWhenItsInputFails() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 2)) {
            WorkerGroup group = cluster.group();
            CompletableFuture<Object> failing = group.callAsync("failOnRankOne", "input broke");
            CompletableFuture<Object> chained = group.callAsync("addRank", failing);
            Exception e = assertThrows(Exception.class, chained::join);
            WorkerCallException cause = (WorkerCallException) e.getCause();
            assertEquals("input broke", cause.remoteMessage());
        }
    }

    @Test
    void shouldDeletePerJobDriverDirectoryOnClose() {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().jobName("dir-test")
                .threading(ControlPlane.Threading.INVOKER));
        Path dir = Path.of(plane.driverDirectory());
        assertTrue(Files.isDirectory(dir), dir.toString());
        assertTrue(dir.getFileName().toString().contains("-yatt-dir-test-"), dir.toString());
        plane.close();
        assertFalse(Files.exists(dir), dir.toString());
    }

    /**
     * A SHARED plane's driver runs on its own thread: {@code invokeDriver} does nothing. Under INVOKER the plane's agent
     * runs the driver too, so which thread finds its periodic work is a race; that the calling thread runs it is
     * shown without an agent ({@code AeronTransportTest}). Here: calls from this thread, racing the agent, neither
     * fail nor stop the plane serving a call.
     */
    @Test
    void shouldRunTheDriverOnTheCallingThreadOnlyUnderInvokerThreading() throws Exception {
        try (ControlPlane shared = ControlPlane.launch(new ControlPlane.Context())) {
            for (int i = 0; i < 1000; i++) {
                assertEquals(0, shared.invokeDriver());
            }
        }
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context()
                .threading(ControlPlane.Threading.INVOKER), 1)) {
            for (int i = 0; i < 1000; i++) {
                assertTrue(cluster.plane.invokeDriver() >= 0);
            }
            assertEquals(List.of(10), cluster.group().call("addRank", 10));
        }
    }

    @Test
    void shouldRejectSecondClose() {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().threading(ControlPlane.Threading.INVOKER));
        plane.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, plane::close);
        assertEquals("control plane already closed: controllerId=" + plane.controllerId(), e.getMessage());
    }

    @Test
    void shouldNameMissingRanksWhenGroupIncomplete() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> cluster.plane.group("actor", 2, 50_000_000L));
            assertEquals("worker group incomplete: role=actor, size=2, registeredRanks=[0], timeoutMs=50",
                    e.getMessage());
        }
    }

    @Test
    void shouldStopWaitingForAGroupWhenInterruptedAndKeepTheInterrupt() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1)) {
            Thread.currentThread().interrupt();
            try {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> cluster.plane.group("actor", 2, TimeUnit.MINUTES.toNanos(10)));
                assertEquals("interrupted while forming a worker group: role=actor, size=2, registeredRanks=[0]",
                        e.getMessage());
                assertTrue(Thread.currentThread().isInterrupted());
            } finally {
                Thread.interrupted();
            }
        }
    }

    @Test
    void shouldRegisterMeshesIntoGroupTopology() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 0)) {
            for (int rank = 0; rank < 2; rank++) {
                cluster.startWorker(rank, cluster.baseWorker(rank).meshes(Map.of("actor-dp",
                        new GroupTopology.MeshRank(0, 1, rank == 0))));
            }
            GroupTopology topology = cluster.group().topology();
            assertEquals(new GroupTopology(List.of(
                    new GroupTopology.WorkerInfo(0, Map.of("actor-dp", new GroupTopology.MeshRank(0, 1, true))),
                    new GroupTopology.WorkerInfo(1, Map.of("actor-dp", new GroupTopology.MeshRank(0, 1, false))))),
                    topology);
        }
    }

    @Test
    void shouldDropQueuedCallWhoseFutureIsCancelled() throws Exception {
        // the worker answers the cancel with an error for a call the controller no longer tracks: one dropped frame
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1)) {
            WorkerGroup group = cluster.group();
            CompletableFuture<Object> running = group.callAsync("blockUntilReleased");
            cluster.methods.get(0).started.await();
            CompletableFuture<Object> queued = group.callAsync("addRank", 1);
            assertTrue(queued.cancel(false));
            while (cluster.plane.stats().droppedFrames() == 0) {
                Thread.sleep(1);
            }
            assertEquals(new FrameStats(0, 0, 1), cluster.plane.stats());
            cluster.methods.get(0).release.countDown();
            assertEquals(List.of(0), running.get());
            assertEquals(Arrays.asList((Object) null), group.call("noop"));
            assertEquals(0, cluster.methods.get(0).addRankCalls.get());
        }
    }

    @Test
    void shouldAbortCallInFlight() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context(), 1)) {
            CompletableFuture<Object> call = cluster.group().callAsync("blockUntilReleased");
            cluster.methods.get(0).started.await();
            cluster.plane.abort("operator");
            Exception e = assertThrows(Exception.class, call::join);
            assertEquals("aborted: reason=operator", e.getCause() == null ? e.getMessage()
                    : e.getCause().getMessage());
            assertArrayEquals(new Object[] {List.of(5)}, new Object[] {cluster.group().call("addRank", 5)});
        }
    }
}
