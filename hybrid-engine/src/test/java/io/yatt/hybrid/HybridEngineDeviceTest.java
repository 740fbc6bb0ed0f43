package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorWorld;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.InProcessWorld;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The GPU reshard path: HybridEngine over device tensors on the cuda-local backend (every rank a thread on CUDA
 * device 0) and on the nccl backend (rank r a thread on CUDA device r, one NCCL communicator each, joined through a
 * loopback rendezvous store) produces, bit for bit, the generation weights and the training weights after the round
 * trip that the host path produces on the in-process backend from the same plan and the same weights, with the same
 * counted bytes. Skipped without a device; the nccl cases also need one device per rank and the NCCL library.
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

    /** Where each rank's communicator comes from: opened on the rank's own thread (NCCL's init is collective). */
    interface RankComms extends AutoCloseable {
        Communicator open(int rank);

        /** Closes what {@link #open} handed out that the world does not own. */
        void release(int rank, Communicator comm);

        @Override
        void close();

        /** The communicators of a world made up front (in-process, cuda-local); the world owns them. */
        static RankComms of(CommunicatorWorld world) {
            return new RankComms() {
                @Override
                public Communicator open(int rank) {
                    return world.communicator(rank);
                }

                @Override
                public void release(int rank, Communicator comm) {
                }

                @Override
                public void close() {
                    world.close();
                }
            };
        }

        /** One NCCL communicator per rank, rank r on device r, rendezvous through a loopback store on a free port. */
        static RankComms nccl(int size, Communicator.Context context) {
            int port = freePort();
            return new RankComms() {
                @Override
                public Communicator open(int rank) {
                    return Communicators.nccl(RendezvousConfig.of(rank, size, "127.0.0.1", port)
                            .withTimeoutNs(TIMEOUT_NS), context.copy());
                }

                @Override
                public void release(int rank, Communicator comm) {
                    comm.close();
                }

                @Override
                public void close() {
                }
            };
        }
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"1-2-1, 1-1-2", "1-4-1, 1-2-2", "2-2-1, 1-2-2", "1-8-1, 1-2-4", "2-4-1, 1-2-4"})
    void shouldReshardOnCudaLocalBitForBitAsTheHostPath(String train, String gen) throws Exception {
        HybridLayout layout = HybridLayout.parse(train, gen);
        assertDeviceMatchesHost(layout, rank -> Device.cuda(0),
                context -> RankComms.of(Communicators.cudaLocal(new int[layout.worldSize()], context)));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"1-2-1, 1-1-2", "1-4-1, 1-2-2", "2-2-1, 1-2-2", "1-8-1, 1-2-4", "2-4-1, 1-2-4"})
    void shouldReshardOnNcclBitForBitAsTheHostPath(String train, String gen) throws Exception {
        HybridLayout layout = HybridLayout.parse(train, gen);
        int n = layout.worldSize();
        assumeTrue(Cuda.deviceCount() >= n, "nccl reshard " + layout + " needs " + n + " CUDA devices, found "
                + Cuda.deviceCount());
        assertDeviceMatchesHost(layout, Device::cuda, context -> RankComms.nccl(n, context));
    }

    private static void assertDeviceMatchesHost(HybridLayout layout, IntFunction<Device> devices,
                                                Function<Communicator.Context, RankComms> comms)
            throws Exception {
        ModelSpec spec = ModelSpec.llama(2, 64, 8, 8, 128, 250, DType.BF16, 8);
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            List<RankResult> host = run(plan, spec, rank -> Device.host(),
                    context -> RankComms.of(InProcessWorld.create(layout.worldSize(), context)));
            List<RankResult> device = run(plan, spec, devices, comms);
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

    /** Runs two round trips on every rank with rank r's buffers on {@code devices.apply(r)}; returns the last one's. */
    static List<RankResult> run(ReshardPlan plan, ModelSpec spec, IntFunction<Device> devices,
                                Function<Communicator.Context, RankComms> comms)
            throws Exception {
        HybridLayout layout = plan.layout();
        int n = layout.worldSize();
        Map<String, long[]> full = ShardMathTest.fullWeights(spec);
        var train = ShardMath.shardModel(spec, full, layout.train().t(), layout.train().p());
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<RankResult> results = new ArrayList<>();
        try (RankComms world = comms.apply(new Communicator.Context().timeoutNs(TIMEOUT_NS))) {
            List<Future<RankResult>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    RankCoordinates c = layout.coordinates(rank);
                    Communicator comm = world.open(rank);
                    try (Allocator root = Allocator.root("rank" + rank);
                         HybridEngine engine = HybridEngine.create(plan, rank, comm, root, devices.apply(rank))) {
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
                    } finally {
                        world.release(rank, comm);
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

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1,
                InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
