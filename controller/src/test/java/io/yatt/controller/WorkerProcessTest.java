package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Device;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Worker JVMs on this host; one is killed with SIGKILL while a call is in flight. */
class WorkerProcessTest {

    private static final List<String> WORKER_JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
    private static final long DETECTION_LIMIT_NS = TimeUnit.SECONDS.toNanos(2);
    /** Far beyond any call here: a call that gets no answer fails naming its unanswered ranks instead of hanging. */
    private static final long CALL_LIMIT_NS = TimeUnit.SECONDS.toNanos(60);

    private static ControlPlane.Context plane(String jobName) {
        return new ControlPlane.Context().jobName(jobName).callTimeoutNs(CALL_LIMIT_NS);
    }

    private static String javaBinary() {
        return ProcessHandle.current().info().command().orElseThrow(
                () -> new IllegalStateException("cannot tell this JVM's java binary"));
    }

    @Test
    void shouldReportKilledWorkerJvmWithinTwoSecondsAndLeaveNothingBehind() throws Exception {
        ControlPlane plane = ControlPlane.launch(plane("kill-test"));
        Path driverDir = Path.of(plane.driverDirectory());
        try (WorkerProcesses launcher = WorkerProcesses.launch(plane, 2, javaBinary(), WORKER_JVM_FLAGS,
                System.getProperty("java.class.path"), WorkerProcessMain.class.getName(), List.of(), Map.of())) {
            WorkerGroup group = plane.group("actor", 2, TimeUnit.SECONDS.toNanos(120));
            assertEquals(List.of(5, 6), group.call("addRank", 5));

            CompletableFuture<Object> call = group.callAsync("blockUntilReleased");
            Process victim = launcher.processes().get(1);
            victim.destroyForcibly();
            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
            WorkerLostException lost = assertInstanceOf(WorkerLostException.class, e.getCause());
            assertEquals(1, lost.rank());
            assertEquals(victim.pid(), lost.pid());
            assertTrue(lost.lastHeartbeatAgeNs() < DETECTION_LIMIT_NS, lost.getMessage());
            System.out.println("killed worker reported: " + lost.getMessage());

            plane.shutdownWorkers("test done");
            int[] codes = launcher.waitFor(TimeUnit.SECONDS.toNanos(60));
            assertEquals(0, codes[0]);
            assertEquals(137, codes[1]);
            assertFalse(launcher.processes().get(0).isAlive());
        } finally {
            plane.close();
        }
        assertFalse(Files.exists(driverDir), driverDir.toString());
    }

    @Test
    void shouldStopWorkerProcessWhenControlPlaneCloses() throws Exception {
        ControlPlane plane = ControlPlane.launch(plane("close-test"));
        try (WorkerProcesses launcher = WorkerProcesses.launch(plane, 1, javaBinary(), WORKER_JVM_FLAGS,
                System.getProperty("java.class.path"), WorkerProcessMain.class.getName(), List.of(), Map.of())) {
            try {
                assertEquals(List.of(1), plane.group("actor", 1, TimeUnit.SECONDS.toNanos(120)).call("addRank", 1));
            } finally {
                plane.close();
            }
            assertArrayEquals(new int[] {0}, launcher.waitFor(TimeUnit.SECONDS.toNanos(60)));
        }
    }

    @Test
    void shouldBindEachWorkerProcessToItsPoolSlotDevice() throws Exception {
        ResourcePool pool = ResourcePool.of("pool", new Device[][] {{Device.cuda(1), Device.host(), Device.cuda(0)}});
        ControlPlane plane = ControlPlane.launch(plane("pool-test"));
        try (WorkerProcesses launcher = WorkerProcesses.launch(plane, pool, 0, javaBinary(), WORKER_JVM_FLAGS,
                System.getProperty("java.class.path"), WorkerProcessMain.class.getName(), List.of(), Map.of(),
                rank -> ProcessBuilder.Redirect.DISCARD, rank -> ProcessBuilder.Redirect.INHERIT)) {
            WorkerGroup group = plane.group("actor", 3, TimeUnit.SECONDS.toNanos(120));
            assertEquals(List.of("cuda:1", "host", "cuda:0"), group.call("device"));
            assertEquals(List.of(10, 11, 12), group.call("addRank", 10));
            plane.shutdownWorkers("test done");
            assertArrayEquals(new int[] {0, 0, 0}, launcher.waitFor(TimeUnit.SECONDS.toNanos(60)));
        } finally {
            plane.close();
        }
    }

    @Test
    void shouldRejectLaunchOnNodeWithoutPoolProcesses() {
        ResourcePool pool = ResourcePool.cuda("gpus", 2, 2);
        ControlPlane plane = ControlPlane.launch(plane("pool-node-test"));
        try {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorkerProcesses.launch(
                    plane, pool, 2, javaBinary(), WORKER_JVM_FLAGS, System.getProperty("java.class.path"),
                    WorkerProcessMain.class.getName(), List.of(), Map.of(), rank -> ProcessBuilder.Redirect.DISCARD,
                    rank -> ProcessBuilder.Redirect.INHERIT));
            assertEquals("resource pool has no process on node: node=2, pool=gpus, nodes=[0, 1]", e.getMessage());
        } finally {
            plane.close();
        }
    }

    @Test
    void shouldReadBoundDeviceFromEnvironment() {
        assertEquals(Device.cuda(3), Worker.Context.fromEnvironment(Map.of("RANK", "0", "YATT_CONTROLLER_CHANNEL",
                "aeron:ipc", "YATT_DEVICE", "cuda:3")).device());
        assertEquals(Device.host(), Worker.Context.fromEnvironment(Map.of("RANK", "0", "YATT_CONTROLLER_CHANNEL",
                "aeron:ipc")).device());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Worker.Context.fromEnvironment(Map.of("RANK", "0", "YATT_CONTROLLER_CHANNEL", "aeron:ipc",
                        "YATT_DEVICE", "gpu0")));
        assertEquals("invalid environment variable: name=YATT_DEVICE, value=gpu0, expected host, cpu or cuda:N",
                e.getMessage());
    }

    @Test
    void shouldNameMissingEnvironmentVariable() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Worker.Context.fromEnvironment(Map.of("RANK", "1")));
        assertEquals("missing environment variable: name=YATT_CONTROLLER_CHANNEL", e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> Worker.Context.fromEnvironment(Map.of("RANK", "one")));
        assertEquals("environment variable is not an integer: name=RANK, value=one", bad.getMessage());
        Worker.Context ctx = Worker.Context.fromEnvironment(Map.of("RANK", "3", "YATT_CONTROLLER_CHANNEL",
                "aeron:ipc", "YATT_AERON_DIR", "some-dir"));
        assertEquals(3, ctx.rank());
        assertEquals(3, ctx.workerId());
        assertEquals("aeron:ipc", ctx.controller());
        assertEquals("some-dir", ctx.externalDriverDirectory());
    }
}
