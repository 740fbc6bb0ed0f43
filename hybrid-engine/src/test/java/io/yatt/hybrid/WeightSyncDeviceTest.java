package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.Communicators;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Device;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Weight sync on the device path: trainers broadcast device buckets, rollout ranks receive into device staging and
 * apply it to device weights; on cuda-local every rank is a thread on CUDA device 0, on nccl rank r is a thread on
 * device r with its own NCCL communicator (so the broadcasts are NCCL's). Skipped without a device; the nccl case
 * also needs one device per rank and the NCCL library.
 */
@Tag("gpu")
class WeightSyncDeviceTest {
    private static final long BUCKET = 16;
    private static final Device GPU = Device.cuda(0);
    private static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(120);

    @BeforeEach
    void requireDevice() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
    }

    @Test
    void shouldDeliverSeveralVersionsOfDeviceWeightsBitForBit() throws Exception {
        int n = WeightSyncTest.SMALL.worldSize();
        deliverThreeVersions(rank -> GPU, HybridEngineDeviceTest.RankComms.of(Communicators.cudaLocal(new int[n],
                new Communicator.Context().timeoutNs(TIMEOUT_NS))));
    }

    @Test
    void shouldDeliverSeveralVersionsOfDeviceWeightsOverNcclBitForBit() throws Exception {
        int n = WeightSyncTest.SMALL.worldSize();
        assumeTrue(Cuda.deviceCount() >= n, "nccl weight sync needs " + n + " CUDA devices, found "
                + Cuda.deviceCount());
        deliverThreeVersions(Device::cuda,
                HybridEngineDeviceTest.RankComms.nccl(n, new Communicator.Context().timeoutNs(TIMEOUT_NS)));
    }

    private static void deliverThreeVersions(IntFunction<Device> devices, HybridEngineDeviceTest.RankComms comms)
            throws Exception {
        WeightSyncTopology topology = WeightSyncTest.SMALL;
        int n = topology.worldSize();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (HybridEngineDeviceTest.RankComms world = comms) {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    Communicator comm = world.open(rank);
                    try {
                        runRank(topology, rank, comm, devices.apply(rank));
                    } finally {
                        world.release(rank, comm);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(300, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void runRank(WeightSyncTopology topology, int rank, Communicator comm, Device gpu) {
        try (Allocator root = Allocator.root("rank" + rank)) {
            if (rank < topology.trainerSize()) {
                boolean source = !topology.destinations(rank).isEmpty();
                int genTp = topology.layout().coordinates(rank).genTp();
                try (WeightSync sync = WeightSync.trainer(topology, rank, comm, root, new WeightSync.Config(BUCKET),
                        gpu)) {
                    for (long v = 1; v <= 3; v++) {
                        Map<String, Tensor> host = WeightSyncTest.shard(root, genTp, v);
                        Map<String, Tensor> device = onDevice(host, root, gpu);
                        try {
                            WeightSync.SyncStats stats = sync.send(v, device);
                            // 60 + 0 + 320 + 14 + 1 bytes in 16-byte buckets, as on the host path
                            assertEquals(source ? 395 : 0, stats.byteSize());
                            assertEquals(source ? 25 : 0, stats.bucketCount());
                        } finally {
                            WeightSyncTest.closeAll(device);
                            WeightSyncTest.closeAll(host);
                        }
                    }
                }
            } else {
                int rolloutRank = rank - topology.trainerSize();
                Map<String, Tensor> zeros = WeightSyncTest.zeros(root);
                Map<String, Tensor> weights = onDevice(zeros, root, gpu);
                WeightSyncTest.closeAll(zeros);
                try (WeightSync sync = WeightSync.rollout(topology, rolloutRank, comm, weights, root, gpu)) {
                    for (long v = 1; v <= 3; v++) {
                        WeightSync.SyncStats stats = sync.receive();
                        assertEquals(new WeightSync.SyncStats(v, 395, 25, 5, stats.timeNs()), stats);
                        Map<String, Tensor> expected = WeightSyncTest.shard(root,
                                topology.rolloutCoordinates(rolloutRank).genTp(), v);
                        try {
                            for (var e : expected.entrySet()) {
                                try (Tensor back = e.getValue().to(Device.host(), root);
                                     Tensor got = weights.get(e.getKey()).to(Device.host(), root)) {
                                    assertTrue(back.contentEquals(got), "rollout " + rolloutRank + " version " + v
                                            + ": " + e.getKey());
                                }
                            }
                        } finally {
                            WeightSyncTest.closeAll(expected);
                        }
                        assertEquals(v, sync.version());
                    }
                } finally {
                    WeightSyncTest.closeAll(weights);
                }
            }
        }
    }

    private static Map<String, Tensor> onDevice(Map<String, Tensor> host, Allocator allocator, Device gpu) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : host.entrySet()) {
            Tensor t = Tensor.allocate(allocator, e.getValue().dtype(), e.getValue().shape(), gpu);
            t.copyFrom(e.getValue());
            out.put(e.getKey(), t);
        }
        return out;
    }
}
