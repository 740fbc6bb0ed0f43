package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.controller.ParallelControllers.Metric;
import io.yatt.controller.ParallelControllers.MetricOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Parallel controllers over the control plane: C controllers (threads, each with its own control plane on udp
 * loopback) each drive the workers of their DP slice of 4 workers, meet at step barriers and reduce metrics; the
 * seeded pipeline's per-prompt scores and reduced metrics are bit-identical for C = 1, 2, 4.
 */
class ControllerMeshTest {

    static final int DP = 4;
    static final int PROMPTS = 10;
    static final int STEPS = 2;

    static final class Methods {
        final Allocator allocator;

        Methods(Allocator allocator) {
            this.allocator = allocator;
        }

        /** Per prompt: the dot product of its features with fixed weights, in float64. */
        @WorkerMethod(dispatch = "DP_COMPUTE_PROTO")
        DataBatch score(DataBatch prompts) {
            Tensor x = prompts.tensor("x");
            Tensor out = Tensor.allocate(allocator, DType.F64, Shape.of(prompts.length()), Device.host());
            for (int i = 0; i < prompts.length(); i++) {
                double s = 0;
                for (int j = 0; j < 3; j++) {
                    s += x.getDouble(i, j) * (0.1 + j);
                }
                out.setDouble(s, i);
            }
            return DataBatch.builder(allocator).tensor("score", out).build();
        }
    }

    /** The step's prompts: seeded features. */
    static DataBatch prompts(Allocator allocator, long step) {
        Random random = new Random(1234 + step);
        Tensor x = Tensor.allocate(allocator, DType.F64, Shape.of(PROMPTS, 3), Device.host());
        for (int i = 0; i < PROMPTS; i++) {
            for (int j = 0; j < 3; j++) {
                x.setDouble(random.nextDouble() * 100 - 50, i, j);
            }
        }
        return DataBatch.builder(allocator).tensor("x", x).build();
    }

    /** One controller's run: per step, its prompts' scores by prompt index and the reduced metrics. */
    record Run(double[][] scores, List<Map<String, Double>> metrics) {
    }

    static Run controller(ParallelControllers pc, int i, ControlPlane plane, ControllerMesh mesh,
                                  Allocator allocator) {
        WorkerGroup group = plane.group("actor", pc.dpRanksPerController(), TestWorkers.GROUP_TIMEOUT_NS);
        double[][] scores = new double[STEPS][PROMPTS];
        for (double[] row : scores) {
            java.util.Arrays.fill(row, Double.NaN);
        }
        List<Map<String, Double>> metrics = new ArrayList<>();
        for (int step = 0; step < STEPS; step++) {
            plane.step(step);
            ParallelControllers.Slice slice = pc.slice(i, PROMPTS);
            int real = slice.paddedCount() - slice.padRows();
            double[] mine = new double[real];
            try (DataBatch all = prompts(allocator, step);
                 DataBatch share = pc.sliceOf(all, i);
                 DataBatch result = (DataBatch) group.call("score", share)) {
                int[] promptIndex = slice.promptIndices();
                for (int r = 0; r < real; r++) {
                    mine[r] = result.tensor("score").getDouble(r);
                    scores[step][promptIndex[r]] = mine[r];
                }
            }
            metrics.add(mesh.reduce(step, List.of(Metric.of("score_mean", MetricOp.MEAN, mine),
                    Metric.of("score_sum", MetricOp.SUM, mine), Metric.of("score_max", MetricOp.MAX, mine),
                    Metric.of("score_min", MetricOp.MIN, mine))));
            mesh.barrier(step);
        }
        return new Run(scores, metrics);
    }

