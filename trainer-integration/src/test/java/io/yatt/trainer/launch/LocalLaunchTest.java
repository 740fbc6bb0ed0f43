package io.yatt.trainer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.RendezvousException;
import io.yatt.collectives.ShmContext;
import io.yatt.controller.ControlPlane;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LocalLaunch} with real JVMs: a controller JVM that fails at once fails the startup without waiting out the
 * rendezvous timeout (10 minutes here), naming it; {@link LocalLaunch#awaitExit} names every process that failed
 * or still runs, and close leaves no process and no shm file.
 */
class LocalLaunchTest {

    private static final List<String> TEST_JVM_FLAGS = List.of("-Xmx128m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1");

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void shouldFailTheStartupAtOnceNamingTheControllerJvmThatExited(@TempDir Path logs) {
        LocalLaunch launch = LocalLaunch.start(2, 2, List.of("--no-such-option"),
                rank -> List.of("--kind", "rlhf", "--worker-id", Integer.toString(100 + rank)), logs,
                TimeUnit.MINUTES.toNanos(10), new WorkerJvms.Context().jvmFlags(TEST_JVM_FLAGS));
        List<Process> processes = launch.processes();
        try (ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().jobName("local-launch-test")
                .udp("127.0.0.1", 0))) {
            assertEquals(3, processes.size());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> launch.watch(
                    () -> launch.store().publish(launch.rendezvous(), 2, plane, new byte[0])));
            long pid = processes.getFirst().pid();
            assertTrue(e.getMessage().startsWith("controller JVM exited during startup: controller=1, pid=" + pid
                    + ", exitCode=2, stderr tail:" + System.lineSeparator()), e.getMessage());
            assertTrue(e.getMessage().contains("Unknown option: '--no-such-option'"), e.getMessage());
            // the store was closed under the waiting rank 0: its rendezvous failed, it did not time out
            assertInstanceOf(RendezvousException.class, e.getCause());
            assertFalse(Thread.currentThread().isInterrupted());

            // a worker that was waiting in the closed store failed; one that had not reached it yet still retries
            IllegalStateException exit = assertThrows(IllegalStateException.class,
                    () -> launch.awaitExit(TimeUnit.SECONDS.toNanos(5)));
            assertTrue(exit.getMessage().startsWith("processes of the local launch did not end cleanly (logs in "
                    + logs + "):" + System.lineSeparator() + "controller JVM failed: controller=1, pid=" + pid
                    + ", exitCode=2, stderr tail:"), exit.getMessage());
            for (int rank = 0; rank < 2; rank++) {
                String worker = "rank=" + rank + ", pid=" + processes.get(1 + rank).pid() + ", ";
                assertTrue(exit.getMessage().contains("worker JVM failed: " + worker + "exitCode=1, stderr tail:")
                        || exit.getMessage().contains("worker JVM still running: " + worker + "waitedMs=5000"),
                        exit.getMessage());
            }
        } finally {
            launch.close();
        }
        for (Process p : processes) {
            assertFalse(p.isAlive());
        }
        assertEquals(List.of(), WorkerJvms.shmFiles(ShmContext.DEFAULT_DIRECTORY, launch.worldJobId()));
        for (String log : List.of("controller-1", "rank-0", "rank-1")) {
            assertTrue(Files.exists(logs.resolve(log + ".err")), log);
        }
        IllegalStateException twice = assertThrows(IllegalStateException.class, launch::close);
        assertEquals("local launch already closed: worldJobId=" + launch.worldJobId(), twice.getMessage());
    }

    @Test
    void shouldRefuseFewerThanTwoControllersOrNoWorker(@TempDir Path logs) {
        IllegalArgumentException one = assertThrows(IllegalArgumentException.class, () -> LocalLaunch.start(1, 2,
                List.of(), rank -> List.of(), logs, 1, new WorkerJvms.Context()));
        assertEquals("a local launch of controller processes needs at least 2 controllers: controllers=1",
                one.getMessage());
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> LocalLaunch.start(2, 0,
                List.of(), rank -> List.of(), logs, 1, new WorkerJvms.Context()));
        assertEquals("worker count must be positive: workers=0", none.getMessage());
        IllegalArgumentException timeout = assertThrows(IllegalArgumentException.class, () -> LocalLaunch.start(2,
                1, List.of(), rank -> List.of(), logs, 0, new WorkerJvms.Context()));
        assertEquals("rendezvous timeout must be positive: rendezvousTimeoutNs=0", timeout.getMessage());
    }
}
