package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;

class WeightSyncTest {

    /** Bucket size of the hand-built tests: every tensor but the smallest spans buckets. */
    private static final long BUCKET = 16;

    interface RankBody {
        void run(int rank, Communicator world) throws Exception;
    }

    /** Runs one thread per rank; returns each rank's failure (null when it finished). */
    static List<Throwable> runRanks(int n, RankBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        AtomicReferenceArray<Throwable> failures = new AtomicReferenceArray<>(n);
        try (InProcessWorld world = InProcessWorld.create(n,
                new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)))) {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    try {
                        body.run(rank, world.communicator(rank));
                    } catch (Throwable t) {
                        failures.set(rank, t);
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
        List<Throwable> result = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            result.add(failures.get(r));
        }
        return result;
    }

    static void assertAllSucceeded(List<Throwable> failures) {
        for (int r = 0; r < failures.size(); r++) {
            if (failures.get(r) != null) {
                throw new AssertionError("rank " + r + " failed", failures.get(r));
            }
        }
    }

    static void assertSyncFailure(Throwable t, WeightSyncException.Reason reason, String message) {
        WeightSyncException e = assertInstanceOf(WeightSyncException.class, t);
        assertEquals(reason, e.reason());
        assertEquals(message, e.getMessage());
    }

    // ---- hand-built weights: several dtypes, an empty tensor, tensors larger than a bucket ----

    /** The generation shard {@code genTp} holds at {@code version}: deterministic, so any thread can rebuild it. */
    static Map<String, Tensor> shard(Allocator a, int genTp, long version) {
        Map<String, Tensor> w = new LinkedHashMap<>();
        w.put("embed", Tensor.allocate(a, DType.F32, Shape.of(3, 5), Device.host()));
        w.put("empty", Tensor.allocate(a, DType.BF16, Shape.of(0, 8), Device.host()));
        w.put("layers.0.mlp.down", Tensor.allocate(a, DType.I64, Shape.of(40), Device.host()));
        w.put("norm", Tensor.allocate(a, DType.F16, Shape.of(7), Device.host()));
        w.put("flag", Tensor.allocate(a, DType.U8, Shape.of(1), Device.host()));
        long seed = 1000 * version + 10L * genTp;
        for (Tensor t : w.values()) {
            t.fillRandom(seed++);
        }
        return w;
    }

    static Map<String, Tensor> zeros(Allocator a) {
        Map<String, Tensor> w = shard(a, 0, 0);
        w.values().forEach(t -> t.fill(0));
        return w;
    }

    static void closeAll(Map<String, Tensor> w) {
        w.values().forEach(Tensor::close);
    }

    static void assertContent(Map<String, Tensor> expected, Map<String, Tensor> actual, String what) {
        assertEquals(expected.keySet(), actual.keySet(), what);
        for (var e : expected.entrySet()) {
            assertTrue(e.getValue().contentEquals(actual.get(e.getKey())), what + ": " + e.getKey());
        }
    }

    /** 4 trainers (train 1-2-2, gen 1-2-1: trainer 0 holds gen TP 0, trainer 1 gen TP 1) and 2 rollout ranks. */
    static final WeightSyncTopology SMALL = WeightSyncTopology.of(HybridLayout.parse("1-2-2", "1-2-1"), 2);

    /** One step of a scripted scenario on a trainer or rollout rank. */
    interface Script {
        void run(WeightSync sync, Allocator allocator) throws Exception;
    }

    static List<Throwable> runSmall(Script trainer, Script rollout) throws Exception {
        return runRanks(SMALL.worldSize(), (rank, world) -> {
            try (Allocator root = Allocator.root("rank" + rank)) {
                if (rank < SMALL.trainerSize()) {
                    try (WeightSync sync = WeightSync.trainer(SMALL, rank, world, root, new WeightSync.Config(BUCKET))) {
                        trainer.run(sync, root);
                    }
                } else {
                    Map<String, Tensor> weights = zeros(root);
                    try (WeightSync sync = WeightSync.rollout(SMALL, rank - SMALL.trainerSize(), world, weights,
                            root)) {
                        rollout.run(sync, root);
                    } finally {
                        closeAll(weights);
                    }
                }
            }
        });
    }

    static WeightSync.SyncStats send(WeightSync sync, Allocator a, long version) {
        int genTp = SMALL.layout().coordinates(sync.rank()).genTp();
        Map<String, Tensor> w = shard(a, genTp, version);
        try {
            return sync.send(version, w);
        } finally {
            closeAll(w);
        }
    }

    static void assertHolds(WeightSync sync, Allocator a, long version) {
        Map<String, Tensor> expected = version == 0 ? zeros(a)
                : shard(a, SMALL.rolloutCoordinates(sync.rank()).genTp(), version);
        try {
            assertContent(expected, sync.weights(), "rollout " + sync.rank() + " version " + version);
        } finally {
            closeAll(expected);
        }
        assertEquals(version == 0 ? -1 : version, sync.version());
    }

    @Test
    void shouldDeliverSeveralVersionsBitForBitWithTensorsLargerThanABucket() throws Exception {
        assertAllSucceeded(runSmall((sync, a) -> {
            boolean source = !SMALL.destinations(sync.rank()).isEmpty();
            for (long v = 1; v <= 3; v++) {
                WeightSync.SyncStats stats = send(sync, a, v);
                assertEquals(v, stats.version());
                // 60 + 0 + 320 + 14 + 1 bytes in 16-byte buckets
                assertEquals(source ? 395 : 0, stats.byteSize());
                assertEquals(source ? 25 : 0, stats.bucketCount());
                assertEquals(source ? 5 : 0, stats.tensorCount());
                assertEquals(v, sync.version());
            }
        }, (sync, a) -> {
            assertHolds(sync, a, 0);
            for (long v = 1; v <= 3; v++) {
                WeightSync.SyncStats stats = sync.receive();
                assertEquals(new WeightSync.SyncStats(v, 395, 25, 5, stats.timeNs()), stats);
                assertHolds(sync, a, v);
            }
        }));
    }

    @Test
    void shouldHoldAtMostTwoBucketsOnTheSender() throws Exception {
        int worldSize = SMALL.worldSize();
        assertAllSucceeded(runSmall((sync, a) -> {
            Map<String, Tensor> w = shard(a, SMALL.layout().coordinates(sync.rank()).genTp(), 1);
            try {
                int manifestBytes = SyncManifest.of(1, BUCKET, w).encode().length;
                sync.send(1, w);
                sync.send(2, w);
                long fixed = 16 + 4 + 4L * worldSize;
                boolean source = !SMALL.destinations(sync.rank()).isEmpty();
                // header, status, then at the peak the two buckets and the second sync's manifest
                assertEquals(source ? fixed + 2 * BUCKET + manifestBytes : fixed, sync.allocator().peakBytes());
            } finally {
                closeAll(w);
            }
        }, (sync, a) -> {
            sync.receive();
            sync.receive();
        }));
    }

    @Test
    void shouldRejectAStaleOrRepeatedVersionAndKeepTheWeights() throws Exception {
        List<Throwable> failures = runSmall((sync, a) -> {
            send(sync, a, 5);
            WeightSyncException stale = assertThrows(WeightSyncException.class, () -> send(sync, a, 3));
            assertSyncFailure(stale, WeightSyncException.Reason.PEER_FAILED,
                    "weight sync failed on other ranks: version=3, failed=[rollout 0=STALE_VERSION, "
                            + "rollout 1=STALE_VERSION]");
            assertThrows(WeightSyncException.class, () -> send(sync, a, 5));
            assertEquals(5, sync.version());
            send(sync, a, 6);
        }, (sync, a) -> {
            sync.receive();
            assertHolds(sync, a, 5);
            WeightSyncException stale = assertThrows(WeightSyncException.class, sync::receive);
            assertSyncFailure(stale, WeightSyncException.Reason.STALE_VERSION,
                    "stale weight version: received=3, current=5");
            assertEquals(3, stale.version());
            assertHolds(sync, a, 5);
            WeightSyncException repeated = assertThrows(WeightSyncException.class, sync::receive);
            assertSyncFailure(repeated, WeightSyncException.Reason.STALE_VERSION,
                    "stale weight version: received=5, current=5");
            assertHolds(sync, a, 5);
            sync.receive();
            assertHolds(sync, a, 6);
        });
        assertAllSucceeded(failures);
    }

    /** The checksum-mismatch message for flipping bit 0 of byte {@code byteInBucket} of bucket {@code index}. */
    static String corruptionMessage(int genTp, long version, long index, long byteInBucket) {
        try (Allocator a = Allocator.root("expected")) {
            Map<String, Tensor> w = shard(a, genTp, version);
            try {
                SyncManifest m = SyncManifest.of(version, BUCKET, w);
                for (WeightBucket.Slice s : m.bucket(index).slices()) {
                    if (byteInBucket >= s.bucketByteOffset() && byteInBucket < s.bucketByteOffset() + s.byteSize()) {
                        byte[] bytes = w.get(s.name()).segment().toArray(ValueLayout.JAVA_BYTE);
                        bytes[(int) (s.tensorByteOffset() + byteInBucket - s.bucketByteOffset())] ^= 1;
                        return "weight checksum mismatch: tensor=" + s.name() + ", version=" + version + ", expected="
                                + SyncManifest.hex(m.entries().get(s.entry()).crc32c()) + ", actual="
                                + SyncManifest.hex(SyncManifest.crc32c(MemorySegment.ofArray(bytes)));
                    }
                }
                throw new AssertionError("no tensor at byte " + byteInBucket + " of bucket " + index);
            } finally {
                closeAll(w);
            }
        }
    }

    static void flipBit(MemorySegment bytes, long byteInBucket) {
        bytes.set(ValueLayout.JAVA_BYTE, byteInBucket, (byte) (bytes.get(ValueLayout.JAVA_BYTE, byteInBucket) ^ 1));
    }

    @Test
    void shouldDetectABitFlippedBeforeSendingAndKeepTheOldWeights() throws Exception {
        // bucket 1 holds bytes 16..31 of "embed"; bucket 6 lies inside layers.0.mlp.down
        for (long[] target : new long[][] {{1, 3}, {6, 15}}) {
            String expected = corruptionMessage(0, 2, target[0], target[1]);
            List<Throwable> failures = runSmall((sync, a) -> {
                if (sync.rank() == 0) {
                    sync.bucketHook((version, bucket, bytes) -> {
                        if (version == 2 && bucket.index() == target[0]) {
                            flipBit(bytes, target[1]);
                        }
                    });
                }
                send(sync, a, 1);
                WeightSyncException e = assertThrows(WeightSyncException.class, () -> send(sync, a, 2));
                assertSyncFailure(e, WeightSyncException.Reason.PEER_FAILED,
                        "weight sync failed on other ranks: version=2, failed=[rollout 0=CHECKSUM_MISMATCH]");
                assertEquals(1, sync.version());
                send(sync, a, 3);
            }, (sync, a) -> {
                sync.receive();
                WeightSyncException e = assertThrows(WeightSyncException.class, sync::receive);
                if (sync.rank() == 0) {
                    assertSyncFailure(e, WeightSyncException.Reason.CHECKSUM_MISMATCH, expected);
                } else {
                    // rollout 1 verified its own shard, and still keeps version 1: nothing partial on any rank
                    assertSyncFailure(e, WeightSyncException.Reason.PEER_FAILED,
                            "weight sync failed on other ranks: version=2, failed=[rollout 0=CHECKSUM_MISMATCH]");
                }
                assertHolds(sync, a, 1);
                sync.receive();
                assertHolds(sync, a, 3);
            });
            assertAllSucceeded(failures);
        }
    }

    @Test
    void shouldDetectABitFlippedOnArrival() throws Exception {
        String expected = corruptionMessage(1, 1, 20, 9);
        List<Throwable> failures = runSmall((sync, a) -> {
            WeightSyncException e = assertThrows(WeightSyncException.class, () -> send(sync, a, 1));
            assertSyncFailure(e, WeightSyncException.Reason.PEER_FAILED,
                    "weight sync failed on other ranks: version=1, failed=[rollout 1=CHECKSUM_MISMATCH]");
            assertEquals(-1, sync.version());
        }, (sync, a) -> {
            if (sync.rank() == 1) {
                sync.bucketHook((version, bucket, bytes) -> {
                    if (bucket.index() == 20) {
                        flipBit(bytes, 9);
                    }
                });
            }
            WeightSyncException e = assertThrows(WeightSyncException.class, sync::receive);
            if (sync.rank() == 1) {
                assertSyncFailure(e, WeightSyncException.Reason.CHECKSUM_MISMATCH, expected);
            } else {
                assertEquals(WeightSyncException.Reason.PEER_FAILED, e.reason());
            }
            assertHolds(sync, a, 0);
        });
        assertAllSucceeded(failures);
    }

    @Test
    void shouldSyncOnlyEmptyTensors() throws Exception {
        WeightSyncTopology topo = WeightSyncTopology.of(HybridLayout.parse("1-1-2", "1-1-1"), 1);
        assertAllSucceeded(runRanks(topo.worldSize(), (rank, world) -> {
            try (Allocator root = Allocator.root("rank" + rank);
                 Tensor a = Tensor.allocate(root, DType.F32, Shape.of(0), Device.host());
                 Tensor b = Tensor.allocate(root, DType.I8, Shape.of(4, 0, 2), Device.host())) {
                Map<String, Tensor> w = new LinkedHashMap<>();
                w.put("a", a);
                w.put("b", b);
                if (rank < topo.trainerSize()) {
                    try (WeightSync sync = WeightSync.trainer(topo, rank, world, root, WeightSync.Config.defaults())) {
                        WeightSync.SyncStats stats = sync.send(9, w);
                        assertEquals(0, stats.byteSize());
                        assertEquals(0, stats.bucketCount());
                    }
                } else {
                    try (WeightSync sync = WeightSync.rollout(topo, 0, world, w, root)) {
                        WeightSync.SyncStats stats = sync.receive();
                        assertEquals(new WeightSync.SyncStats(9, 0, 0, 2, stats.timeNs()), stats);
                        assertEquals(9, sync.version());
                    }
                }
            }
        }));
    }

    /** Rollout rank 1's weights, differing from what its trainer sends in one way. */
    static Map<String, Tensor> mismatched(Allocator a, String kind) {
        Map<String, Tensor> w = zeros(a);
        switch (kind) {
            case "shape" -> w.put("norm", Tensor.allocate(a, DType.F16, Shape.of(8), Device.host())).close();
            case "dtype" -> w.put("flag", Tensor.allocate(a, DType.I8, Shape.of(1), Device.host())).close();
            case "unexpected" -> w.remove("embed").close();
            case "missing" -> w.put("lm_head", Tensor.allocate(a, DType.F32, Shape.of(2), Device.host()));
            default -> throw new IllegalArgumentException(kind);
        }
        return w;
    }

    @Test
    void shouldRejectManifestMismatchesAndKeepTheWeights() throws Exception {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("shape", "weight manifest mismatch: tensor=norm, version=4, expected shape=[8], received shape=[7]");
        cases.put("dtype", "weight manifest mismatch: tensor=flag, version=4, expected dtype=I8, received dtype=U8");
        cases.put("unexpected", "weight manifest mismatch: unexpected tensor=embed, version=4");
        cases.put("missing", "weight manifest mismatch: missing tensor=lm_head, version=4");
        String peers = "weight sync failed on other ranks: version=4, failed=[rollout 1=MANIFEST_MISMATCH]";
        for (Map.Entry<String, String> c : cases.entrySet()) {
            assertAllSucceeded(runRanks(SMALL.worldSize(), (rank, world) -> {
                try (Allocator root = Allocator.root("rank" + rank)) {
                    if (rank < SMALL.trainerSize()) {
                        try (WeightSync sync = WeightSync.trainer(SMALL, rank, world, root,
                                new WeightSync.Config(BUCKET))) {
                            WeightSyncException e = assertThrows(WeightSyncException.class, () -> send(sync, root, 4));
                            assertSyncFailure(e, WeightSyncException.Reason.PEER_FAILED, peers);
                        }
                        return;
                    }
                    int j = rank - SMALL.trainerSize();
                    Map<String, Tensor> weights = j == 1 ? mismatched(root, c.getKey()) : zeros(root);
                    try (WeightSync sync = WeightSync.rollout(SMALL, j, world, weights, root)) {
                        WeightSyncException e = assertThrows(WeightSyncException.class, sync::receive);
                        if (j == 1) {
                            assertSyncFailure(e, WeightSyncException.Reason.MANIFEST_MISMATCH, c.getValue());
                        } else {
                            assertSyncFailure(e, WeightSyncException.Reason.PEER_FAILED, peers);
                        }
                        for (Map.Entry<String, Tensor> t : sync.weights().entrySet()) {
                            try (Tensor zero = Tensor.allocate(root, t.getValue().dtype(), t.getValue().shape(),
                                    Device.host())) {
                                assertTrue(zero.contentEquals(t.getValue()), c.getKey() + " " + t.getKey());
                            }
                        }
                        assertEquals(-1, sync.version());
                    } finally {
                        closeAll(weights);
                    }
                }
            }));
        }
    }

    @Test
    void shouldReportASenderThatCannotBuildItsManifest() throws Exception {
        List<Throwable> failures = runSmall((sync, a) -> {
            try (Tensor m = Tensor.allocate(a, DType.F32, Shape.of(4, 4), Device.host())) {
                Map<String, Tensor> w = Map.of("embed", m.narrow(1, 0, 2));
                WeightSyncException e = assertThrows(WeightSyncException.class, () -> sync.send(1, w));
                if (sync.rank() < 2) {
                    assertSyncFailure(e, WeightSyncException.Reason.SENDER_FAILED, "weight sync sender failed: "
                            + "trainer=" + sync.rank() + ", version=1, cause=weight sync needs contiguous host tensors: tensor=embed, "
                            + "device=host, contiguous=false");
                } else {
                    assertSyncFailure(e, WeightSyncException.Reason.PEER_FAILED,
                            "weight sync failed on other ranks: version=1, failed=[trainer 0=SENDER_FAILED, "
                                    + "trainer 1=SENDER_FAILED]");
                }
            }
            send(sync, a, 2);
        }, (sync, a) -> {
            WeightSyncException e = assertThrows(WeightSyncException.class, sync::receive);
            assertSyncFailure(e, WeightSyncException.Reason.PEER_FAILED,
                    "weight sync failed on other ranks: version=1, failed=[trainer 0=SENDER_FAILED, "
                            + "trainer 1=SENDER_FAILED]");
            assertHolds(sync, a, 0);
            sync.receive();
            assertHolds(sync, a, 2);
        });
        assertAllSucceeded(failures);
    }

    @Test
    void shouldRefuseTheWrongRoleAndTheWrongCommunicator() throws Exception {
        assertAllSucceeded(runSmall((sync, a) -> {
            IllegalStateException e = assertThrows(IllegalStateException.class, sync::receive);
            assertEquals("weight sync endpoint has the wrong role: role=TRAINER, rank=" + sync.rank()
                    + ", expected=ROLLOUT", e.getMessage());
        }, (sync, a) -> {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> sync.send(1, Map.of()));
            assertEquals("weight sync endpoint has the wrong role: role=ROLLOUT, rank=" + sync.rank()
                    + ", expected=TRAINER", e.getMessage());
        }));
        WeightSyncTopology topo = WeightSyncTopology.of(HybridLayout.parse("1-1-2", "1-1-1"), 1);
        assertAllSucceeded(runRanks(2, (rank, world) -> {
            try (Allocator root = Allocator.root("rank" + rank)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> WeightSync.trainer(topo, rank, world, root, WeightSync.Config.defaults()));
                assertEquals("communicator does not match the sync topology: size=2, rank=" + rank
                        + ", expected size=3, rank=" + rank, e.getMessage());
            }
        }));
    }

    // ---- end to end: HybridEngine generation weights to a rollout group ----

    static Map<String, long[]> fullWeights(ModelSpec spec, long version) {
        Map<String, long[]> full = new LinkedHashMap<>();
        long base = version * 1_000_000;
        for (ParameterSpec param : spec.parameters()) {
            long[] values = new long[Math.toIntExact(param.shape().numel())];
            for (int i = 0; i < values.length; i++) {
                values[i] = base + i;
            }
            base += values.length;
            full.put(param.name(), values);
        }
        return full;
    }

    /** Writes {@code values} row-major into {@code t}, which may be a strided view (row-parallel training shards). */
    static void write(Tensor t, long[] values, Allocator a) {
        assertEquals(values.length, t.numel());
        try (Tensor dense = Tensor.allocate(a, t.dtype(), t.shape(), Device.host())) {
            for (int i = 0; i < values.length; i++) {
                dense.segment().setAtIndex(ValueLayout.JAVA_INT, i, (int) values[i]);
            }
            t.copyFrom(dense);
        }
    }

    static long[] read(Tensor t) {
        long[] out = new long[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.segment().getAtIndex(ValueLayout.JAVA_INT, i);
        }
        return out;
    }

    /** Trainers reshard with HybridFlow, then stream two versions of their generation shards to the rollout group. */
    static void assertEngineSync(String train, String gen, int rolloutSize, WeightSync.Config config)
            throws Exception {
        assertEngineSync(train, gen, rolloutSize, config, 4);
    }

    /** As above, on a model with {@code kvHeads} KV heads (replicated over TP ranks when a TP degree exceeds them). */
    static void assertEngineSync(String train, String gen, int rolloutSize, WeightSync.Config config, int kvHeads)
            throws Exception {
        HybridLayout layout = HybridLayout.parse(train, gen);
        ModelSpec spec = ModelSpec.llama(new ModelSpec.DecoderConfig(2, 32, 8, kvHeads, 16, 30, DType.I32, 8, true));
        ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, ReshardScheme.HYBRIDFLOW);
        WeightSyncTopology topo = WeightSyncTopology.of(layout, rolloutSize);
        int n = layout.worldSize();
        int versions = 2;
        List<Map<ShardMath.ShardKey, Map<String, long[]>>> trainShards = new ArrayList<>();
        List<Map<ShardMath.ShardKey, Map<String, long[]>>> genShards = new ArrayList<>();
        for (long v = 1; v <= versions; v++) {
            Map<String, long[]> full = fullWeights(spec, v);
            trainShards.add(ShardMath.shardModel(spec, full, layout.train().t(), layout.train().p()));
            genShards.add(ShardMath.shardModel(spec, full, layout.gen().tg(), layout.gen().pg()));
        }
        assertAllSucceeded(runRanks(topo.worldSize(), (rank, world) -> {
            boolean trainer = rank < n;
            try (Allocator root = Allocator.root("rank" + rank);
                 Communicator side = world.split(trainer ? 0 : 1, rank).orElseThrow()) {
                if (trainer) {
                    RankCoordinates c = layout.coordinates(rank);
                    try (HybridEngine engine = HybridEngine.create(plan, rank, side, root);
                         WeightSync sync = WeightSync.trainer(topo, rank, world, root, config)) {
                        for (int v = 1; v <= versions; v++) {
                            Map<String, long[]> mine = trainShards.get(v - 1)
                                    .get(new ShardMath.ShardKey(c.pp(), c.tp()));
                            engine.trainingWeights().forEach((name, tensor) -> write(tensor, mine.get(name), root));
                            WeightSync.SyncStats stats = sync.send(v, engine.toGeneration());
                            long bytes = plan.rank(rank).generationShapes().values().stream()
                                    .mapToLong(s -> s.numel() * 4).sum();
                            assertEquals(topo.destinations(rank).isEmpty() ? 0 : bytes, stats.byteSize());
                            engine.toTraining();
                        }
                    }
                } else {
                    int j = rank - n;
                    WeightSyncTopology.RolloutCoordinates rc = topo.rolloutCoordinates(j);
                    Map<String, Tensor> weights = WeightSync.allocateGenerationWeights(plan, topo, j, root);
                    try (WeightSync sync = WeightSync.rollout(topo, j, world, weights, root)) {
                        for (int v = 1; v <= versions; v++) {
                            sync.receive();
                            Map<String, long[]> want = genShards.get(v - 1)
                                    .get(new ShardMath.ShardKey(rc.genPp(), rc.genTp()));
                            assertEquals(want.keySet(), weights.keySet());
                            for (var e : weights.entrySet()) {
                                assertArrayEquals(want.get(e.getKey()), read(e.getValue()),
                                        train + " -> " + gen + " rollout " + j + " version " + v + " " + e.getKey());
                            }
                            assertEquals(v, sync.version());
                        }
                    } finally {
                        closeAll(weights);
                    }
                }
            }
        }));
    }

    @Test
    void shouldSyncHybridEngineShardsToOneTensorParallelReplica() throws Exception {
        // 4 trainers + 2 rollout ranks: rollout TP ranks 0 and 1 read from trainers 0 and 2
        assertEngineSync("1-4-1", "1-2-2", 2, new WeightSync.Config(100));
    }

    @Test
    void shouldSpreadRolloutReplicasOverTrainerRanksAcrossMergedStages() throws Exception {
        // training 2-2-1 merges to one stage of TP 1: replicas 0 and 1 read from trainers 0 and 1
        assertEngineSync("2-2-1", "1-1-4", 2, new WeightSync.Config(64));
    }

    @Test
    void shouldSyncToAPipelinedRolloutGroup() throws Exception {
        assertEngineSync("2-2-1", "2-1-2", 2, new WeightSync.Config(37));
    }

    @Test
    void shouldSyncTheDesignExampleToTwoReplicasInOneBucket() throws Exception {
        assertEngineSync("1-4-2", "1-2-2", 4, WeightSync.Config.defaults());
    }

    @Test
    void shouldRejectHostWeightsOnADeviceRolloutEndpoint() throws Exception {
        try (InProcessWorld world = InProcessWorld.create(SMALL.worldSize(), new Communicator.Context());
             Allocator root = Allocator.root("rollout")) {
            Map<String, Tensor> weights = zeros(root);
            try {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightSync.rollout(
                        SMALL, 0, world.communicator(SMALL.syncRankOfRollout(0)), weights, root, Device.cuda(0)));
                assertEquals("weight sync needs contiguous tensors on cuda:0: tensor=embed, device=host, "
                        + "contiguous=true", e.getMessage());
            } finally {
                closeAll(weights);
            }
        }
    }

    @Test
    void shouldSyncReplicatedKvHeadsGatheredFromTheirReplicas() throws Exception {
        // 2 KV heads on 8 trainers (each on 4 ranks) -> generation TP 2: each rollout TP rank holds one KV head
        assertEngineSync("1-8-1", "1-2-4", 2, new WeightSync.Config(100), 2);
        // 2 KV heads, generation TP 4 > 2: the rollout ranks hold the KV heads replicated as the generation shards do
        assertEngineSync("1-4-1", "1-4-1", 4, new WeightSync.Config(64), 2);
    }
}
