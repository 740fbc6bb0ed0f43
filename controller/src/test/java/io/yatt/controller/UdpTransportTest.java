package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.invoke.MethodHandles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class UdpTransportTest {

    @Test
    void shouldCallWorkerOnItsOwnDriverOverUdpLoopback() {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().udp("127.0.0.1", 0)
                .threading(ControlPlane.Threading.INVOKER));
        Worker worker = null;
        try {
            assertTrue(plane.endpoint().matches("aeron:udp\\?endpoint=127\\.0\\.0\\.1:\\d+"), plane.endpoint());
            assertFalse(plane.endpoint().endsWith(":0"), plane.endpoint());
            worker = Worker.start(new Worker.Context().workerId(1).rank(0).roles(List.of("actor"))
                    .methods(WorkerMethods.annotated(new TestWorkers.Methods(0), MethodHandles.lookup()))
                    .controller(plane.endpoint()).threading(ControlPlane.Threading.INVOKER));
            assertNotEquals(plane.driverDirectory(), worker.driverDirectory());
            WorkerGroup group = plane.group("actor", 1, TestWorkers.GROUP_TIMEOUT_NS);
            assertEquals(List.of(42), group.call("addRank", 42));
            assertEquals("rank-0", group.call("whoAnswers", "rank-"));
        } finally {
            Path workerDir = worker == null ? null : Path.of(worker.driverDirectory());
            if (worker != null) {
                worker.close();
                assertFalse(Files.exists(workerDir), workerDir.toString());
            }
            Path planeDir = Path.of(plane.driverDirectory());
            plane.close();
            assertFalse(Files.exists(planeDir), planeDir.toString());
        }
    }
}
