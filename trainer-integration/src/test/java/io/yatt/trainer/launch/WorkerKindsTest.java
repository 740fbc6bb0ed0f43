package io.yatt.trainer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.InProcessWorld;
import io.yatt.controller.WorkerMethods;
import java.lang.invoke.MethodHandles;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The table of worker kinds and the method tables they build. */
class WorkerKindsTest {

    @Test
    void shouldListTheKindsAndNameThemForAnUnknownOne() {
        assertEquals(List.of("collective", "echo", "rlhf"), WorkerKinds.names());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorkerKinds.of("rlhf2"));
        assertEquals("unknown worker kind: kind=rlhf2, expected one of [collective, echo, rlhf]", e.getMessage());
    }

    @Test
    void shouldBuildTheEchoKindWithoutAWorld() throws Throwable {
        WorkerMethods methods = WorkerKinds.of("echo").methods(2, null);
        assertEquals(List.of("echo", "ping"), methods.names().stream().sorted().toList());
        assertEquals("ONE_TO_ALL", methods.dispatchMode("ping"));
        assertEquals(Map.of("rank", 2, "pid", ProcessHandle.current().pid()), methods.invoke("ping", List.of()));
        assertEquals(List.of("a", 1L), methods.invoke("echo", List.of(List.of("a", 1L))));
    }

    @Test
    void shouldRefuseTheCollectiveKindWithoutAWorld() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorkerKinds.of("collective").methods(0, null));
        assertEquals("worker kind needs a world communicator: kind=collective, expected --world shm", e.getMessage());
    }

    @Test
    void shouldAllReduceOverTheWorldInTheCollectiveKind() throws Exception {
        try (InProcessWorld world = InProcessWorld.create(2)) {
            WorkerMethods rank0 = WorkerKinds.of("collective").methods(0, world.communicator(0));
            WorkerMethods rank1 = WorkerKinds.of("collective").methods(1, world.communicator(1));
            // an error that is not from a lost peer is reported at once (here: bad arguments, below)
            CompletableFuture<Object> other = CompletableFuture.supplyAsync(() -> {
                try {
                    return rank1.invoke("allReduceSum", List.of(new float[] {10f, 20f}));
                } catch (Throwable t) {
                    throw new IllegalStateException(t);
                }
            });
            float[] mine = (float[]) invoke(rank0, "allReduceSum", new float[] {1f, 2f});
            assertEquals(List.of(11f, 22f), List.of(mine[0], mine[1]));
            float[] theirs = (float[]) other.get();
            assertEquals(List.of(11f, 22f), List.of(theirs[0], theirs[1]));

            // rank r contributes r + 1: every element of every result is 1 + 2 = 3, checked inside
            CompletableFuture<Object> loop1 = CompletableFuture.supplyAsync(() -> invoke(rank1, "allReduceLoop", 4, 8));
            assertEquals(4, invoke(rank0, "allReduceLoop", 4, 8));
            assertEquals(4, loop1.get());
            assertEquals("", invoke(rank0, "lastFailure"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> rank0.invoke("allReduceLoop", List.of(0, 8)));
            assertEquals("iterations and count must be positive: iterations=0, count=8", e.getMessage());
        }
    }

    @Test
    void shouldHoldTheErrorOfACallThatLostAPeerUntilTheWorkerAbortsIt() throws Exception {
        try (InProcessWorld world = InProcessWorld.create(2)) {
            WorkerMethods rank0 = WorkerKinds.of("collective").methods(0, world.communicator(0),
                    TimeUnit.HOURS.toNanos(1));
            world.communicator(0).abort();
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            Thread caller = new Thread(() -> {
                try {
                    rank0.invoke("allReduceSum", List.of((Object) new float[] {1f}));
                    failure.complete(null);
                } catch (Throwable t) {
                    failure.complete(t);
                }
            });
            caller.start();
            // the all-reduce failed at once (aborted); the error waits for the controller's verdict
            while (caller.getState() != Thread.State.TIMED_WAITING) {
                Thread.onSpinWait();
            }
            assertFalse(failure.isDone());
            caller.interrupt(); // what the worker runtime does when the controller aborts its calls
            assertInstanceOf(CommunicatorAbortedException.class, failure.get(60, TimeUnit.SECONDS));
        }
    }

    @Test
    void shouldRejectANegativePeerLossWait() {
        try (InProcessWorld world = InProcessWorld.create(1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> WorkerKinds.of("collective").methods(0, world.communicator(0), -1));
            assertEquals("peer loss wait must be non-negative: peerLossWaitNs=-1", e.getMessage());
        }
    }

    @Test
    void shouldRejectABadKindName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new WorkerKind("Echo", "x",
                false, (rank, world, registrar) -> new Object(), MethodHandles.lookup()));
        assertEquals("worker kind name must be lower-case letters, digits and '-': name=Echo", e.getMessage());
    }

    private static Object invoke(WorkerMethods methods, String name, Object... args) {
        try {
            return methods.invoke(name, List.of(args));
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
