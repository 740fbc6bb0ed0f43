package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.CommonContext;
import io.yatt.collectives.RendezvousConfig;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.agrona.IoUtil;
import org.junit.jupiter.api.Test;

/**
 * Parallel controllers as separate processes: controller 1 is a JVM of its own ({@link ControllerProcessMain}),
 * controller 0 runs in this JVM; they find each other through the rendezvous store and reduce the seeded pipeline's
 * metrics over the control plane to exactly what one controller gets.
 */
class ControllerProcessesTest {

    private static final List<String> JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
            "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void shouldReduceToTheSingleControllerMetricsWithTwoControllerJvms() throws Exception {
        List<String> one = ControllerProcessMain.lines(ControllerMeshTest.pipeline(1).getFirst());
        int port = freePort();
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(JVM_FLAGS);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ControllerProcessMain.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().putAll(Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1",
                "MASTER_PORT", Integer.toString(port)));
        Process child = pb.start();
        try {
            List<String> mine = ControllerProcessMain.lines(
                    ControllerProcessMain.run(RendezvousConfig.of(0, 2, "127.0.0.1", port)));
            String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(child.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, child.exitValue(), out);
            List<String> theirs = out.lines().filter(l -> l.startsWith("score ") || l.startsWith("metric "))
                    .toList();
            // every controller's reduced metrics are the single controller's, bit for bit
            assertEquals(metrics(one), metrics(mine));
            assertEquals(metrics(one), metrics(theirs));
            assertEquals(2 * 4, metrics(one).size());
            // each controller scored its own DP slice; together they are the single controller's scores
            assertEquals(scores(one), merged(scores(mine), scores(theirs)));
        } finally {
            child.destroyForcibly();
        }
    }

    /**
     * Controller 1 is a JVM that joins the mesh and heartbeats; controller 0 (this JVM) has a call in flight on its
     * worker and waits at a barrier. SIGKILL of controller 1: both fail with its loss within the configured timeout
     * plus an interval, and afterwards no process, no Aeron directory (in /dev/shm on Linux) of the job is left.
     */
    @Test
    void shouldReportAKilledControllerJvmWithinItsHeartbeatTimeout() throws Exception {
        int port = freePort();
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(JVM_FLAGS);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ControllerProcessMain.class.getName(),
                "hold"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().putAll(Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1",
                "MASTER_PORT", Integer.toString(port)));
        Process child = pb.start();
        File aeronParent = new File(CommonContext.getAeronDirectoryName()).getParentFile();
        String childDirectory = null;
        String ownDirectory = null;
        ExecutorService threads = Executors.newSingleThreadExecutor();
        try (TestWorkers controller = new TestWorkers(ControllerProcessMain.heartbeating(0), 1)) {
            ownDirectory = controller.plane.driverDirectory();
            ControllerMesh mesh = ControllerRendezvous.joinMesh(RendezvousConfig.of(0, 2, "127.0.0.1", port),
                    controller.plane, ControllerMesh.DEFAULT_TIMEOUT_NS);
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                        StandardCharsets.UTF_8));
                String joined = out.readLine();
                assertTrue(joined != null && joined.startsWith("joined "), String.valueOf(joined));
                childDirectory = joined.substring("joined ".length());
                assertTrue(new File(childDirectory).isDirectory(), childDirectory);

                CompletableFuture<Object> call = controller.group().callAsync("blockUntilReleased");
                controller.methods.getFirst().started.await();
                Future<?> barrier = threads.submit(() -> mesh.barrier(0));
                long killedNs = System.nanoTime();
                child.destroyForcibly(); // SIGKILL
                assertTrue(child.waitFor(30, TimeUnit.SECONDS));

                ExecutionException failure = assertThrows(ExecutionException.class,
                        () -> call.get(60, TimeUnit.SECONDS));
                long reportedNs = System.nanoTime() - killedNs;
                ControllerLostException lost = assertInstanceOf(ControllerLostException.class, failure.getCause());
                assertTrue(lost.getMessage().matches("controller lost: index=1, pid=" + child.pid() + ", host="
                        + Pattern.quote(controller.plane.peer().host())
                        + ", lastHeartbeatAgeMs=\\d+, timeoutMs=1500"), lost.getMessage());
                // silent past the timeout, and reported at a liveness check within an interval of it: under 2 s
                long timeoutNs = ControlPlane.DEFAULT_HEARTBEAT_TIMEOUT_NS;
                assertTrue(lost.lastHeartbeatAgeNs() > timeoutNs, "age " + lost.lastHeartbeatAgeNs());
                assertTrue(lost.lastHeartbeatAgeNs() < timeoutNs + ControlPlane.DEFAULT_HEARTBEAT_INTERVAL_NS,
                        "age " + lost.lastHeartbeatAgeNs());
                ExecutionException barrierFailure = assertThrows(ExecutionException.class,
                        () -> barrier.get(60, TimeUnit.SECONDS));
                assertEquals(lost.getMessage(), barrierFailure.getCause().getMessage());
                System.out.println("controller loss reported " + TimeUnit.NANOSECONDS.toMillis(reportedNs)
                        + " ms after SIGKILL: " + lost.getMessage());
            } finally {
                mesh.close();
            }
        } finally {
            threads.shutdownNow();
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
            // the launcher's cleanup: a SIGKILLed controller cannot delete its embedded driver's directory
            if (childDirectory != null) {
                IoUtil.delete(new File(childDirectory), true);
            }
        }
        assertFalse(child.isAlive());
        assertEquals(List.of(), ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                .map(ProcessHandle::pid).toList());
        assertFalse(new File(ownDirectory).exists(), ownDirectory);
        assertFalse(new File(childDirectory).exists(), childDirectory);
        String[] left = aeronParent.list((dir, name) -> name.contains("-yatt-mesh-kill-"));
        assertEquals(List.of(), left == null ? List.of() : List.of(left));
    }

    private static List<String> metrics(List<String> lines) {
        return lines.stream().filter(l -> l.startsWith("metric ")).toList();
    }

    /** Score lines, NaN (a prompt of another controller) kept as its bits. */
    private static List<String> scores(List<String> lines) {
        return lines.stream().filter(l -> l.startsWith("score ")).toList();
    }

    private static final String NAN = Long.toHexString(Double.doubleToRawLongBits(Double.NaN));

    private static List<String> merged(List<String> a, List<String> b) {
        assertEquals(a.size(), b.size());
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            out.add(a.get(i).endsWith(" " + NAN) ? b.get(i) : a.get(i));
        }
        return out;
    }
}
