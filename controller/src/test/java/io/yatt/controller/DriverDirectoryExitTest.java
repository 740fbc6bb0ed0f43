package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * A JVM whose control plane is never closed (SIGTERM from a launcher) leaves no Aeron directory: its embedded
 * driver's directory goes with the JVM's exit, while the directory of a SIGKILLed one waits for the next control plane
 * on the host ({@link DeadDriverDirectoriesTest}).
 */
class DriverDirectoryExitTest {

    /** The child: a control plane on udp loopback, its driver directory on stdout, then it waits to be stopped. */
    public static void main(String[] args) {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().jobName("exit-test").udp("127.0.0.1", 0));
        System.out.println(plane.driverDirectory());
        System.out.flush();
        while (true) {
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
        }
    }

    @Test
    void shouldRemoveTheDriverDirectoryWhenTheJvmIsTerminated() throws Exception {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(List.of("--enable-native-access=ALL-UNNAMED", "--add-exports",
                "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xmx128m",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), DriverDirectoryExitTest.class.getName()));
        Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            String line = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            assertNotNull(line, "the child printed no driver directory");
            Path directory = Path.of(line);
            assertTrue(Files.isDirectory(directory), line);
            child.destroy(); // SIGTERM: the JVM exits, the control plane is not closed
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            assertNotEquals(0, child.exitValue());
            assertFalse(Files.exists(directory), line);
        } finally {
            child.destroyForcibly();
        }
    }
}
