package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A DataBatch argument's tensor above the inline limit travels by reference to a copy the controller keeps: workers
 * pull their rows, the copy is freed at the last pull, and a region nobody pulled is named at the step's end.
 */
class ControllerReferencesTest {

    static final class Methods {
        final int rank;

        Methods(int rank) {
            this.rank = rank;
        }

        /** This worker's rows of "x": {its first value, row count, sum of all values, its first "id"}. */
        @WorkerMethod(dispatch = "DP_COMPUTE_METRIC")
        List<Double> rows(DataBatch batch) {
            Tensor x = batch.tensor("x");
            double sum = 0;
            for (long i = 0; i < x.shape().dim(0); i++) {
                for (long j = 0; j < x.shape().dim(1); j++) {
                    sum += x.getDouble(i, j);
                }
            }
            return List.of(x.getDouble(0, 0), (double) x.shape().dim(0), sum, batch.tensor("id").getDouble(0));
        }

        /** Called through DROP_BATCH: the batch never reaches a worker, so nobody pulls its references. */
        @WorkerMethod(dispatch = "DROP_BATCH")
        int ignore(int value) {
            return value + rank;
        }
    }

    @Test
    void shouldPullEachWorkersRowsFromTheControllersCopyAndFreeItAtTheLastPull() {
        try (Allocator caller = Allocator.root("cref-caller"); Allocator controller = Allocator.root("cref-controller");
             ControlPlane plane = ControlPlane.launch(TestWorkers.context().allocator(controller).dispatch(DROP_BATCH)
                     .threading(ControlPlane.Threading.INVOKER))) {
            List<Worker> workers = start(plane, 2);
            try {
                WorkerGroup group = plane.group("cref", 2, TestWorkers.GROUP_TIMEOUT_NS);
                plane.step(5);
                long before = plane.payloadStats().totalBytes();
                // 256 rows of 64 f32: 64 KiB + 1024 B, just over the limit; "id" stays inline
                try (DataBatch batch = batch(caller, 257, 64)) {
                    Object result = group.call("rows", batch);
                    // DP_COMPUTE_METRIC pads 257 rows to 258: worker 1's last row is row 0 again
                    assertEquals(List.of(List.of(0.0, 129.0, sum(0, 129, 64), 0.0),
                            List.of(129.0 * 64, 129.0, sum(129, 257, 64) + sum(0, 1, 64), 129.0)), result);
                }
                long controllerBytes = plane.payloadStats().totalBytes() - before;
                assertTrue(controllerBytes < 8192, "controller bytes=" + controllerBytes);
                assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
                assertEquals(0, caller.allocatedBytes());
                assertEquals(0, controller.allocatedBytes());
                assertEquals(List.of(), group.endStep(5));
            } finally {
                close(workers);
            }
        }
    }

    /** Sends each worker its rank instead of the arguments; the results as a list. */
    private static final Dispatch DROP_BATCH = new Dispatch() {
        @Override
        public String name() {
            return "DROP_BATCH";
        }

        @Override
        public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
            List<Object[]> perWorker = new ArrayList<>();
            for (int w = 0; w < topology.size(); w++) {
                perWorker.add(new Object[] {w});
            }
            return perWorker;
        }

        @Override
        public Object collect(List<Object> results, GroupTopology topology) {
            return results;
        }
    };

    @Test
    void shouldNameAndFreeAControllerRegionNobodyPulledAtTheStepsEnd() {
        try (Allocator caller = Allocator.root("cref-left-caller");
             Allocator controller = Allocator.root("cref-left-controller");
             ControlPlane plane = ControlPlane.launch(TestWorkers.context().allocator(controller).dispatch(DROP_BATCH)
                     .threading(ControlPlane.Threading.INVOKER))) {
            List<Worker> workers = start(plane, 2);
            try {
                WorkerGroup group = plane.group("cref", 2, TestWorkers.GROUP_TIMEOUT_NS);
                plane.step(9);
                try (DataBatch batch = batch(caller, 300, 64)) {
                    assertEquals(List.of(0, 2), group.call("ignore", batch));
                }
                assertArrayEquals(new long[] {1, 0}, plane.argumentReferences());
                assertEquals(300L * 64 * 4, controller.allocatedBytes());
                assertEquals(List.of("x(step=9, owner=2147483647, region=0, bytes=76800, pulled=0/?)"),
                        group.endStep(9));
                assertArrayEquals(new long[] {0, 0}, plane.argumentReferences());
                assertEquals(0, controller.allocatedBytes());
            } finally {
                close(workers);
            }
        }
    }

    /** Row i of "x" holds i * cols + j; "id" holds i. */
    private static DataBatch batch(Allocator a, int rows, int cols) {
        Tensor x = Tensor.allocate(a, DType.F32, Shape.of(rows, cols), Device.host());
        Tensor id = Tensor.allocate(a, DType.F32, Shape.of(rows), Device.host());
        for (int i = 0; i < rows; i++) {
            id.setDouble(i, i);
            for (int j = 0; j < cols; j++) {
                x.setDouble(i * cols + j, i, j);
            }
        }
        return DataBatch.builder(a).tensor("x", x).tensor("id", id).build();
    }

    /** Sum of i * cols + j over rows [from, to) and columns [0, cols). */
    private static double sum(int from, int to, int cols) {
        double s = 0;
        for (int i = from; i < to; i++) {
            for (int j = 0; j < cols; j++) {
                s += i * cols + j;
            }
        }
        return s;
    }

    private static List<Worker> start(ControlPlane plane, int n) {
        List<Worker> workers = new ArrayList<>();
        for (int rank = 0; rank < n; rank++) {
            workers.add(Worker.start(new Worker.Context().workerId(300 + rank).rank(rank).roles(List.of("cref"))
                    .methods(WorkerMethods.annotated(new Methods(rank), MethodHandles.lookup()))
                    .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
        }
        return workers;
    }

    private static void close(List<Worker> workers) {
        for (Worker w : workers) {
            w.close();
        }
    }
}
