package io.yatt.collectives.shm;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.yatt.collectives.CollectiveTestData.bytes;
import static io.yatt.collectives.CollectiveTestData.input;
import static io.yatt.collectives.CollectiveTestData.tensor;
import static io.yatt.collectives.CollectiveTestData.zeros;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shm point-to-point mailbox on 2 rank processes: a receiver whose sender is late sleeps on the sender's doorbell
 * (as the collectives' waits do) and still gets the bytes, and an abort ends a receive that waits.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShmPointToPointTest {
    /** How long the sender sleeps before it sends. */
    private static final long LATE_MS = 600;
    /** Elements of the message: more than one p2p slot of the default context (several chunks). */
    private static final long COUNT = 300_007;

    private final ShmProcessHarness harness = new ShmProcessHarness(2,
        new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)).debugChecks(true));

    @AfterAll
    void close() {
        harness.close();
    }

    @Test
    void shouldReceiveFromALateSenderWithoutBurningTheCore() {
        List<long[]> results = harness.values(ctx -> {
            Communicator comm = ctx.communicator();
            if (ctx.rank() == 0) {
                try (Tensor send = tensor(ctx, DType.F32, input(DType.F32, 0, COUNT, 11))) {
                    comm.send(send, 1); // warm-up, so that no compilation runs during the timed wait
                    comm.barrier();
                    Thread.sleep(LATE_MS);
                    comm.send(send, 1);
                    return new long[0];
                }
            }
            try (Tensor recv = zeros(ctx, DType.F32, COUNT)) {
                comm.recv(recv, 0);
                comm.barrier();
                recv.segment().fill((byte) 0);
                long sleepsBefore = ((ShmCommunicator) comm).doorbellSleeps();
                long cpuBefore = processCpuNs();
                long wallBefore = System.nanoTime();
                comm.recv(recv, 0);
                long cpuNs = processCpuNs() - cpuBefore;
                long wallNs = System.nanoTime() - wallBefore;
                long sleeps = ((ShmCommunicator) comm).doorbellSleeps() - sleepsBefore;
                byte[] got = bytes(recv);
                byte[] expected = input(DType.F32, 0, COUNT, 11);
                return new long[] {java.util.Arrays.equals(got, expected) ? 1 : 0, cpuNs, wallNs, sleeps};
            }
        });
        long[] receiver = results.get(1);
        assertEquals(1, receiver[0], "received bytes differ from the sent ones");
        long waitedMs = TimeUnit.NANOSECONDS.toMillis(receiver[2]);
        long cpuMs = TimeUnit.NANOSECONDS.toMillis(receiver[1]);
        // it slept on the sender's doorbell: at least once (a yielding wait never does), and each sleep is at most
        // ShmChannel.PARK_NS, so a wait of LATE_MS takes a few hundred of them
        assertTrue(receiver[3] > 0, "receiver never slept on the doorbell while waiting " + waitedMs + " ms");
        // a receiver that spins or yields for the whole wait uses about the whole wait in CPU time when it has a
        // core; one that sleeps on the doorbell uses a few milliseconds (the whole rank process is counted)
        assertTrue(cpuMs * 2 < waitedMs, "receiver used " + cpuMs + " ms of CPU while waiting " + waitedMs + " ms");
    }

    /** CPU time of this whole rank process so far. */
    private static long processCpuNs() {
        return ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
    }

    @Test
    void shouldEndAReceiveThatWaitsWhenItsRankAborts() {
        List<String> results = harness.values(ctx -> {
            Communicator sub = ctx.communicator().split(0, ctx.rank()).orElseThrow();
            try (Tensor buf = zeros(ctx, DType.I32, 5)) {
                Thread aborter = null;
                if (ctx.rank() == 1) {
                    aborter = Thread.ofPlatform().start(() -> {
                        try {
                            Thread.sleep(300);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        sub.abort();
                    });
                }
                String outcome;
                try {
                    sub.recv(buf, 1 - ctx.rank()); // both ranks receive: neither sends, so both wait
                    outcome = "received";
                } catch (CommunicatorAbortedException e) {
                    outcome = e.getMessage().replaceAll("seq=\\d+", "seq=N");
                }
                if (aborter != null) {
                    aborter.join();
                }
                return outcome;
            } finally {
                sub.close();
            }
        });
        assertEquals(List.of("communicator aborted: rank=0, size=2, cause=communicator aborted by rank 1: size=2",
            "recv aborted: op=recv, seq=N, rank=1, reason=aborted locally"), results);
    }
}
