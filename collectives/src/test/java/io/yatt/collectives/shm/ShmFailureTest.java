package io.yatt.collectives.shm;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.RankOutcome;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SIGKILL a rank mid-operation: survivors fail fast naming it, abort, release memory, and nothing stays in /dev/shm. */
class ShmFailureTest {
    private static final long DEADLINE_NS = TimeUnit.SECONDS.toNanos(20);

    /** What a survivor saw: exception class, message, when (epoch ms), the next call's exception, its yatt mappings. */
    record Seen(String type, String message, long atEpochMs, String afterwards, long mappedRegions)
        implements java.io.Serializable {
    }

    private static long yattMappings(String jobId) throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.contains("/yatt-" + jobId + "-")).count();
        }
    }

    private static List<Path> regionFiles(String jobId) {
        return ShmSweeper.list(ShmSweeper.DEFAULT_DIRECTORY, "yatt-" + jobId + "-");
    }

    @Test
    void shouldFailEverySurvivorNamingTheKilledRankAndTheOpWithinTheDeadline() throws Exception {
        Communicator.Context context = new Communicator.Context().timeoutNs(DEADLINE_NS).debugChecks(true);
        ExecutorService runner = Executors.newSingleThreadExecutor();
        try (ShmProcessHarness harness = new ShmProcessHarness(3, context)) {
            String jobId = harness.launcher().jobId();
            assertEquals(List.of(), regionFiles(jobId), "region files must be unlinked once every rank attached");
            Future<List<RankOutcome<Seen>>> run = runner.submit(() -> harness.run(ctx -> {
                String job = System.getenv("YATT_JOB_ID");
                long mappedBefore = yattMappings(job);
                if (mappedBefore == 0) {
                    throw new AssertionError("expected mapped regions while healthy");
                }
                Communicator comm = ctx.communicator();
                try (Tensor buf = Tensor.allocate(ctx.allocator(), DType.F32, Shape.of(1 << 20), Device.host())) {
                    buf.fill(1);
                    while (true) {
                        try {
                            comm.allReduce(buf, ReduceOp.SUM);
                            buf.fill(1);
                        } catch (RuntimeException e) {
                            long at = System.currentTimeMillis();
                            String afterwards;
                            try {
                                comm.barrier();
                                afterwards = "no exception";
                            } catch (CommunicatorAbortedException aborted) {
                                afterwards = aborted.getMessage();
                            }
                            return new Seen(e.getClass().getSimpleName(), e.getMessage(), at, afterwards,
                                yattMappings(job));
                        }
                    }
                }
            }));
            Thread.sleep(1500);
            Process victim = harness.launcher().processes().get(2);
            long victimPid = victim.pid();
            long killedAt = System.currentTimeMillis();
            victim.destroyForcibly();
            List<RankOutcome<Seen>> outcomes = run.get(90, TimeUnit.SECONDS);
            for (int r = 0; r < 2; r++) {
                Seen seen = outcomes.get(r).get();
                assertEquals("ShmPeerDeadException", seen.type(), seen.message());
                assertTrue(seen.message().startsWith("allReduce failed: op=allReduce, seq="), seen.message());
                assertTrue(seen.message().contains("dead ranks=[2:pid=" + victimPid + "]"), seen.message());
                assertTrue(seen.message().matches(".*missing ranks=\\[(1, )?2\\].*|.*missing ranks=\\[(0, )?2\\].*"),
                    seen.message());
                long detectMs = seen.atEpochMs() - killedAt;
                assertTrue(detectMs < TimeUnit.NANOSECONDS.toMillis(DEADLINE_NS) + 2000, "took " + detectMs + " ms");
                assertTrue(detectMs < 3000, "pid liveness should beat the deadline by far: " + detectMs + " ms");
                assertTrue(seen.afterwards().startsWith("communicator aborted: rank=" + r + ", size=3, cause=allReduce failed"),
                    seen.afterwards());
                assertEquals(0, seen.mappedRegions(), "aborted communicator must unmap its shared memory");
            }
            assertEquals(List.of(), regionFiles(jobId));
        } finally {
            runner.shutdownNow();
        }
    }

    @Test
    void shouldSweepRegionsWhoseOwnerDiedAndKeepLiveOnes() throws Exception {
        Process shortLived = new ProcessBuilder("true").start();
        shortLived.waitFor(10, TimeUnit.SECONDS);
        long deadPid = shortLived.pid();
        Path dir = Files.createTempDirectory("shm-sweep");
        Path dead = dir.resolve("yatt-sweeptest-0-comm");
        Path alive = dir.resolve("yatt-sweeptest-1-comm");
        Path other = dir.resolve("not-yatt");
        byte[] header = new byte[ShmRegionDescriptor.HEADER_LENGTH];
        java.nio.ByteBuffer.wrap(header).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putLong(ShmRegionDescriptor.MAGIC_OFFSET, ShmRegionDescriptor.MAGIC)
            .putLong(ShmRegionDescriptor.OWNER_PID_OFFSET, deadPid);
        Files.write(dead, header);
        Files.writeString(other, "x");
        try (ShmRegion live = ShmRegion.create(alive, 4096, 1, 2)) {
            assertEquals(List.of(dead), ShmSweeper.sweep(dir));
            assertTrue(Files.exists(alive));
            assertTrue(Files.exists(other));
            assertEquals(ProcessHandle.current().pid(), live.ownerPid());
        }
        assertTrue(Files.notExists(alive), "owner close unlinks");
        Files.delete(other);
        Files.delete(dir);
    }
}