    /** Runs the pipeline with {@code c} controllers; returns each controller's run. */
    static List<Run> pipeline(int c) throws Exception {
        ParallelControllers pc = ParallelControllers.of(c, DP);
        List<ControlPlane> planes = new ArrayList<>();
        List<Worker> workers = new ArrayList<>();
        List<ControllerMesh> meshes = new ArrayList<>();
        List<Allocator> allocators = new ArrayList<>();
        ExecutorService threads = Executors.newFixedThreadPool(c);
        try {
            for (int i = 0; i < c; i++) {
                planes.add(ControlPlane.launch(TestWorkers.context().udp("127.0.0.1", 0).jobName("mesh-" + i)
                        .threading(ControlPlane.Threading.INVOKER)));
            }
            List<ControllerMesh.Peer> peers = planes.stream().map(ControlPlane::peer).toList();
            for (int i = 0; i < c; i++) {
                meshes.add(ControllerMesh.join(planes.get(i), i, peers, ControllerMesh.DEFAULT_TIMEOUT_NS));
            }
            for (int d = 0; d < DP; d++) {
                ControlPlane plane = planes.get(pc.controllerOf(d));
                Allocator a = Allocator.root("mesh-worker-" + d);
                allocators.add(a);
                workers.add(Worker.start(new Worker.Context().workerId(500 + d).rank(d % pc.dpRanksPerController())
                        .roles(List.of("actor")).allocator(a)
                        .methods(WorkerMethods.annotated(new Methods(a), MethodHandles.lookup()))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            List<Future<Run>> runs = new ArrayList<>();
            for (int i = 0; i < c; i++) {
                int index = i;
                Allocator a = Allocator.root("mesh-controller-" + i);
                allocators.add(a);
                runs.add(threads.submit(() -> controller(pc, index, planes.get(index), meshes.get(index), a)));
            }
            List<Run> out = new ArrayList<>();
            for (Future<Run> run : runs) {
                out.add(run.get());
            }
            return out;
        } finally {
            threads.shutdownNow();
            for (Worker w : workers) {
                w.close();
            }
            for (ControllerMesh m : meshes) {
                m.close();
            }
            for (ControlPlane p : planes) {
                p.close();
            }
            for (Allocator a : allocators) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (a.allocatedBytes() != 0 && System.nanoTime() - deadline < 0) {
                    Thread.onSpinWait();
                }
                a.close();
            }
        }
    }

    /** The per-prompt scores of a run with all controllers' shares put together. */
    private static double[][] merged(List<Run> runs) {
        double[][] scores = new double[STEPS][PROMPTS];
        for (Run run : runs) {
            for (int s = 0; s < STEPS; s++) {
                for (int p = 0; p < PROMPTS; p++) {
                    if (!Double.isNaN(run.scores()[s][p])) {
                        scores[s][p] = run.scores()[s][p];
                    }
                }
            }
        }
        return scores;
    }

    @Test
    void shouldGiveIdenticalScoresAndMetricsForOneTwoAndFourControllers() throws Exception {
        List<Run> one = pipeline(1);
        List<Run> two = pipeline(2);
        List<Run> four = pipeline(4);
        for (List<Run> runs : List.of(two, four)) {
            for (int s = 0; s < STEPS; s++) {
                assertArrayEquals(merged(one)[s], merged(runs)[s]);
            }
            for (Run run : runs) {
                // every controller agrees with every other, and with the single controller, bit for bit
                assertEquals(one.getFirst().metrics(), run.metrics());
            }
        }
        assertEquals(List.of("score_max", "score_mean", "score_min", "score_sum"),
                List.copyOf(one.getFirst().metrics().getFirst().keySet()));
    }

    @Test
    void shouldLeaveThePeerPublicationsToTheAgentThreadUnderInvoker() throws Exception {
        long sendTimeoutNs = TimeUnit.MILLISECONDS.toNanos(300);
        ControlPlane a = ControlPlane.launch(TestWorkers.context().udp("127.0.0.1", 0).jobName("stall-a")
                .threading(ControlPlane.Threading.INVOKER).sendTimeoutNs(sendTimeoutNs));
        ControlPlane b = ControlPlane.launch(TestWorkers.context().udp("127.0.0.1", 0).jobName("stall-b")
                .threading(ControlPlane.Threading.INVOKER));
        CountDownLatch stalled = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            // a's agent is held in a duty cycle: the only thread that may run a's driver and client conductor
            Future<?> stall = threads.submit(() -> a.agent().onAgentThread("stall", () -> {
                stalled.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }));
            stalled.await();
            List<ControllerMesh.Peer> peers = List.of(a.peer(), b.peer());
            // the join does not add the publication itself, racing the agent's driver: it waits for the agent
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> ControllerMesh.join(a, 0, peers, ControllerMesh.DEFAULT_TIMEOUT_NS));
            assertEquals("controller agent did not run addExclusivePublication(" + b.endpoint() + "): controllerId="
                    + a.controllerId() + ", timeoutMs=300", e.getMessage());
            release.countDown();
            stall.get();
            try (ControllerMesh meshA = ControllerMesh.join(a, 0, peers, ControllerMesh.DEFAULT_TIMEOUT_NS);
                 ControllerMesh meshB = ControllerMesh.join(b, 1, peers, ControllerMesh.DEFAULT_TIMEOUT_NS)) {
                Future<?> other = threads.submit(() -> meshB.barrier(0));
                meshA.barrier(0);
                other.get();
            }
        } finally {
            release.countDown();
            threads.shutdownNow();
            a.close();
            b.close();
        }
    }

