package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.InProcessWorld;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * A cancel reaches a method that runs: its thread is interrupted, the call fails with the worker's answer, and the
 * worker serves the next call; whatever the method still returns is dropped and freed. A cancel goes to every rank of
 * the call, so no rank waits in a collective for a peer that left.
 */
class CancelRunningCallTest {

    private static final long BOUND_S = 30;

    static final class Methods {
        final int rank;
        final Allocator allocator;
        final Communicator communicator;
        /** Released each time a blocking method starts. */
        final Semaphore starts = new Semaphore(0);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger interrupts = new AtomicInteger();
        final AtomicInteger finished = new AtomicInteger();
        final AtomicReference<Throwable> collectiveFailure = new AtomicReference<>();

        Methods(int rank, Allocator allocator, Communicator communicator) {
            this.rank = rank;
            this.allocator = allocator;
            this.communicator = communicator;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int rank() {
            return rank;
        }

        /** Waits for the release, interruptibly. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int awaitRelease() throws InterruptedException {
            starts.release();
            try {
                release.await();
            } catch (InterruptedException e) {
                interrupts.incrementAndGet();
                throw e;
            }
            return rank;
        }

        /** Waits for the release whatever interrupts it, then returns a batch the runtime must free. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        DataBatch ignoreInterrupts() {
            starts.release();
            while (true) {
                try {
                    release.await();
                    break;
                } catch (InterruptedException e) {
                    interrupts.incrementAndGet();
                }
            }
            if (Thread.interrupted()) {
                // the interrupt came while the release was already granted: await returned with it set
                interrupts.incrementAndGet();
            }
            finished.incrementAndGet();
            Tensor t = Tensor.allocate(allocator, DType.F32, Shape.of(4), Device.host());
            return DataBatch.builder(allocator).tensor("x", t).build();
        }

        /** Rank 0 waits for the release before the all-reduce; rank 1 waits for rank 0 inside it. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int reduceAfterRelease() throws InterruptedException {
            starts.release();
            if (rank == 0) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    interrupts.incrementAndGet();
                    throw e;
                }
            }
            try (Tensor buf = Tensor.allocate(allocator, DType.F32, Shape.of(1), Device.host())) {
                communicator.allReduce(buf, ReduceOp.SUM);
            } catch (RuntimeException e) {
                collectiveFailure.set(e);
                throw e;
            }
            return rank;
        }
    }

    /** A plane and {@code size} workers serving {@link Methods}, each with its own allocator. */
    private static final class Cluster implements AutoCloseable {
        final ControlPlane plane = ControlPlane.launch(TestWorkers.context()
                .threading(ControlPlane.Threading.INVOKER));
        final InProcessWorld world;
        final List<Worker> workers = new ArrayList<>();
        final List<Methods> methods = new ArrayList<>();
        final List<Allocator> allocators = new ArrayList<>();
        final WorkerGroup group;

        Cluster(int size) {
            world = InProcessWorld.create(size, new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(300)));
            for (int rank = 0; rank < size; rank++) {
                Allocator a = Allocator.root("cancel-worker-" + rank);
                allocators.add(a);
                Methods m = new Methods(rank, a, world.communicator(rank));
                methods.add(m);
                workers.add(Worker.start(new Worker.Context().workerId(400 + rank).rank(rank)
                        .roles(List.of("actor")).allocator(a)
                        .methods(WorkerMethods.annotated(m, MethodHandles.lookup())).controller(plane.endpoint())
                        .externalDriverDirectory(plane.driverDirectory())));
            }
            group = plane.group("actor", size, TestWorkers.GROUP_TIMEOUT_NS);
        }

        @Override
        public void close() {
            for (Methods m : methods) {
                m.release.countDown();
            }
            for (Worker w : workers) {
                w.close();
            }
            plane.close();
            world.close();
            for (Allocator a : allocators) {
                awaitEmpty(a);
                a.close();
            }
        }
    }

    /** Workers free a dropped result on their calls thread, after the call has been answered: wait until they have. */
    private static void awaitEmpty(Allocator allocator) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
        while (allocator.allocatedBytes() != 0 && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        assertEquals(0, allocator.allocatedBytes(), allocator.toString());
    }

