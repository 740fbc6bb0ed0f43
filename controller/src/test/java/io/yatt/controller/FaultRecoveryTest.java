package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Faults: a lost worker's peers are released from their collectives; a worker notices a controller that stalled. */
class FaultRecoveryTest {

    static final class Methods {
        final int rank;
        final Communicator communicator;
        final CountDownLatch entered = new CountDownLatch(1);
        final CompletableFuture<Throwable> collectiveFailure = new CompletableFuture<>();

        Methods(int rank, Communicator communicator) {
            this.rank = rank;
            this.communicator = communicator;
        }

        /** Rank 0 enters an all-reduce; rank 1 never does (it will be lost first). */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int reduce() throws InterruptedException {
            entered.countDown();
            if (rank == 1) {
                new CountDownLatch(1).await();
            }
            try (Allocator a = Allocator.root("fault-" + rank);
                 Tensor t = Tensor.allocate(a, DType.F32, Shape.of(4), Device.host())) {
                communicator.allReduce(t, ReduceOp.SUM);
            } catch (RuntimeException e) {
                collectiveFailure.complete(e);
                throw e;
            }
            return rank;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        int rank() {
            return rank;
        }
    }

    private static Worker.Context worker(ControlPlane plane, int rank, Methods methods) {
        return new Worker.Context().workerId(600 + rank).rank(rank).roles(List.of("actor"))
                .methods(WorkerMethods.annotated(methods, MethodHandles.lookup())).controller(plane.endpoint())
                .externalDriverDirectory(plane.driverDirectory()).pid(7000 + rank).host("host-" + rank);
    }

    @Test
    void shouldAbortTheCollectivesOfALostWorkersPeersAndAcceptAReplacement() throws Exception {
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context()
                .heartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(50))
                .heartbeatTimeoutNs(TimeUnit.MILLISECONDS.toNanos(1000)).threading(ControlPlane.Threading.INVOKER));
        List<Worker> workers = new ArrayList<>();
        try (InProcessWorld world = InProcessWorld.create(2)) {
            Methods m0 = new Methods(0, world.communicator(0));
            Methods m1 = new Methods(1, world.communicator(1));
            workers.add(Worker.start(worker(plane, 0, m0).communicators(List.of(world.communicator(0)))));
            workers.add(Worker.start(worker(plane, 1, m1).communicators(List.of(world.communicator(1)))));
            WorkerGroup group = plane.group("actor", 2, TestWorkers.GROUP_TIMEOUT_NS);
            CompletableFuture<Object> call = group.callAsync("reduce");
            m0.entered.await();
            m1.entered.await();
            workers.get(1).close();

            ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(60, TimeUnit.SECONDS));
            WorkerLostException lost = assertInstanceOf(WorkerLostException.class, e.getCause());
            assertEquals(1, lost.rank());
            // rank 0 was waiting in the all-reduce for the lost rank 1: the abort released it
            Throwable released = m0.collectiveFailure.get(60, TimeUnit.SECONDS);
            assertInstanceOf(CommunicatorAbortedException.class, released);

            // the caller resumes: a replacement registers under the lost worker's id and rank, a new group forms
            workers.add(Worker.start(worker(plane, 1, new Methods(1, null))));
            WorkerGroup resumed = plane.group("actor", 2, TestWorkers.GROUP_TIMEOUT_NS);
            assertEquals(List.of(0, 1), resumed.call("rank"));
        } finally {
            for (Worker w : workers) {
                try {
                    w.close();
                } catch (IllegalStateException alreadyClosed) {
                    // the lost worker
                }
            }
            plane.close();
        }
    }

    @Test
    void shouldStopAWorkerWhoseControllerFellSilent() throws Exception {
        CountDownLatch workerStopped = new CountDownLatch(1);
        // the worker answers only after callAsync returned, so collect runs on the controller agent's thread
        CountDownLatch callReturned = new CountDownLatch(1);
        ControlPlane plane = ControlPlane.launch(TestWorkers.context()
                .dispatch(TestWorkers.stallingCollect(new CountDownLatch(1), workerStopped))
                .threading(ControlPlane.Threading.INVOKER));
        try {
            Worker.Context ctx = new Worker.Context().workerId(700).rank(0).roles(List.of("actor"))
                    .methods(WorkerMethods.builder()
                            .method("stall", "STALL_COLLECT", TestWorkers.stallMethod(callReturned)).build())
                    .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())
                    .controllerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(1000));
            try (Worker worker = Worker.start(ctx)) {
                CompletableFuture<Object> call = plane.group("actor", 1, TestWorkers.GROUP_TIMEOUT_NS)
                        .callAsync("stall");
                callReturned.countDown();
                String reason = worker.awaitShutdown();
                workerStopped.countDown();
                assertTrue(reason.matches("controller lost: controllerId=-?\\d+, lastHeartbeatAgeMs=\\d+,"
                        + " timeoutMs=1000"), reason);
                assertEquals(java.util.Collections.singletonList(null), call.get(60, TimeUnit.SECONDS));
            }
        } finally {
            plane.close();
        }
    }
}
