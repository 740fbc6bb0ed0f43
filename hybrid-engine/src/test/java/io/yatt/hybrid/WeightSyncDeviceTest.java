package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorWorld;
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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Weight sync on the device path: trainers broadcast device buckets, rollout ranks receive into device staging and
 * apply it to device weights; every rank a thread on CUDA device 0 (cuda-local; NCCL runs the same calls with one GPU
 * per rank). Skipped without a device.
 */
@Tag("gpu")
class WeightSyncDeviceTest {
    private static final long BUCKET = 16;
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void requireDevice() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
    }

    @Test
    void shouldDeliverSeveralVersionsOfDeviceWeightsBitForBit() throws Exception {
        WeightSyncTopology topology = WeightSyncTest.SMALL;
        int n = topology.worldSize();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (CommunicatorWorld world = Communicators.cudaLocal(new int[n],
                new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(120)))) {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    runRank(topology, rank, world.communicator(rank));
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

    private static void runRank(WeightSyncTopology topology, int rank, Communicator comm) {
        try (Allocator root = Allocator.root("rank" + rank)) {
            if (rank < topology.trainerSize()) {
                boolean source = !topology.destinations(rank).isEmpty();
                int genTp = topology.layout().coordinates(rank).genTp();
                try (WeightSync sync = WeightSync.trainer(topology, rank, comm, root, new WeightSync.Config(BUCKET),
                        GPU)) {
                    for (long v = 1; v <= 3; v++) {
                        Map<String, Tensor> host = WeightSyncTest.shard(root, genTp, v);
                        Map<String, Tensor> device = onDevice(host, root);
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
                Map<String, Tensor> weights = onDevice(zeros, root);
                WeightSyncTest.closeAll(zeros);
                try (WeightSync sync = WeightSync.rollout(topology, rolloutRank, comm, weights, root, GPU)) {
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

    private static Map<String, Tensor> onDevice(Map<String, Tensor> host, Allocator allocator) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : host.entrySet()) {
            Tensor t = Tensor.allocate(allocator, e.getValue().dtype(), e.getValue().shape(), GPU);
            t.copyFrom(e.getValue());
            out.put(e.getKey(), t);
        }
        return out;
    }
}
