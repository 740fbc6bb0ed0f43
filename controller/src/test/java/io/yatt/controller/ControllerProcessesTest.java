package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.RendezvousConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
        pb.environment().putAll(java.util.Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1",
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
