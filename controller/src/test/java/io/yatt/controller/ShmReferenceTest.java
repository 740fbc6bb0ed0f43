package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.tensor.Allocator;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.net.ServerSocket;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Pulls by path: the producer ("actor") and one consumer ("critic") are worker JVMs of one shm world, so the critic
 * copies the rows in place from the actor's arena; the other critic is a worker in this JVM, in no shm world, and
 * fetches the same rows over the reference data plane (Aeron udp). Both pulls are claims of one dispatch: the actor
 * frees its arena block when the second has arrived. An actor killed while holding a region is reported as gone.
 */
class ShmReferenceTest {

    private static final List<String> WORKER_JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

    static final class Consumer {
        final Allocator allocator;
        Worker worker;

        Consumer(Allocator allocator) {
            this.allocator = allocator;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        String digest(DataBatch batch) throws NoSuchAlgorithmException {
            return ShmReferenceMain.digestOf(batch.tensor("bytes"));
        }

        @WorkerMethod(dispatch = "RANK_ZERO")
        String digestFirst(DataBatch batch) throws NoSuchAlgorithmException {
            return ShmReferenceMain.digestOf(batch.tensor("bytes"));
        }

        /** As {@link ShmReferenceMain.Actor#stats()}, with no arena (0). */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        List<Long> stats() {
            PayloadStats s = worker.payloadStats();
            return List.of(allocator.allocatedBytes(), 0L, s.referenceServedBytes(), s.referenceFetchedBytes(),
                    s.referenceSharedBytes());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Long> stats(WorkerGroup group, int rank) {
        return (List<Long>) ((List<?>) group.call("stats")).get(rank);
    }

    @Test
    void shouldPullInPlaceWithinTheShmWorldAndOverAeronOutsideItAndFreeTheArenaBlockAtTheLastPull()
            throws Exception {
        ControlPlane plane = ControlPlane.launch(TestWorkers.context().jobName("shm-refs"));
        Map<String, String> env = Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(freePort()),
                RendezvousConfig.ENV_JOB_ID, "shmrefs" + ProcessHandle.current().pid());
        Allocator consumerAllocator = Allocator.root("shm-refs-aeron-consumer");
        Consumer methods = new Consumer(consumerAllocator);
        try (WorkerProcesses launcher = WorkerProcesses.launch(plane, 2,
                     ProcessHandle.current().info().command().orElseThrow(), WORKER_JVM_FLAGS,
                     System.getProperty("java.class.path"), ShmReferenceMain.class.getName(), List.of(), env);
             Worker consumer = Worker.start(new Worker.Context().workerId(100).rank(1).roles(List.of("critic"))
                     .allocator(consumerAllocator)
                     .methods(WorkerMethods.annotated(methods, MethodHandles.lookup()))
                     .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory()))) {
            methods.worker = consumer;
            WorkerGroup actor = plane.group("actor", 1, TimeUnit.SECONDS.toNanos(120));
            WorkerGroup critic = plane.group("critic", 2, TimeUnit.SECONDS.toNanos(120));
            int[] rows = {128, 512};
            long[] controllerBytes = new long[2];
            long pulled = 0;
            long criticArena = stats(critic, 0).get(1);
            for (int s = 0; s < 2; s++) {
                long step = s + 1;
                long bytes = rows[s] * 1024L;
                plane.step(step);
                long arena = stats(actor, 0).get(1);
                long before = plane.payloadStats().totalBytes();
                DataBatch produced = assertInstanceOf(DataBatch.class, ((List<?>) actor.call("produce", step,
                        rows[s])).getFirst());
                try (produced) {
                    assertInstanceOf(ReferenceColumn.class, produced.column("bytes"));
                    // the actor's region is in its arena (1 KiB rows fill 4 KiB pages), not in its allocator
                    assertEquals(List.of(0L, arena + bytes, pulled, 0L, 0L), stats(actor, 0));
                    String expected = RemoteReferenceTest.expectedDigest(step, rows[s]);
                    assertEquals(List.of(expected, expected), critic.call("digest", produced));
                }
                controllerBytes[s] = plane.payloadStats().totalBytes() - before;
                pulled += bytes;
                // both pulls arrived: the arena block is freed, before the step ends
                assertEquals(List.of(0L, arena, pulled, 0L, 0L), stats(actor, 0));
                // rank 0 (the actor's world) copied in place; rank 1 (this JVM, no shm world) fetched over Aeron
                assertEquals(List.of(0L, criticArena, 0L, 0L, pulled), stats(critic, 0));
                assertEquals(List.of(0L, 0L, 0L, pulled, 0L), stats(critic, 1));
                assertEquals(List.of(), actor.endStep(step));
            }
            // the controller's share of a step does not grow with the rows pulled
            assertEquals(controllerBytes[0], controllerBytes[1]);
            assertTrue(controllerBytes[1] < 4096, "controller bytes=" + controllerBytes[1]);
            // the owner dies holding a region: the critic of its world finds its process gone instead of copying
            plane.step(3);
            try (DataBatch orphan = (DataBatch) ((List<?>) actor.call("produce", 3L, 128)).getFirst()) {
                Process owner = launcher.processes().getFirst();
                owner.destroyForcibly();
                assertTrue(owner.waitFor(60, TimeUnit.SECONDS));
                WorkerCallException gone = assertThrows(WorkerCallException.class,
                        () -> critic.call("digestFirst", orphan));
                assertTrue(gone.remoteMessage().startsWith("reference owner is gone: ownerRank=0, shmRank=0, pid="
                        + owner.pid() + ", run=Run[ownerRank=0, regionId=2, "), gone.remoteMessage());
            }
            assertEquals(List.of(0L, criticArena, 0L, 0L, pulled), stats(critic, 0));
            plane.shutdownWorkers("test done");
            assertArrayEquals(new int[] {137, 0}, launcher.waitFor(TimeUnit.SECONDS.toNanos(60)));
        } finally {
            plane.close();
            consumerAllocator.close();
        }
    }
}
