package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * The controllers of a mesh heartbeat each other: one that stops (its agent ends without leaving the mesh) fails the
 * others' barriers and calls in flight with {@link ControllerLostException}; one that closes its mesh leaves it and is
 * not counted lost.
 */
class ControllerHeartbeatTest {

    private static final long INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(1000);

    /** C controllers as threads, each a plane on udp loopback (INVOKER) with one worker, joined in one mesh. */
    private static final class Mesh implements AutoCloseable {
        final List<TestWorkers> controllers = new ArrayList<>();
        final List<ControllerMesh> meshes = new ArrayList<>();
        final List<Boolean> meshClosed = new ArrayList<>();

        Mesh(int c) {
            this(c, TIMEOUT_NS, i -> "controller-host-" + i);
        }

        /** Controller {@code i} on {@code host.apply(i)}, every one in this JVM (one pid). */
        Mesh(int c, long timeoutNs, IntFunction<String> host) {
            try {
                for (int i = 0; i < c; i++) {
                    controllers.add(new TestWorkers(TestWorkers.context().udp("127.0.0.1", 0).jobName("hb-" + i)
                            .peerHeartbeatIntervalNs(INTERVAL_NS).peerHeartbeatTimeoutNs(timeoutNs)
                            .host(host.apply(i)), 1));
                }
                List<ControllerMesh.Peer> peers = controllers.stream().map(t -> t.plane.peer()).toList();
                for (int i = 0; i < c; i++) {
                    meshes.add(ControllerMesh.join(controllers.get(i).plane, i, peers,
                            ControllerMesh.DEFAULT_TIMEOUT_NS));
                    meshClosed.add(false);
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        void closeMesh(int i) {
            meshClosed.set(i, true);
            meshes.get(i).close();
        }

        @Override
        public void close() {
            for (TestWorkers t : controllers) {
                t.methods.forEach(m -> m.release.countDown());
            }
            for (int i = 0; i < meshes.size(); i++) {
                if (!meshClosed.get(i)) {
                    meshes.get(i).close();
                }
            }
            for (TestWorkers t : controllers) {
                try {
                    t.close();
                } catch (IllegalStateException alreadyClosed) {
                    // a test closed its plane to stop its heartbeats
                }
            }
        }
    }

    private static void assertLost(ControllerLostException lost) {
        assertTrue(lost.getMessage().matches("controller lost: index=1, pid=" + ProcessHandle.current().pid()
                + ", host=controller-host-1, lastHeartbeatAgeMs=\\d+, timeoutMs=1000"), lost.getMessage());
        assertEquals(1, lost.index());
        assertEquals(ProcessHandle.current().pid(), lost.pid());
        assertEquals("controller-host-1", lost.host());
        // reported past the timeout, at the first liveness check after it (every quarter interval), not much later
        assertTrue(lost.lastHeartbeatAgeNs() > TIMEOUT_NS, "age " + lost.lastHeartbeatAgeNs());
        assertTrue(lost.lastHeartbeatAgeNs() < 2 * TIMEOUT_NS, "age " + lost.lastHeartbeatAgeNs());
    }

    @Test
    void shouldFailTheOthersBarriersAndCallsInFlightWhenAControllerStopsHeartbeating() throws Exception {
        ExecutorService threads = Executors.newSingleThreadExecutor();
        try (Mesh mesh = new Mesh(3)) {
            CompletableFuture<Object> call = mesh.controllers.get(0).group().callAsync("blockUntilReleased");
            mesh.controllers.get(0).methods.getFirst().started.await();
            Future<?> barrier = threads.submit(() -> mesh.meshes.get(2).barrier(0));

            // controller 1 dies: its agent stops with its plane, and it never leaves the mesh
            mesh.controllers.get(1).plane.close();

            ExecutionException callFailure = assertThrows(ExecutionException.class,
                    () -> call.get(60, TimeUnit.SECONDS));
            ControllerLostException lost = assertInstanceOf(ControllerLostException.class, callFailure.getCause());
            assertLost(lost);
            ExecutionException barrierFailure = assertThrows(ExecutionException.class,
                    () -> barrier.get(60, TimeUnit.SECONDS));
            assertLost(assertInstanceOf(ControllerLostException.class, barrierFailure.getCause()));
            // the mesh stays broken: a later barrier or reduction fails at once with the same loss
            assertSame(lost, assertThrows(ControllerLostException.class, () -> mesh.meshes.get(0).barrier(1)));
            assertSame(lost, assertThrows(ControllerLostException.class,
                    () -> mesh.meshes.get(0).reduce(1, List.of())));
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void shouldLoseAtOnceAControllerWhoseProcessItsLauncherSawExit() throws Exception {
        long longTimeoutNs = TimeUnit.MINUTES.toNanos(10);
        // only controller 1 runs on this host; 0 and 2 share this JVM's pid but not its host name
        try (Mesh mesh = new Mesh(3, longTimeoutNs, i -> i == 1 ? Contexts.localHostName() : "controller-host-" + i)) {
            CompletableFuture<Object> call = mesh.controllers.get(0).group().callAsync("blockUntilReleased");
            mesh.controllers.get(0).methods.getFirst().started.await();
            mesh.meshes.get(0).processExited(ProcessHandle.current().pid() + 1_000_000); // no controller's
            mesh.meshes.get(0).processExited(ProcessHandle.current().pid());
            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
            ControllerLostException lost = assertInstanceOf(ControllerLostException.class, e.getCause());
            assertEquals(1, lost.index());
            assertEquals(Contexts.localHostName(), lost.host());
            assertTrue(lost.lastHeartbeatAgeNs() < longTimeoutNs, "age " + lost.lastHeartbeatAgeNs());
            assertSame(lost, assertThrows(ControllerLostException.class, () -> mesh.meshes.get(0).barrier(1)));
        }
    }

    @Test
    void shouldNotCountAControllerThatLeftAsLostAndFailABarrierWaitingForIt() throws Exception {
        try (Mesh mesh = new Mesh(2)) {
            CompletableFuture<Object> call = mesh.controllers.get(0).group().callAsync("blockUntilReleased");
            mesh.controllers.get(0).methods.getFirst().started.await();
            mesh.closeMesh(1);
            // two timeouts later controller 0 still has its call in flight: the one that left is not lost
            Thread.sleep(TimeUnit.NANOSECONDS.toMillis(2 * TIMEOUT_NS));
            assertFalse(call.isDone());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> mesh.meshes.get(0).barrier(0));
            assertEquals("step barrier cannot complete, controllers left the mesh: step=0, controller=0, left=[1]",
                    e.getMessage());
            mesh.controllers.get(0).methods.getFirst().release.countDown();
            assertEquals(List.of(0), call.get(60, TimeUnit.SECONDS));
        }
    }

    @Test
    void shouldKeepControllersThatHeartbeatAliveAcrossManyTimeouts() throws Exception {
        try (Mesh mesh = new Mesh(2)) {
            ExecutorService threads = Executors.newSingleThreadExecutor();
            try {
                Thread.sleep(TimeUnit.NANOSECONDS.toMillis(3 * TIMEOUT_NS));
                Future<?> other = threads.submit(() -> mesh.meshes.get(1).barrier(0));
                mesh.meshes.get(0).barrier(0);
                other.get(60, TimeUnit.SECONDS);
                // and the plane's calls were never aborted
                assertEquals(List.of(5), mesh.controllers.get(0).group().call("addRank", 5));
            } finally {
                threads.shutdownNow();
            }
        }
    }

    @Test
    void shouldRejectPeerHeartbeatTimeoutNotAboveItsInterval() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ControlPlane.Context()
                .peerHeartbeatIntervalNs(100).peerHeartbeatTimeoutNs(100).conclude());
        assertEquals("peer heartbeat timeout must exceed a positive interval: peerHeartbeatIntervalNs=100,"
                + " peerHeartbeatTimeoutNs=100", e.getMessage());
        ControlPlane.Context defaults = new ControlPlane.Context().heartbeatIntervalNs(7).heartbeatTimeoutNs(70)
                .conclude();
        assertEquals(7, defaults.peerHeartbeatIntervalNs());
        assertEquals(70, defaults.peerHeartbeatTimeoutNs());
        assertNotNull(defaults.host());
    }
}
