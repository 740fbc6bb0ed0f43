package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A custom (dispatch, collect) pair whose collect throws: the call fails with its exception and leaks nothing. */
class CustomCollectFailureTest {

    static final class Methods {
        final Allocator allocator;

        Methods(Allocator allocator) {
            this.allocator = allocator;
        }

        @WorkerMethod(dispatch = "THROWING_COLLECT")
        DataBatch rows(int n) {
            Tensor t = Tensor.allocate(allocator, DType.F32, Shape.of(n, 4), Device.host());
            return DataBatch.builder(allocator).tensor("x", t).build();
        }
    }

    private static final Dispatch THROWING_COLLECT = new Dispatch() {
        @Override
        public String name() {
            return "THROWING_COLLECT";
        }

        @Override
        public List<Object[]> dispatch(Object[] args, GroupTopology topology) {
            List<Object[]> perWorker = new ArrayList<>();
            for (int i = 0; i < topology.size(); i++) {
                perWorker.add(args.clone());
            }
            return perWorker;
        }

        @Override
        public Object collect(List<Object> results, GroupTopology topology) {
            throw new IllegalStateException("collect refused: results=" + results.size());
        }
    };

    @Test
    void shouldCloseTheWorkersResultsWhenACustomCollectThrows() throws Exception {
        try (Allocator controller = Allocator.root("collect-controller");
             Allocator workers = Allocator.root("collect-workers")) {
            ControlPlane.Context ctx = TestWorkers.context().dispatch(THROWING_COLLECT).allocator(controller)
                    .threading(ControlPlane.Threading.INVOKER);
            try (ControlPlane plane = ControlPlane.launch(ctx)) {
                List<Worker> started = new ArrayList<>();
                try {
                    for (int rank = 0; rank < 2; rank++) {
                        started.add(Worker.start(new Worker.Context().workerId(200 + rank).rank(rank)
                                .roles(List.of("rows")).allocator(workers)
                                .methods(WorkerMethods.annotated(new Methods(workers), MethodHandles.lookup()))
                                .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
                    }
                    WorkerGroup group = plane.group("rows", 2, TestWorkers.GROUP_TIMEOUT_NS);
                    ExecutionException e = assertThrows(ExecutionException.class,
                            () -> group.callAsync("rows", 8).get(60, TimeUnit.SECONDS));
                    assertInstanceOf(IllegalStateException.class, e.getCause());
                    assertEquals("collect refused: results=2", e.getCause().getMessage());
                    // both workers' 8 x 4 f32 results were decoded into the controller's allocator, then closed
                    assertEquals(0, controller.allocatedBytes());
                    assertEquals(2 * 8 * 16, controller.peakBytes());
                } finally {
                    for (Worker w : started) {
                        w.close();
                    }
                }
            }
            assertEquals(0, workers.allocatedBytes());
        }
    }
}