    /** What {@code call} failed with (unwrapped from the completion exception of a dependent stage). */
    private static Throwable failureOf(CompletableFuture<?> call) throws Exception {
        Throwable e = call.handle((v, failure) -> failure).get(BOUND_S, TimeUnit.SECONDS);
        assertNotNull(e, "the call completed");
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    @Test
    void shouldInterruptRunningMethodAndFailCallWithWorkersAnswer() throws Exception {
        try (Cluster cluster = new Cluster(1)) {
            cluster.plane.step(7);
            CompletableFuture<Object> call = cluster.group.callAsync("awaitRelease");
            cluster.methods.get(0).starts.acquire();
            assertTrue(cluster.group.cancel(call));
            Throwable cause = failureOf(call);
            assertInstanceOf(CancellationException.class, cause);
            assertEquals("worker call cancelled: group=actor, method=awaitRelease, rank=0, message=cancelled while "
                    + "running: method=awaitRelease, step=7", cause.getMessage());
            assertFalse(cluster.group.cancel(call));
            // still registered, and its calls thread is free for the next call
            assertEquals(List.of(0), cluster.group.callAsync("rank").get(BOUND_S, TimeUnit.SECONDS));
            assertEquals(1, cluster.methods.get(0).interrupts.get());
            assertEquals(new FrameStats(0, 0, 0), cluster.plane.stats());
        }
    }

    @Test
    void shouldInterruptRunningMethodWhenFutureIsCancelled() throws Exception {
        try (Cluster cluster = new Cluster(1)) {
            CompletableFuture<Object> call = cluster.group.callAsync("awaitRelease");
            cluster.methods.get(0).starts.acquire();
            assertTrue(call.cancel(true));
            // queued behind the cancelled method: answered only if the cancel stopped it
            assertEquals(List.of(0), cluster.group.callAsync("rank").get(BOUND_S, TimeUnit.SECONDS));
            assertEquals(1, cluster.methods.get(0).interrupts.get());
        }
    }

    @Test
    void shouldDropLateResultOfMethodThatIgnoresInterrupt() throws Exception {
        try (Cluster cluster = new Cluster(1)) {
            Methods worker = cluster.methods.get(0);
            CompletableFuture<Object> call = cluster.group.callAsync("ignoreInterrupts");
            worker.starts.acquire();
            assertTrue(cluster.group.cancel(call));
            assertEquals("worker call cancelled: group=actor, method=ignoreInterrupts, rank=0, message=cancelled "
                    + "while running: method=ignoreInterrupts, step=0", failureOf(call).getMessage());
            CompletableFuture<Object> next = cluster.group.callAsync("rank");
            worker.release.countDown();
            assertEquals(List.of(0), next.get(BOUND_S, TimeUnit.SECONDS));
            assertEquals(1, worker.finished.get());
            assertEquals(1, worker.interrupts.get());
            // a result sent after the error would have reached the controller first and been dropped there
            assertEquals(new FrameStats(0, 0, 0), cluster.plane.stats());
            awaitEmpty(worker.allocator);
        }
    }

    @Test
    void shouldCancelEveryRankSoNoPeerWaitsInCollective() throws Exception {
        try (Cluster cluster = new Cluster(2)) {
            CompletableFuture<Object> call = cluster.group.callAsync("reduceAfterRelease");
            cluster.methods.get(0).starts.acquire();
            cluster.methods.get(1).starts.acquire();
            assertTrue(cluster.group.cancel(call));
            Throwable cause = failureOf(call);
            assertInstanceOf(CancellationException.class, cause);
            assertTrue(Set.of(
                    "worker call cancelled: group=actor, method=reduceAfterRelease, rank=0, message=cancelled while "
                            + "running: method=reduceAfterRelease, step=0",
                    "worker call cancelled: group=actor, method=reduceAfterRelease, rank=1, message=cancelled while "
                            + "running: method=reduceAfterRelease, step=0").contains(cause.getMessage()),
                    cause.getMessage());
            // both calls threads are free: neither rank is left in the all-reduce
            assertEquals(List.of(0, 1), cluster.group.callAsync("rank").get(BOUND_S, TimeUnit.SECONDS));
            assertEquals(1, cluster.methods.get(0).interrupts.get());
            assertInstanceOf(CommunicatorAbortedException.class, cluster.methods.get(1).collectiveFailure.get());
        }
    }

    @Test
    void shouldThrowAbortFromBlockingCall() throws Exception {
        try (Cluster cluster = new Cluster(1)) {
            CompletableFuture<Throwable> thrown = new CompletableFuture<>();
            Thread caller = new Thread(() -> {
                try {
                    cluster.group.call("awaitRelease");
                    thrown.complete(null);
                } catch (RuntimeException e) {
                    thrown.complete(e);
                }
            });
            caller.start();
            cluster.methods.get(0).starts.acquire();
            cluster.plane.abort("operator");
            Throwable e = thrown.get(BOUND_S, TimeUnit.SECONDS);
            assertInstanceOf(CancellationException.class, e);
            assertEquals("aborted: reason=operator", e.getMessage());
            caller.join();
        }
    }

    /** The interruptible method through a typed proxy. */
    interface Waiter {
        CompletableFuture<List<Integer>> awaitRelease();
    }

    @Test
    void shouldCancelCallsMadeThroughProxy() throws Exception {
        try (Cluster cluster = new Cluster(1)) {
            Waiter waiter = cluster.group.proxy(Waiter.class);
            CompletableFuture<List<Integer>> call = waiter.awaitRelease();
            cluster.methods.get(0).starts.acquire();
            assertTrue(cluster.group.cancel(call));
            assertEquals("worker call cancelled: group=actor, method=awaitRelease, rank=0, message=cancelled while "
                    + "running: method=awaitRelease, step=0", failureOf(call).getMessage());
            CompletableFuture<List<Integer>> again = waiter.awaitRelease();
            cluster.methods.get(0).starts.acquire();
            assertTrue(again.cancel(true));
            assertEquals(List.of(0), cluster.group.callAsync("rank").get(BOUND_S, TimeUnit.SECONDS));
            assertEquals(2, cluster.methods.get(0).interrupts.get());
        }
    }

    @Test
    void shouldDropCallStillWaitingForItsInput() throws Exception {
        try (Cluster cluster = new Cluster(1)) {
            CompletableFuture<Object> call = cluster.group.callAsync("rank", new CompletableFuture<Integer>());
            assertTrue(cluster.group.cancel(call));
            Throwable cause = failureOf(call);
            assertInstanceOf(CancellationException.class, cause);
            assertEquals("call cancelled before its input: group=actor, method=rank", cause.getMessage());
            assertEquals(List.of(0), cluster.group.callAsync("rank").get(BOUND_S, TimeUnit.SECONDS));
        }
    }
}
