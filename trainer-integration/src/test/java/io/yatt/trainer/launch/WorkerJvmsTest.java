package io.yatt.trainer.launch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.ShmContext;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.WorkerGroup;
import io.yatt.controller.WorkerLostException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real worker JVMs of {@code yatt worker} started by {@link WorkerJvms}: four {@code collective} ranks over shm, one
 * killed with SIGKILL in the middle of a loop of all-reduces; a JVM that fails during startup; a launch that times out.
 */
class WorkerJvmsTest {

    /** Small, quickly started JVMs: the host has two cores shared by several builds. */
    private static final List<String> TEST_JVM_FLAGS = List.of("-Xmx128m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1");
    private static final long DETECTION_LIMIT_NS = TimeUnit.SECONDS.toNanos(2);
    private static final String NL = System.lineSeparator();

    @Test
    void shouldReportAKilledWorkerReleaseItsPeersAndLeaveNothingOfTheJob() throws Exception {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().jobName("jvms-kill"));
        Path driverDir = Path.of(plane.driverDirectory());
        WorkerJvms jvms = null;
        List<Process> processes = new ArrayList<>();
        Path logs;
        String jobId;
        try {
            jvms = WorkerJvms.start(plane, new WorkerJvms.Context().kind("collective").count(4).workerIdBase(40)
                    .jvmFlags(TEST_JVM_FLAGS));
            processes.addAll(jvms.processes());
            logs = jvms.logDirectory();
            jobId = jvms.jobId();
            WorkerGroup group = jvms.group();
            assertEquals(List.of(0, 1, 2, 3), group.call("rank"));
            assertEquals(List.of(4, 4, 4, 4), group.call("worldSize"));
            List<?> sums = (List<?>) group.call("allReduceSum", (Object) new float[] {1f, 2f, -3f});
            for (Object sum : sums) {
                assertArrayEquals(new float[] {4f, 8f, -12f}, (float[]) sum);
            }
            // each result of 1 + 2 + 3 + 4 is checked on every rank
            assertEquals(List.of(3, 3, 3, 3), group.call("allReduceLoop", 3, 256));
            // the world is set up: every rank unlinked its regions
            assertEquals(List.of(), WorkerJvms.shmFiles(ShmContext.DEFAULT_DIRECTORY, jobId));

            CompletableFuture<Object> loop = group.callAsync("allReduceLoop", Integer.MAX_VALUE, 1024);
            Thread.sleep(1000); // let every rank enter the loop; not a timing assertion
            assertFalse(loop.isDone(), "the loop ended before the kill");
            Process victim = processes.get(3);
            long killedAtNs = System.nanoTime();
            victim.destroyForcibly();
            ExecutionException e = assertThrows(ExecutionException.class, () -> loop.get(60, TimeUnit.SECONDS));
            long reportedAfterNs = System.nanoTime() - killedAtNs;
            WorkerLostException lost = assertInstanceOf(WorkerLostException.class, e.getCause());
            assertEquals(List.of("collective"), lost.roles());
            assertEquals(3, lost.rank());
            assertEquals(victim.pid(), lost.pid());
            assertEquals(InetAddress.getLocalHost().getHostName(), lost.host());
            assertTrue(lost.lastHeartbeatAgeNs() < DETECTION_LIMIT_NS, lost.getMessage());
            System.out.printf("killed worker reported %d ms after SIGKILL: %s%n",
                    TimeUnit.NANOSECONDS.toMillis(reportedAfterNs), lost.getMessage());

            // the survivors left their all-reduce (no peer hangs): a group of ranks 0-2 answers
            WorkerGroup survivors = plane.group("collective", 3, TimeUnit.SECONDS.toNanos(60));
            List<?> failures = (List<?>) survivors.call("lastFailure");
            for (Object failure : failures) {
                System.out.println("survivor released: " + failure);
                assertTrue(((String) failure).matches("iteration=\\d+, error=(ShmPeerDeadException"
                        + "|CommunicatorAbortedException): .+"), (String) failure);
            }
            assertTrue(victim.waitFor(60, TimeUnit.SECONDS));
            assertEquals(137, victim.exitValue());
            assertTrue(jvms.describe(lost).startsWith(lost.getMessage() + ", exitCode=137, stderr tail:" + NL),
                    jvms.describe(lost));
        } finally {
            if (jvms != null) {
                jvms.close();
            }
            plane.close();
        }
        for (Process p : processes) {
            assertFalse(p.isAlive(), "pid " + p.pid());
        }
        assertEquals(List.of(), WorkerJvms.shmFiles(ShmContext.DEFAULT_DIRECTORY, jobId));
        assertFalse(Files.exists(driverDir), driverDir.toString());
        assertFalse(Files.exists(logs), logs.toString());
    }

    @Test
    void shouldReportAWorkerJvmThatFailsDuringStartupWithItsExitCodeAndStderr(@TempDir Path run) throws Exception {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().jobName("jvms-bad-kind"));
        try {
            // through the trainer's hook: one rank of an unknown kind, logs in the run folder
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> TrainerWorkers.start(plane, 1, "nope", run));
            assertTrue(e.getMessage().matches("worker JVM exited during startup: kind=nope, rank=0, pid=\\d+,"
                    + " exitCode=1, stderr tail:\\R(?s:.*)"), e.getMessage());
            assertTrue(e.getMessage().endsWith(NL + "yatt: unknown worker kind: kind=nope, expected one of"
                    + " [collective, echo, rlhf]"), e.getMessage());
        } finally {
            plane.close();
        }
        // a log folder the caller chose stays
        assertEquals(List.of("yatt: unknown worker kind: kind=nope, expected one of [collective, echo, rlhf]"),
                Files.readAllLines(run.resolve(TrainerWorkers.LOG_FOLDER).resolve("rank-0.err")).stream()
                        .filter(line -> line.startsWith("yatt: ")).toList());
    }

    @Test
    void shouldNameTheRanksThatDidNotRegisterInTime() {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().jobName("jvms-timeout"));
        try {
            // no JVM starts and registers within a millisecond
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> WorkerJvms.start(plane,
                    new WorkerJvms.Context().kind("echo").count(1).world(WorkerJvms.World.NONE)
                            .jvmFlags(TEST_JVM_FLAGS).registrationTimeoutNs(TimeUnit.MILLISECONDS.toNanos(1))));
            assertTrue(e.getMessage().matches("worker JVMs did not register: kind=echo, role=echo, count=1,"
                    + " missingRanks=\\[0], timeoutMs=1\\Rrank 0: pid=\\d+, (running|exitCode=-?\\d+), stderr tail:"
                    + "\\R(?s:.*)"), e.getMessage());
        } finally {
            plane.close();
        }
    }
}
