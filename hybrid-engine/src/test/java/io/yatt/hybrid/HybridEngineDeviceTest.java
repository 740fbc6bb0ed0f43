package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorWorld;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.InProcessWorld;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The GPU reshard path: HybridEngine over device tensors on the cuda-local backend (every rank a thread on CUDA
 * device 0) produces, bit for bit, the generation weights and the training weights after the round trip that the
 * host path produces on the in-process backend from the same plan and the same weights, with the same counted bytes.
 * Skipped without a device.
 */
@Tag("gpu")
class HybridEngineDeviceTest {
    private static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(120);

    @BeforeEach
    void requireDevice() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
    }

    /** What one rank saw: generation and training bytes per name after each direction, and the counted bytes. */
    record RankResult(Map<String, byte[]> generation, Map<String, byte[]> training, long bytesReceived,
                      long replicatedBytesReceived, long localBytesMoved) {
    }

    interface WorldFactory {
        CommunicatorWorld create(int size, Communicator.Context context);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"1-2-1, 1-1-2", "1-4-1, 1-2-2", "2-2-1, 1-2-2", "1-8-1, 1-2-4", "2-4-1, 1-2-4"})
    void shouldReshardOnCudaLocalBitForBitAsTheHostPath(String train, String gen) throws Exception {
        HybridLayout layout = HybridLayout.parse(train, gen);
        ModelSpec spec = ModelSpec.llama(2, 64, 8, 8, 128, 250, DType.BF16, 8);
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            List<RankResult> host = run(plan, spec, Device.host(), InProcessWorld::create);
            List<RankResult> device = run(plan, spec, Device.cuda(0),
                    (size, context) -> Communicators.cudaLocal(new int[size], context));
            for (int rank = 0; rank < layout.worldSize(); rank++) {
                String where = scheme + " " + layout + " rank " + rank;
                RankResult h = host.get(rank);
                RankResult d = device.get(rank);
                assertEquals(h.generation().keySet(), d.generation().keySet(), "generation names, " + where);
                for (String name : h.generation().keySet()) {
                    assertArrayEquals(h.generation().get(name), d.generation().get(name),
                            "generation " + name + ", " + where);
                }
                assertEquals(h.training().keySet(), d.training().keySet(), "training names, " + where);
                for (String name : h.training().keySet()) {
                    assertArrayEquals(h.training().get(name), d.training().get(name), "training " + name + ", " + where);
                }
                RankPlan rp = plan.rank(rank);
                assertEquals(rp.bytesReceived(), d.bytesReceived(), "counted device bytes received, " + where);
                assertEquals(rp.replicatedBytesReceived(), d.replicatedBytesReceived(),
                        "counted replicated device bytes received, " + where);
                assertEquals(h.localBytesMoved(), d.localBytesMoved(), "local bytes moved, " + where);
            }
        }
    }

    /** Runs two round trips on every rank with its buffers on {@code device}; returns the last one's bytes. */
    static List<RankResult> run(ReshardPlan plan, ModelSpec spec, Device device, WorldFactory worlds)
            throws Exception {
        HybridLayout layout = plan.layout();
        int n = layout.worldSize();
        Map<String, long[]> full = ShardMathTest.fullWeights(spec);
        var train = ShardMath.shardModel(spec, full, layout.train().t(), layout.train().p());
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<RankResult> results = new ArrayList<>();
        try (CommunicatorWorld world = worlds.create(n, new Communicator.Context().timeoutNs(TIMEOUT_NS))) {
            List<Future<RankResult>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    RankCoordinates c = layout.coordinates(rank);
                    try (Allocator root = Allocator.root("rank" + rank);
                         HybridEngine engine = HybridEngine.create(plan, rank, world.communicator(rank), root,
                                 device)) {
                        Map<String, long[]> mine = train.get(new ShardMath.ShardKey(c.pp(), c.tp()));
                        for (var e : engine.trainingWeights().entrySet()) {
                            try (Tensor values = Tensor.allocate(root, spec.dtype(), e.getValue().shape(),
                                    Device.host())) {
                                HybridEngineTest.write(values, mine.get(e.getKey()));
                                e.getValue().copyFrom(values);
                            }
                        }
                        RankResult last = null;
                        for (int round = 0; round < 2; round++) {
                            Map<String, byte[]> generation = bytes(engine.toGeneration(), root);
                            HybridEngine.TransitionStats stats = engine.lastTransition();
                            engine.toTraining();
                            last = new RankResult(generation, bytes(engine.trainingWeights(), root),
                                    stats.bytesReceived(), stats.replicatedBytesReceived(), stats.localBytesMoved());
                        }
                        return last;
                    }
                }));
            }
            for (Future<RankResult> f : futures) {
                results.add(f.get(300, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
        return results;
    }

    /** Each tensor's elements in row-major order as bytes, read back to the host. */
    static Map<String, byte[]> bytes(Map<String, Tensor> tensors, Allocator allocator) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) {
            try (Tensor host = Tensor.allocate(allocator, e.getValue().dtype(), e.getValue().shape(), Device.host())) {
                host.copyFrom(e.getValue());
                out.put(e.getKey(), host.segment().toArray(ValueLayout.JAVA_BYTE));
            }
        }
        return out;
    }
}
