package io.yatt.controller;

import static io.yatt.controller.DataBatchTest.ids;
import static io.yatt.controller.DataBatchTest.samples;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every built-in dispatch mode end to end: DataBatch arguments and results through Aeron ipc to four workers running
 * as threads (mesh "actor": workers 0, 1 are DP rank 0 with collect worker 0; workers 2, 3 are DP rank 1 with collect
 * worker 3). Every allocator is empty after the calls: the runtime closes what it owns.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DispatchEndToEndTest {

    static final class Methods {
        final int rank;
        final Allocator allocator;

        Methods(int rank, Allocator allocator) {
            this.rank = rank;
            this.allocator = allocator;
        }

        /** A batch built from scratch: the input's ids and this worker's rank per row. */
        private DataBatch tagged(DataBatch in) {
            Tensor id = Tensor.allocate(allocator, DType.I64, Shape.of(in.length()), Device.host());
            List<Object> worker = new ArrayList<>();
            for (int i = 0; i < in.length(); i++) {
                id.setDouble(in.tensor("id").getDouble(i), i);
                worker.add(rank);
            }
            return DataBatch.builder(allocator).tensor("id", id).column("worker", worker).build();
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        DataBatch tagOneToAll(DataBatch in) {
            return tagged(in);
        }

        @WorkerMethod(dispatch = "ALL_TO_ALL")
        DataBatch tagAllToAll(DataBatch in) {
            return tagged(in);
        }

        @WorkerMethod(dispatch = "DP_COMPUTE")
        DataBatch tagDpCompute(DataBatch in) {
            return tagged(in);
        }

        @WorkerMethod(dispatch = "DP_COMPUTE_PROTO")
        DataBatch tagProto(DataBatch in) {
            return tagged(in);
        }

        @WorkerMethod(dispatch = "DP_COMPUTE_PROTO")
        DataBatch identityProto(DataBatch in) {
            return in;
        }

        @WorkerMethod(dispatch = "DP_COMPUTE_METRIC")
        double idSum(DataBatch in) {
            double sum = 0;
            for (int i = 0; i < in.length(); i++) {
                sum += in.tensor("id").getDouble(i);
            }
            return sum;
        }

        @WorkerMethod(dispatch = "RANK_ZERO")
        DataBatch tagRankZero(DataBatch in) {
            return tagged(in);
        }

        @WorkerMethod(dispatch = "MESH(actor)")
        DataBatch tagMesh(DataBatch in) {
            return tagged(in);
        }
    }

    private Allocator controllerAllocator;
    private final List<Allocator> workerAllocators = new ArrayList<>();
    private ControlPlane plane;
    private final List<Worker> workers = new ArrayList<>();
    private WorkerGroup group;
    private Allocator callerAllocator;

    @BeforeAll
    void start() {
        controllerAllocator = Allocator.root("e2e-controller");
        callerAllocator = Allocator.root("e2e-caller");
        plane = ControlPlane.launch(TestWorkers.context().allocator(controllerAllocator)
                .threading(ControlPlane.Threading.INVOKER));
        for (int rank = 0; rank < 4; rank++) {
            Allocator a = Allocator.root("e2e-worker-" + rank);
            workerAllocators.add(a);
            Map<String, GroupTopology.MeshRank> meshes = Map.of("actor",
                    new GroupTopology.MeshRank(rank / 2, 2, rank == 0 || rank == 3));
            workers.add(Worker.start(new Worker.Context().workerId(200 + rank).rank(rank).roles(List.of("actor"))
                    .meshes(meshes).allocator(a)
                    .methods(WorkerMethods.annotated(new Methods(rank, a), MethodHandles.lookup()))
                    .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
        }
        group = plane.group("actor", 4, TestWorkers.GROUP_TIMEOUT_NS);
    }

    @AfterAll
    void stop() {
        for (Worker w : workers) {
            w.close();
        }
        plane.close();
        for (Allocator a : workerAllocators) {
            awaitEmpty(a);
            a.close();
        }
        controllerAllocator.close();
        callerAllocator.close();
    }

    /** Workers close their arguments and results right after sending: wait until they have. */
    private static void awaitEmpty(Allocator allocator) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (allocator.allocatedBytes() != 0 && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        assertEquals(0, allocator.allocatedBytes(), allocator.toString());
    }

    private static List<Integer> idsOf(DataBatch batch) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < batch.length(); i++) {
            ids.add((int) batch.tensor("id").getDouble(i));
        }
        return ids;
    }

    private static List<Object> workersOf(DataBatch batch) {
        return batch.column("worker");
    }

    /** Closes the batches of a list result and checks that the controller's allocator is empty afterwards. */
    private void closeAll(List<?> results) {
        for (Object r : results) {
            ((DataBatch) r).close();
        }
        assertEquals(0, controllerAllocator.allocatedBytes());
    }

    @Test
    void shouldSendTheWholeBatchToEveryWorkerForOneToAll() {
        try (DataBatch batch = samples(callerAllocator, 0, 4)) {
            List<?> results = (List<?>) group.call("tagOneToAll", batch);
            assertEquals(4, results.size());
            for (int w = 0; w < 4; w++) {
                DataBatch r = (DataBatch) results.get(w);
                assertEquals(List.of(0, 1, 2, 3), idsOf(r));
                assertEquals(List.of(w, w, w, w), workersOf(r));
            }
            closeAll(results);
        }
    }

    @Test
    void shouldSendElementIOfTheListToWorkerIForAllToAllAndDpCompute() {
        for (String method : List.of("tagAllToAll", "tagDpCompute")) {
            List<DataBatch> perWorker = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                perWorker.add(samples(callerAllocator, 10 * w, w + 1));
            }
            List<?> results = (List<?>) group.call(method, perWorker);
            for (int w = 0; w < 4; w++) {
                DataBatch r = (DataBatch) results.get(w);
                List<Integer> expected = new ArrayList<>();
                for (int i = 0; i < w + 1; i++) {
                    expected.add(10 * w + i);
                }
                assertEquals(expected, idsOf(r), method);
                assertEquals(java.util.Collections.nCopies(w + 1, w), workersOf(r), method);
            }
            closeAll(results);
            for (DataBatch b : perWorker) {
                b.close();
            }
        }
    }

    @Test
    void shouldPadChunkConcatenateAndUnpadForDpComputeProtoWithResultsBuiltFromScratch() {
        try (DataBatch batch = samples(callerAllocator, 0, 10);
             DataBatch r = (DataBatch) group.call("tagProto", batch)) {
            // 10 rows padded to 12, chunks of 3: w3 gets [9 0 1], whose last two rows are the padding
            assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), idsOf(r));
            assertEquals(List.of(0, 0, 0, 1, 1, 1, 2, 2, 2, 3), workersOf(r));
            assertFalse(r.metadata().containsKey(DispatchModes.PAD_SIZE_KEY));
        }
        assertEquals(0, controllerAllocator.allocatedBytes());
    }

    @Test
    void shouldCloseAnInputReturnedAsTheResultOnce() {
        try (DataBatch batch = samples(callerAllocator, 0, 10);
             DataBatch r = (DataBatch) group.call("identityProto", batch)) {
            assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), ids(r));
            assertEquals(Map.of("temperature", 1.0), r.metadata());
        }
        // a second call still works: no worker failed on a double close
        try (DataBatch batch = samples(callerAllocator, 20, 4);
             DataBatch r = (DataBatch) group.call("identityProto", batch)) {
            assertEquals(List.of(20, 21, 22, 23), ids(r));
        }
    }

    @Test
    void shouldReturnPerWorkerMetricsIncludingPaddingForDpComputeMetric() {
        try (DataBatch batch = samples(callerAllocator, 0, 10)) {
            // chunks [0 1 2] [3 4 5] [6 7 8] [9 0 1]
            assertEquals(List.of(3.0, 12.0, 21.0, 10.0), group.call("idSum", batch));
        }
        assertEquals(0, controllerAllocator.allocatedBytes());
    }

    @Test
    void shouldCallOnlyRankZeroForRankZero() {
        try (DataBatch batch = samples(callerAllocator, 5, 3);
             DataBatch r = (DataBatch) group.call("tagRankZero", batch)) {
            assertEquals(List.of(5, 6, 7), idsOf(r));
            assertEquals(List.of(0, 0, 0), workersOf(r));
        }
    }

    @Test
    void shouldChunkByRegisteredDpRankAndCollectFromCollectWorkersForMesh() {
        assertEquals(new GroupTopology.MeshRank(1, 2, true), group.topology().workers().get(3).meshes().get("actor"));
        try (DataBatch batch = samples(callerAllocator, 0, 6);
             DataBatch r = (DataBatch) group.call("tagMesh", batch)) {
            assertEquals(List.of(0, 1, 2, 3, 4, 5), idsOf(r));
            assertEquals(List.of(0, 0, 0, 3, 3, 3), workersOf(r));
        }
        assertEquals(0, controllerAllocator.allocatedBytes());
    }

    @Test
    void shouldFailMeshCallWhoseLengthDoesNotDivideTheDpSize() {
        try (DataBatch batch = samples(callerAllocator, 0, 5)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> group.call("tagMesh", batch));
            assertEquals("MESH(actor) expects a batch length divisible by the DP size: index=0, length=5, dpSize=2",
                    e.getMessage());
        }
    }

    @Test
    void shouldCarryDataBatchFuturesAsArguments() throws Exception {
        try (DataBatch batch = samples(callerAllocator, 0, 8)) {
            java.util.concurrent.CompletableFuture<Object> first = group.callAsync("tagRankZero", batch);
            java.util.concurrent.CompletableFuture<Object> second = group.callAsync("tagProto", first);
            try (DataBatch r = (DataBatch) second.get(60, TimeUnit.SECONDS)) {
                assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), idsOf(r));
                assertEquals(List.of(0, 0, 1, 1, 2, 2, 3, 3), workersOf(r));
            }
            assertInstanceOf(DataBatch.class, first.get()).close();
        }
    }
}
