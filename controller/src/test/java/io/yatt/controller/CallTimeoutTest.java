package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A method that hangs on a worker that still heartbeats fails its call at the plane's call deadline. */
class CallTimeoutTest {

    private static final long CALL_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(300);

    @Test
    void shouldFailHungCallNamingTheWorkerThatDidNotAnswerAndAbortIt() throws Exception {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context().callTimeoutNs(CALL_TIMEOUT_NS), 2)) {
            WorkerGroup group = cluster.group();
            cluster.methods.get(0).release.countDown(); // rank 0 answers at once, rank 1 hangs

            CompletableFuture<Object> call = group.callAsync("blockUntilReleased");
            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
            CallTimeoutException timeout = assertInstanceOf(CallTimeoutException.class, e.getCause());
            assertEquals("actor", timeout.group());
            assertEquals("blockUntilReleased", timeout.method());
            assertEquals(CALL_TIMEOUT_NS, timeout.timeoutNs());
            assertEquals(1, timeout.unanswered().size());
            CallTimeoutException.Unanswered late = timeout.unanswered().get(0);
            assertEquals(1, late.rank());
            assertEquals(5001, late.pid());
            assertEquals("host-1", late.host());
            assertTrue(late.lastHeartbeatAgeNs() < TestWorkers.RELAXED_HEARTBEAT_TIMEOUT_NS, timeout.getMessage());
            assertEquals("call timed out: group=actor, method=blockUntilReleased, timeoutMs=300, unanswered=[rank=1 "
                    + "pid=5001 host=host-1 lastHeartbeatAgeMs="
                    + TimeUnit.NANOSECONDS.toMillis(late.lastHeartbeatAgeNs()) + "]", timeout.getMessage());

            // the abort interrupted the hung method: the worker's call thread is free for the next call
            assertEquals(List.of(5, 6), group.call("addRank", 5));
        }
    }

    @Test
    void shouldNotTimeOutCallThatAnswersWithinTheDeadline() {
        try (TestWorkers cluster = new TestWorkers(TestWorkers.context().callTimeoutNs(TimeUnit.SECONDS.toNanos(60)),
                2)) {
            cluster.methods.forEach(m -> m.release.countDown());
            assertEquals(List.of(0, 1), cluster.group().call("blockUntilReleased"));
        }
    }

    @Test
    void shouldRejectNonPositiveCallTimeout() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ControlPlane.Context().callTimeoutNs(0).conclude());
        assertEquals("call timeout must be positive: callTimeoutNs=0", e.getMessage());
    }
}
