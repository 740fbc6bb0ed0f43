package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * Data by reference through the control plane: two "actor" workers produce 1 KiB rows, two "critic" workers consume
 * them (each pulls from an actor's store); the controller only carries references.
 */
class ReferenceEndToEndTest {

    static final int ROW_FLOATS = 256;

    static final class Methods {
        final int rank;
        final Allocator allocator;

        Methods(int rank, Allocator allocator) {
            this.rank = rank;
            this.allocator = allocator;
        }

        /** {@code rows} rows of 256 floats, row {@code i} of worker {@code r} holding {@code r * rows + i + j}. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        DataBatch produce(int rows) {
            Tensor logp = Tensor.allocate(allocator, DType.F32, Shape.of(rows, ROW_FLOATS), Device.host());
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < ROW_FLOATS; j++) {
                    logp.setDouble(rank * rows + i + j, i, j);
                }
            }
            return DataBatch.builder(allocator).tensor("logp", logp).build();
        }

        @WorkerMethod(dispatch = "DP_COMPUTE_METRIC")
        double sum(DataBatch batch) {
            Tensor logp = batch.tensor("logp");
            double total = 0;
            for (int i = 0; i < batch.length(); i++) {
                for (int j = 0; j < ROW_FLOATS; j++) {
                    total += logp.getDouble(i, j);
                }
            }
            return total;
        }

        /** The whole batch to every worker: each region of it is pulled once per worker. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        double sumAll(DataBatch batch) {
            if (rank == 1) {
                SUMMED.countDown();
            }
            return sum(batch);
        }

        /** Holds worker 0's call thread until {@link #RELEASE} opens, so its later calls wait. */
        @WorkerMethod(dispatch = "RANK_ZERO")
        int hold() throws InterruptedException {
            HELD.countDown();
            RELEASE.await();
            return 0;
        }
    }

    static CountDownLatch HELD = new CountDownLatch(1);
    static CountDownLatch RELEASE = new CountDownLatch(1);
    static CountDownLatch SUMMED = new CountDownLatch(1);

    /** Sum of chunk {@code k} of {@code rows} rows: {@code sum_i sum_j (k * rows + i + j)}. */
    static double chunkSum(int k, int rows) {
        return ROW_FLOATS * ((double) k * rows * rows + rows * (rows - 1) / 2.0)
                + rows * (ROW_FLOATS * (ROW_FLOATS - 1) / 2.0);
    }

    private static final class Cluster implements AutoCloseable {
        final Allocator controllerAllocator = Allocator.root("ref-controller");
        final List<Allocator> allocators = new ArrayList<>();
        final ControlPlane plane;
        final List<Worker> workers = new ArrayList<>();
        final WorkerGroup actor;
        final WorkerGroup critic;

        Cluster(long inlineLimitBytes) {
            plane = ControlPlane.launch(TestWorkers.context().allocator(controllerAllocator)
                    .threading(ControlPlane.Threading.INVOKER));
            for (int w = 0; w < 4; w++) {
                Allocator a = Allocator.root("ref-worker-" + w);
                allocators.add(a);
                workers.add(Worker.start(new Worker.Context().workerId(300 + w).rank(w % 2)
                        .roles(List.of(w < 2 ? "actor" : "critic")).allocator(a).inlineLimitBytes(inlineLimitBytes)
                        .methods(WorkerMethods.annotated(new Methods(w % 2, a), MethodHandles.lookup()))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            actor = plane.group("actor", 2, TestWorkers.GROUP_TIMEOUT_NS);
            critic = plane.group("critic", 2, TestWorkers.GROUP_TIMEOUT_NS);
        }

        /** One step: produce on the actors, sum on the critics; returns the controller's payload bytes. */
        long step(long step, int rowsPerWorker) {
            plane.step(step);
            long before = plane.payloadStats().totalBytes();
            List<?> produced = (List<?>) actor.call("produce", rowsPerWorker);
            List<DataBatch> batches = new ArrayList<>();
            for (Object p : produced) {
                batches.add((DataBatch) p);
            }
            try (DataBatch all = DataBatch.concat(batches)) {
                assertEquals(List.of(chunkSum(0, rowsPerWorker), chunkSum(1, rowsPerWorker)),
                        critic.call("sum", all));
            } finally {
                for (DataBatch b : batches) {
                    b.close();
                }
            }
            assertEquals(List.of(), actor.endStep(step));
            return plane.payloadStats().totalBytes() - before;
        }

        /** Waits until every actor's allocator holds {@code bytes} (its results are closed after they are sent). */
        void awaitActorBytes(long bytes) {
            for (int w = 0; w < 2; w++) {
                Allocator a = allocators.get(w);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (a.allocatedBytes() != bytes && System.nanoTime() - deadline < 0) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                }
                assertEquals(bytes, a.allocatedBytes(), a.toString());
            }
        }

        DataBatch produced(int rowsPerWorker) {
            List<?> produced = (List<?>) actor.call("produce", rowsPerWorker);
            List<DataBatch> batches = new ArrayList<>();
            for (Object p : produced) {
                batches.add((DataBatch) p);
            }
            try {
                return DataBatch.concat(batches);
            } finally {
                for (DataBatch b : batches) {
                    b.close();
                }
            }
        }

        @Override
        public void close() {
            for (Worker w : workers) {
                w.close();
            }
            plane.close();
            for (Allocator a : allocators) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (a.allocatedBytes() != 0 && System.nanoTime() - deadline < 0) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                }
                assertEquals(0, a.allocatedBytes(), a.toString());
                a.close();
            }
            assertEquals(0, controllerAllocator.allocatedBytes());
            controllerAllocator.close();
        }
    }

    @Test
    void shouldKeepControllerBytesPerStepFlatInBatchSizeWithReferences() {
        try (Cluster cluster = new Cluster(TensorRef.DEFAULT_INLINE_LIMIT_BYTES)) {
            long small = cluster.step(1, 128);
            long large = cluster.step(2, 1024);
            assertEquals(small, large);
            // 2 MiB of rows passed through the step; the controller handled a few hundred bytes of references
            assertTrue(large < 4096, "bytes=" + large);
        }
    }

    @Test
    void shouldGrowControllerBytesWithBatchSizeInline() {
        try (Cluster cluster = new Cluster(Long.MAX_VALUE)) {
            long small = cluster.step(1, 8);
            long large = cluster.step(2, 16);
            // each of the 16 extra rows (1 KiB) crosses the controller twice: as a result and as an argument
            assertTrue(large - small >= 2 * 16 * ROW_FLOATS * Float.BYTES, "small=" + small + ", large=" + large);
        }
    }

    @Test
    void shouldReportReferencesNoConsumerPulledWhenTheStepEnds() {
        try (Cluster cluster = new Cluster(TensorRef.DEFAULT_INLINE_LIMIT_BYTES)) {
            cluster.plane.step(7);
            List<?> produced = (List<?>) cluster.actor.call("produce", 128);
            for (int w = 0; w < 2; w++) {
                DataBatch batch = assertInstanceOf(DataBatch.class, produced.get(w));
                assertEquals(List.of(), List.copyOf(batch.tensorKeys()));
                // row 1 of worker w's region 0: 256 floats at byte offset 1024
                assertEquals(new TensorRef(300 + w, 0, 1024, DType.F32, Shape.of(ROW_FLOATS)),
                        batch.column("logp").get(1));
                batch.close();
            }
            assertEquals(List.of("logp(step=7, owner=300, region=0, bytes=131072, pulled=0/?)",
                    "logp(step=7, owner=301, region=0, bytes=131072, pulled=0/?)"), cluster.actor.endStep(7));
            assertEquals(List.of(), cluster.actor.endStep(7));
        }
    }

    @Test
    void shouldFreeEachRegionWhenItsLastConsumerHasPulledItNotAtStepEnd() {
        try (Cluster cluster = new Cluster(TensorRef.DEFAULT_INLINE_LIMIT_BYTES)) {
            cluster.plane.step(3);
            try (DataBatch all = cluster.produced(128)) {
                // each actor keeps exactly its region: 128 rows x 1 KiB
                cluster.awaitActorBytes(128 * 1024);
                double total = chunkSum(0, 128) + chunkSum(1, 128);
                // ONE_TO_ALL: both critics pull both regions, 2 pulls per region; the second frees it
                assertEquals(List.of(total, total), cluster.critic.call("sumAll", all));
                cluster.awaitActorBytes(0);
            }
            assertEquals(List.of(), cluster.actor.endStep(3));
        }
    }

    @Test
    void shouldKeepRegionsForALaterCallWhenTheBatchSaysKeep() {
        try (Cluster cluster = new Cluster(TensorRef.DEFAULT_INLINE_LIMIT_BYTES)) {
            cluster.plane.step(4);
            try (DataBatch all = cluster.produced(128);
                 DataBatch kept = all.withMetadata(ReferenceColumn.KEEP_KEY, true)) {
                List<Double> sums = List.of(chunkSum(0, 128), chunkSum(1, 128));
                assertEquals(sums, cluster.critic.call("sum", kept));
                cluster.awaitActorBytes(128 * 1024);
                assertEquals(sums, cluster.critic.call("sum", all));
                cluster.awaitActorBytes(0);
            }
            assertEquals(List.of(), cluster.actor.endStep(4));
        }
    }

    @Test
    void shouldReportARegionAConsumerNeverPulledAndFailThatConsumerLater() throws Exception {
        HELD = new CountDownLatch(1);
        RELEASE = new CountDownLatch(1);
        SUMMED = new CountDownLatch(1);
        try (Cluster cluster = new Cluster(TensorRef.DEFAULT_INLINE_LIMIT_BYTES)) {
            cluster.plane.step(5);
            CompletableFuture<Object> held = cluster.critic.callAsync("hold");
            assertTrue(HELD.await(30, TimeUnit.SECONDS));
            CompletableFuture<Object> sums;
            try (DataBatch all = cluster.produced(128)) {
                // critic 1 pulls both regions at once; critic 0 is held, so it has not pulled yet
                sums = cluster.critic.callAsync("sumAll", all);
                assertTrue(SUMMED.await(30, TimeUnit.SECONDS));
                cluster.awaitActorBytes(128 * 1024);
                assertEquals(List.of("logp(step=5, owner=300, region=0, bytes=131072, pulled=1/2)",
                        "logp(step=5, owner=301, region=0, bytes=131072, pulled=1/2)"), cluster.actor.endStep(5));
                cluster.awaitActorBytes(0);
            } finally {
                RELEASE.countDown();
            }
            assertEquals(0, held.get(30, TimeUnit.SECONDS));
            ExecutionException failed = assertThrows(ExecutionException.class, () -> sums.get(30, TimeUnit.SECONDS));
            assertEquals("worker call failed: group=critic, method=sumAll, rank=0, type="
                    + IllegalArgumentException.class.getName() + ", message=referenced region is gone: ownerRank=300, "
                    + "run=" + new ReferenceColumn.Run(300, 0, 0, 1024, 128, DType.F32, Shape.of(ROW_FLOATS)),
                    failed.getCause().getMessage());
        }
    }
}
