package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class HeartbeatTimeoutTest {

    private static final long INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(1000);
    private static final long BUSY_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(2000);

    @Test
    void shouldFailInFlightCallNamingWorkerThatStoppedHeartbeating() throws Exception {
        ControlPlane.Context ctx = new ControlPlane.Context().heartbeatIntervalNs(INTERVAL_NS)
                .heartbeatTimeoutNs(TIMEOUT_NS);
        try (TestWorkers cluster = new TestWorkers(ctx, 2)) {
            WorkerGroup group = cluster.group();
            CompletableFuture<Object> call = group.callAsync("blockUntilReleased");
            cluster.methods.get(1).started.await();
            cluster.workers.get(1).close();

            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
            WorkerLostException lost = assertInstanceOf(WorkerLostException.class, e.getCause());
            assertTrue(lost.getMessage().matches("worker lost: role=actor, rank=1, pid=5001, host=host-1,"
                    + " lastHeartbeatAgeMs=\\d+, timeoutMs=1000"), lost.getMessage());
            assertEquals(List.of("actor"), lost.roles());
            assertEquals(1, lost.rank());
            assertEquals(5001L, lost.pid());
            assertEquals("host-1", lost.host());
            assertTrue(lost.lastHeartbeatAgeNs() > TIMEOUT_NS, "age " + lost.lastHeartbeatAgeNs());

            WorkerLostException again = assertThrows(WorkerLostException.class, () -> group.call("noop"));
            assertSame(lost, again);
            cluster.methods.get(0).release.countDown();
        }
    }

    @Test
    void shouldLoseAtOnceTheWorkersOfAProcessItsLauncherSawExit() throws Exception {
        long longTimeoutNs = TimeUnit.MINUTES.toNanos(10);
        ControlPlane.Context ctx = new ControlPlane.Context().heartbeatIntervalNs(INTERVAL_NS)
                .heartbeatTimeoutNs(longTimeoutNs);
        try (TestWorkers cluster = new TestWorkers(ctx, 0)) {
            // rank 0 runs on another host with the same pid as rank 1's process here
            cluster.startWorker(0, cluster.baseWorker(0).pid(5001));
            cluster.startWorker(1, cluster.baseWorker(1).host(Contexts.localHostName()));
            CompletableFuture<Object> call = cluster.group().callAsync("blockUntilReleased");
            cluster.methods.get(1).started.await();

            cluster.plane.processExited(4242); // no worker's process
            cluster.plane.processExited(5001);
            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
            WorkerLostException lost = assertInstanceOf(WorkerLostException.class, e.getCause());
            assertEquals(1, lost.rank());
            assertEquals(5001L, lost.pid());
            assertEquals(Contexts.localHostName(), lost.host());
            assertTrue(lost.getMessage().endsWith(", timeoutMs=600000"), lost.getMessage());
            assertTrue(lost.lastHeartbeatAgeNs() < longTimeoutNs, "age " + lost.lastHeartbeatAgeNs());
            cluster.methods.get(0).release.countDown();
        }
    }

    @Test
    void shouldKeepBusyWorkerAliveWhileItsMethodRuns() throws Exception {
        ControlPlane.Context ctx = new ControlPlane.Context().heartbeatIntervalNs(INTERVAL_NS)
                .heartbeatTimeoutNs(BUSY_TIMEOUT_NS);
        try (TestWorkers cluster = new TestWorkers(ctx, 1)) {
            CompletableFuture<Object> call = cluster.group().callAsync("blockUntilReleased");
            cluster.methods.get(0).started.await();
            Thread.sleep(TimeUnit.NANOSECONDS.toMillis(BUSY_TIMEOUT_NS + BUSY_TIMEOUT_NS / 4));
            cluster.methods.get(0).release.countDown();
            assertEquals(List.of(0), call.get(60, TimeUnit.SECONDS));
        }
    }

    @Test
    void shouldStopWorkerAndFailCallsWhenTheirMediaDriverIsLost() throws Exception {
        String directory = io.aeron.CommonContext.getAeronDirectoryName() + "-yatt-driver-loss-test-"
                + System.nanoTime();
        io.aeron.driver.MediaDriver driver = io.aeron.driver.MediaDriver.launch(new io.aeron.driver.MediaDriver.Context()
                .aeronDirectoryName(directory).dirDeleteOnStart(true).dirDeleteOnShutdown(true)
                .threadingMode(io.aeron.driver.ThreadingMode.SHARED));
        ControlPlane plane = null;
        Worker worker = null;
        try {
            plane = ControlPlane.launch(new ControlPlane.Context().externalDriverDirectory(directory));
            worker = Worker.start(new Worker.Context().workerId(3).rank(0).roles(List.of("actor"))
                    .methods(WorkerMethods.annotated(new TestWorkers.Methods(0),
                            java.lang.invoke.MethodHandles.lookup()))
                    .controller(plane.endpoint()).externalDriverDirectory(directory));
            CompletableFuture<Object> call = plane.group("actor", 1, TestWorkers.GROUP_TIMEOUT_NS)
                    .callAsync("blockUntilReleased");
            driver.close();
            driver = null;
            assertEquals("media driver lost: directory=" + directory, worker.awaitShutdown());
            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
            assertEquals("media driver lost: directory=" + directory + ", controllerId=" + plane.controllerId(),
                    e.getCause().getMessage());
        } finally {
            if (driver != null) {
                driver.close();
            }
            if (worker != null) {
                worker.close();
            }
            if (plane != null) {
                plane.close();
            }
        }
    }

    @Test
    void shouldRejectTimeoutNotAboveInterval() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ControlPlane.Context().heartbeatIntervalNs(100).heartbeatTimeoutNs(100).conclude());
        assertEquals("heartbeat timeout must exceed a positive interval: heartbeatIntervalNs=100,"
                + " heartbeatTimeoutNs=100", e.getMessage());
    }
}
