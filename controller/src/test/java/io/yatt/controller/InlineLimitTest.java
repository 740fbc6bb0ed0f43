package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.invoke.MethodHandles;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The inline limit (64 KiB) holds for every tensor that crosses the control plane: a worker's batches nested in lists
 * and maps send their large tensors by reference, a batch whose tensors each fit but together do not sends its largest
 * by reference until the rest fits, and the controller sends a larger tensor of a batch nested in an argument by
 * reference, as it does a top-level batch's.
 */
class InlineLimitTest {

    private static final long LIMIT = TensorRef.DEFAULT_INLINE_LIMIT_BYTES;

    static final class Methods {
        final Allocator allocator;

        Methods(Allocator allocator) {
            this.allocator = allocator;
        }

        /** {@code rows} rows of {@code width} floats, element (i, j) = i * width + j. */
        Tensor rows(int rows, int width) {
            Tensor t = Tensor.allocate(allocator, DType.F32, Shape.of(rows, width), Device.host());
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < width; j++) {
                    t.setDouble(i * width + j, i, j);
                }
            }
            return t;
        }

        /** A list and a map, each holding a batch of one 100 KiB tensor (100 rows of 256 floats). */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        Map<String, Object> nested() {
            return Map.of("list", List.of(DataBatch.builder(allocator).tensor("logp", rows(100, 256)).build()),
                    "map", Map.of("inner", DataBatch.builder(allocator).tensor("values", rows(100, 256)).build()));
        }

        /** Ten rows of 1280, 1024 and 307 floats: 51200, 40960 and 12280 bytes, each under the limit, 104440 in all. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        DataBatch wide() {
            return DataBatch.builder(allocator).tensor("a", rows(10, 1280)).tensor("b", rows(10, 1024))
                    .tensor("c", rows(10, 307)).build();
        }

        /** Sum of every tensor of every batch in {@code batches} (their references pulled by the runtime). */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        double sum(List<DataBatch> batches) {
            double total = 0;
            for (DataBatch batch : batches) {
                for (String key : batch.tensorKeys()) {
                    Tensor t = batch.tensor(key);
                    for (long i = 0; i < t.shape().dim(0); i++) {
                        for (long j = 0; j < t.shape().dim(1); j++) {
                            total += t.getDouble(i, j);
                        }
                    }
                }
            }
            return total;
        }
    }

    private Allocator controllerAllocator;
    private Allocator workerAllocator;
    private ControlPlane plane;
    private Worker worker;
    private WorkerGroup group;

    @BeforeEach
    void start() {
        controllerAllocator = Allocator.root("inline-controller");
        workerAllocator = Allocator.root("inline-worker");
        plane = ControlPlane.launch(TestWorkers.context().allocator(controllerAllocator));
        worker = Worker.start(new Worker.Context().workerId(100).rank(0).roles(List.of("actor"))
                .allocator(workerAllocator)
                .methods(WorkerMethods.annotated(new Methods(workerAllocator), MethodHandles.lookup()))
                .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory()));
        group = plane.group("actor", 1, TestWorkers.GROUP_TIMEOUT_NS);
    }

    @AfterEach
    void stop() {
        worker.close();
        plane.close();
        assertEquals(0, controllerAllocator.allocatedBytes());
        controllerAllocator.close();
        workerAllocator.close();
    }

    /** Sum over (i, j) of i * width + j for {@code rows} rows: the sum of 0 .. rows * width - 1. */
    private static double rowsSum(int rows, int width) {
        long n = (long) rows * width;
        return n * (n - 1) / 2.0;
    }

    @Test
    void shouldSendTensorsOfBatchesNestedInListsAndMapsByReference() {
        Map<?, ?> result = (Map<?, ?>) ((List<?>) group.call("nested")).getFirst();
        DataBatch listed = (DataBatch) ((List<?>) result.get("list")).getFirst();
        DataBatch mapped = (DataBatch) ((Map<?, ?>) result.get("map")).get("inner");
        assertEquals(Set.of(), listed.tensorKeys());
        assertInstanceOf(ReferenceColumn.class, listed.column("logp"));
        assertInstanceOf(ReferenceColumn.class, mapped.column("values"));
        assertEquals(0, controllerAllocator.allocatedBytes());
        // the next call (which takes the batches over) pulls the rows of both, under the dispatch's claim: both
        // regions are freed at that pull and the step's end finds none
        assertEquals(List.of(2 * rowsSum(100, 256)), group.call("sum", List.of(listed, mapped)));
        assertEquals(List.of(), group.endStep(0));
    }

    @Test
    void shouldSendLargestTensorsByReferenceUntilTheRestFitsTheLimit() {
        DataBatch wide = (DataBatch) ((List<?>) group.call("wide")).getFirst();
        // 104440 bytes inline would exceed the limit: the largest (a, 51200 bytes) goes by reference, 53240 stay
        assertEquals(Set.of("b", "c"), wide.tensorKeys());
        assertInstanceOf(ReferenceColumn.class, wide.column("a"));
        assertEquals(40960 + 12280, controllerAllocator.allocatedBytes());
        assertEquals(List.of(rowsSum(10, 1280) + rowsSum(10, 1024) + rowsSum(10, 307)),
                group.call("sum", List.of(wide)));
    }

    @Test
    void shouldSendArgumentTensorAboveTheInlineLimitInAListByReference() {
        // the call takes the batch over: its 65540 bytes go by reference to a copy the controller frees at the pull
        DataBatch batch = DataBatch.builder(controllerAllocator).tensor("prompts", ones(16385)).build();
        long before = plane.payloadStats().totalBytes();
        assertEquals(List.of(16385.0), group.call("sum", List.of(batch)));
        assertTrue(plane.payloadStats().totalBytes() - before < 4096);
        assertEquals(true, batch.isClosed());
        assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
        // a tensor at the limit still goes inline (the call takes the batch over)
        DataBatch fits = DataBatch.builder(controllerAllocator).tensor("prompts", ones(16384)).build();
        assertEquals(List.of(16384.0), group.call("sum", List.of(fits)));
        assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
    }

    /** One row of {@code width} floats, each 1. */
    private Tensor ones(int width) {
        Tensor t = Tensor.allocate(controllerAllocator, DType.F32, Shape.of(1, width), Device.host());
        for (int j = 0; j < width; j++) {
            t.setDouble(1.0, 0, j);
        }
        return t;
    }
}
