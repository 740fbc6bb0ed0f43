package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ControllerRendezvous;
import io.yatt.controller.WorkerGroup;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code yatt worker} in a second JVM on 127.0.0.1: it finds the controller through the rendezvous store of a
 * torchrun-style environment (RANK=1, WORLD_SIZE=2), registers over udp and serves calls until shut down.
 */
class WorkerCommandTest {

    private static final List<String> JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void shouldFindTheControllerThroughTheRendezvousAndServeUntilShutDown() throws Exception {
        int port = freePort();
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().udp("127.0.0.1", 0).jobName("cli-worker")
                .heartbeatTimeoutNs(TimeUnit.SECONDS.toNanos(30)));
        Process process = null;
        try {
            List<String> command = new ArrayList<>();
            command.add(ProcessHandle.current().info().command().orElseThrow());
            command.addAll(JVM_FLAGS);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), YattCli.class.getName(), "worker",
                    "--role", "echo", "--kind", "echo"));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().putAll(Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1",
                    "MASTER_PORT", Integer.toString(port)));
            process = builder.start();
            Process child = process;
            CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return e.toString();
                }
            });

            ControllerRendezvous.publish(RendezvousConfig.of(0, 2, "127.0.0.1", port), plane);
            WorkerGroup group = plane.group("echo", 1, TimeUnit.SECONDS.toNanos(60));
            List<?> pings = (List<?>) group.call("ping");
            assertEquals(Map.of("rank", 0, "pid", process.pid()), pings.getFirst());
            assertEquals(List.of(List.of("a", 2L)), group.call("echo", List.of("a", 2L)));

            plane.close();
            plane = null;
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "worker did not exit");
            String text = output.get(60, TimeUnit.SECONDS);
            assertEquals(0, process.exitValue(), text);
            assertTrue(text.contains("worker 0 (rank 0) registered with " + "aeron:udp?endpoint=127.0.0.1:"), text);
            assertTrue(text.contains("worker 0 stopped: controller shutdown: reason=control plane closing"), text);
        } finally {
            if (plane != null) {
                plane.close();
            }
            if (process != null && process.isAlive()) {
                process.destroyForcibly();
            }
        }
    }

    @Test
    void shouldRequireARankWithAnExplicitController() {
        picocli.CommandLine cl = YattCli.commandLine();
        java.io.StringWriter err = new java.io.StringWriter();
        cl.setErr(new java.io.PrintWriter(err));
        assertEquals(1, cl.execute("worker", "--controller", "aeron:ipc"));
        assertEquals("yatt: --rank is required with --controller" + System.lineSeparator(), err.toString());
    }
}