    @Test
    void shouldJoinMeshesWhileTheAgentsAreBusyWithCalls() throws Exception {
        int c = 4;
        List<TestWorkers> controllers = new ArrayList<>();
        List<ControllerMesh> meshes = new ArrayList<>();
        ExecutorService threads = Executors.newFixedThreadPool(2 * c);
        AtomicBoolean calling = new AtomicBoolean(true);
        try {
            for (int i = 0; i < c; i++) {
                controllers.add(new TestWorkers(TestWorkers.context().udp("127.0.0.1", 0).jobName("busy-" + i), 1));
            }
            // every agent reads a stream of answers and runs its driver while the meshes' publications are added
            List<Future<Integer>> callers = new ArrayList<>();
            for (TestWorkers t : controllers) {
                WorkerGroup group = t.group();
                callers.add(threads.submit(() -> {
                    int calls = 0;
                    while (calling.get()) {
                        assertEquals(List.of(calls), group.call("addRank", calls));
                        calls++;
                    }
                    return calls;
                }));
            }
            List<ControllerMesh.Peer> peers = controllers.stream().map(t -> t.plane.peer()).toList();
            for (int i = 0; i < c; i++) {
                meshes.add(ControllerMesh.join(controllers.get(i).plane, i, peers, ControllerMesh.DEFAULT_TIMEOUT_NS));
            }
            List<Future<Map<String, Double>>> reductions = new ArrayList<>();
            for (int i = 0; i < c; i++) {
                ControllerMesh m = meshes.get(i);
                double value = i;
                reductions.add(threads.submit(() -> {
                    m.barrier(0);
                    return m.reduce(0, List.of(Metric.of("i", MetricOp.SUM, new double[] {value})));
                }));
            }
            for (Future<Map<String, Double>> r : reductions) {
                assertEquals(Map.of("i", 6.0), r.get());
            }
            calling.set(false);
            for (Future<Integer> caller : callers) {
                assertTrue(caller.get() > 0);
            }
        } finally {
            calling.set(false);
            threads.shutdownNow();
            for (ControllerMesh m : meshes) {
                m.close();
            }
            for (TestWorkers t : controllers) {
                t.close();
            }
        }
    }

    @Test
    void shouldRejectAJoinWhoseIndexIsAnotherController() {
        ControlPlane plane = ControlPlane.launch(TestWorkers.context().threading(ControlPlane.Threading.INVOKER));
        try {
            ControllerMesh.Peer other = new ControllerMesh.Peer("aeron:ipc", plane.controllerId() + 1, 1L, "h");
            assertEquals("peer at this controller's index is another controller: index=0, peer=" + other
                    + ", controllerId=" + plane.controllerId(), assertThrows(IllegalArgumentException.class,
                            () -> ControllerMesh.join(plane, 0, List.of(other, plane.peer()), 1)).getMessage());
            assertEquals("controller index out of range: index=2, controllers=2", assertThrows(
                    IllegalArgumentException.class,
                    () -> ControllerMesh.join(plane, 2, List.of(other, plane.peer()), 1)).getMessage());
        } finally {
            plane.close();
        }
    }
}
