package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.RendezvousException;
import io.yatt.controller.ControllerRendezvous;
import io.yatt.hybrid.HybridLayout;
import io.yatt.trainer.config.TrainConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trainer.launch=external}, and a local launch of controller JVMs (which runs one): the controller's refusals
 * before and while it waits for its workers.
 */
class ProcessWorkersExternalTest {

    private static HybridLayout layout() {
        return TrainConfig.load(RlhfLoopGoldenTest.resource("ppo_gae.yaml"), List.of()).parallel().layout();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void shouldRefuseANonLoopbackControlHostWithoutASecret() throws IOException {
        RendezvousConfig rendezvous = RendezvousConfig.of(0, 5, "127.0.0.1", freePort());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProcessWorkers.external(layout(), rendezvous, 1, "192.0.2.7", null, 65536));
        assertEquals("controller secret required: trainer.control_host=192.0.2.7 is not loopback; set "
                + "YATT_CONTROLLER_SECRET", e.getMessage());
    }

    @Test
    void shouldRefuseARendezvousWithoutOneRankPerWorker() throws IOException {
        RendezvousConfig rendezvous = RendezvousConfig.of(0, 4, "127.0.0.1", freePort());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProcessWorkers.external(layout(), rendezvous, 1, "127.0.0.1", null, 65536));
        assertEquals("trainer.launch=external needs trainer.controllers controllers and parallel.world_size workers: "
                + "rendezvous worldSize=4, expected 5 (parallel.world_size=4, plus ranks 0 to 0, the controllers)",
                e.getMessage());
        RendezvousConfig two = RendezvousConfig.of(0, 5, "127.0.0.1", freePort());
        e = assertThrows(IllegalArgumentException.class,
                () -> ProcessWorkers.external(layout(), two, 2, "127.0.0.1", null, 65536));
        assertEquals("trainer.launch=external needs trainer.controllers controllers and parallel.world_size workers: "
                + "rendezvous worldSize=5, expected 6 (parallel.world_size=4, plus ranks 0 to 1, the controllers)",
                e.getMessage());
    }

    @Test
    void shouldRefuseToPublishThroughAStoreTheConfigDoesNotName() throws IOException {
        int other = freePort();
        try (ControllerRendezvous.Store store = ControllerRendezvous.Store.serve("127.0.0.1", 5, null)) {
            RendezvousConfig rendezvous = RendezvousConfig.of(0, 5, "127.0.0.1", other);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> store.publish(rendezvous, 1, null, new byte[0]));
            assertEquals("rendezvous config names another store: masterPort=" + other + ", store port="
                    + store.port(), e.getMessage());
        }
    }

    @Test
    void shouldRefuseControllerJvmsThatDoNotDivideTheTrainingDpSizeBeforeStartingAny(@TempDir Path scratch) {
        TrainConfig config = TrainConfig.load(RlhfLoopGoldenTest.resource("ppo_gae.yaml"),
                List.of("trainer.backend=shm", "trainer.controllers=8"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProcessWorkers.local(config, scratch.resolve("policy"), scratch));
        assertEquals("controllers must divide the DP size: controllers=8, dpSize=" + layout().train().d(),
                e.getMessage());
        assertEquals(List.of(), List.of(scratch.toFile().list()));
    }

    @Test
    void shouldRefuseAWorkerRankAsAController() throws IOException {
        RendezvousConfig rendezvous = RendezvousConfig.of(2, 6, "127.0.0.1", freePort());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProcessWorkers.external(layout(), rendezvous, 2, "127.0.0.1", null, 65536));
        assertEquals("trainer.launch=external runs the controllers as rendezvous ranks 0 to 1: rank=2 (start yatt "
                + "worker on the other ranks)", e.getMessage());
    }

    @Test
    void shouldNameTheWorkersThatDidNotJoinTheRendezvous() throws Exception {
        int port = freePort();
        long timeoutNs = TimeUnit.SECONDS.toNanos(3);
        RendezvousConfig controller = RendezvousConfig.of(0, 5, "127.0.0.1", port).withTimeoutNs(timeoutNs);
        // worker rank 0 (rendezvous rank 1) arrives, as yatt worker does; worker ranks 1 to 3 never start
        CompletableFuture<Object> worker = CompletableFuture.supplyAsync(() -> {
            try {
                return ControllerRendezvous.lookupJob(RendezvousConfig.of(1, 5, "127.0.0.1", port)
                        .withTimeoutNs(timeoutNs));
            } catch (RendezvousException lost) {
                return lost;
            }
        });
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ProcessWorkers.external(layout(), controller, 1, "127.0.0.1", null, 65536));
        assertEquals("workers did not join the rendezvous: missingWorkerRanks=[1, 2, 3], workers=4, master=127.0.0.1:"
                + port + ", timeoutMs=3000 (worker rank = rendezvous rank - 1)", e.getMessage());
        assertEquals(RendezvousException.class, worker.get(1, TimeUnit.MINUTES).getClass());
    }
}
