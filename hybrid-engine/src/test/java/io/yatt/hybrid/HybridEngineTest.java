package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

class HybridEngineTest {

    interface RankBody {
        void run(int rank, Communicator world) throws Exception;
    }

    static void runRanks(int n, RankBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try (InProcessWorld world = InProcessWorld.create(n,
                new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)))) {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    body.run(rank, world.communicator(rank));
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

    /** Writes {@code values} in row-major order into {@code t} (any layout: row-parallel training views are strided). */
    static void write(Tensor t, long[] values) {
        assertEquals(values.length, t.numel());
        for (int i = 0; i < values.length; i++) {
            t.setDouble(values[i], index(t, i));
        }
    }

    static long[] read(Tensor t) {
        long[] out = new long[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = (long) t.getDouble(index(t, i));
        }
        return out;
    }

    private static long[] index(Tensor t, long flat) {
        long[] dims = t.shape().dims();
        long[] index = new long[dims.length];
        for (int d = dims.length - 1; d >= 0; d--) {
            index[d] = flat % dims[d];
            flat /= dims[d];
        }
        return index;
    }

    /** Executes every scheme on the in-process backend and checks weights, bytes and peak against plan and reference. */
    static void assertExecutes(HybridLayout layout, ModelSpec spec) throws Exception {
        int p = layout.train().p();
        int t = layout.train().t();
        Map<String, long[]> full = ShardMathTest.fullWeights(spec);
        var train = ShardMath.shardModel(spec, full, t, p);
        var expected = ShardMath.shardModel(spec, full, layout.gen().tg(), layout.gen().pg());
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            runRanks(layout.worldSize(), (rank, world) -> {
                RankCoordinates c = layout.coordinates(rank);
                try (Allocator root = Allocator.root("rank" + rank);
                     HybridEngine engine = HybridEngine.create(plan, rank, world, root)) {
                    Map<String, long[]> mine = train.get(new ShardMath.ShardKey(c.pp(), c.tp()));
                    assertEquals(mine.keySet(), engine.trainingWeights().keySet());
                    for (var e : engine.trainingWeights().entrySet()) {
                        write(e.getValue(), mine.get(e.getKey()));
                    }
                    Map<String, long[]> want = expected.get(new ShardMath.ShardKey(c.genPp(), c.genTp()));
                    for (int round = 0; round < 2; round++) {
                        Map<String, Tensor> gen = engine.toGeneration();
                        assertEquals(want.keySet(), gen.keySet());
                        for (var e : gen.entrySet()) {
                            assertArrayEquals(want.get(e.getKey()), read(e.getValue()),
                                    scheme + " " + layout + " rank " + rank + " " + e.getKey());
                        }
                        RankPlan rp = plan.rank(rank);
                        HybridEngine.TransitionStats stats = engine.lastTransition();
                        assertCountedBytesMatchPlan(plan, rank, stats);
                        assertEquals(rp.peakParameterBytes(), stats.peakParameterBytes(), "peak, rank " + rank);
                        // in-process: direct placement, no scratch, so the transition holds the parameters alone
                        assertEquals(rp.peakParameterBytes(), stats.peakBytes(), "peak of all bytes, rank " + rank);
                        engine.toTraining();
                        for (var e : engine.trainingWeights().entrySet()) {
                            assertArrayEquals(mine.get(e.getKey()), read(e.getValue()), "round trip " + e.getKey());
                        }
                    }
                }
            });
        }
    }

    /** The counted bytes received (sharded and replicated) equal the plan's, which the planner tests hold to Table 2. */
    static void assertCountedBytesMatchPlan(ReshardPlan plan, int rank, HybridEngine.TransitionStats stats) {
        RankPlan rp = plan.rank(rank);
        assertEquals(rp.bytesReceived(), stats.bytesReceived(), plan.scheme() + " counted bytes received, rank " + rank);
        assertEquals(rp.replicatedBytesReceived(), stats.replicatedBytesReceived(),
                plan.scheme() + " counted replicated bytes received, rank " + rank);
    }

    /** The Table 2 check on a stage-balanced model: counted bytes received and peak equal the formulas. */
    static void assertTable2(ReshardPlan plan, int rank, HybridEngine.TransitionStats stats) {
        assertEquals(plan.formulaBytesReceived(), stats.bytesReceived(),
                plan.scheme() + " counted bytes received vs Table 2, rank " + rank);
        assertEquals(plan.formulaPeakParameterBytes(), stats.peakParameterBytes(),
                plan.scheme() + " peak parameter bytes vs Table 2, rank " + rank);
    }

    @Test
    void shouldCountTable2BytesReceivedForEverySchemeOnEightRanks() throws Exception {
        HybridLayout layout = HybridLayout.parse("1-8-1", "1-2-4");
        ModelSpec spec = ModelSpec.llama(2, 128, 8, 8, 256, 1000, DType.BF16, 8);
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            runRanks(layout.worldSize(), (rank, world) -> {
                try (Allocator root = Allocator.root("rank" + rank);
                     HybridEngine engine = HybridEngine.create(plan, rank, world, root)) {
                    engine.toGeneration();
                    assertTable2(plan, rank, engine.lastTransition());
                    engine.toTraining();
                }
            });
        }
    }

    @Test
    void shouldChargeTheStagingOfABackendWithoutDirectPlacementToTheTransition() throws Exception {
        HybridLayout layout = HybridLayout.parse("1-8-1", "1-2-4");
        ModelSpec spec = ModelSpec.llama(2, 128, 8, 8, 256, 1000, DType.BF16, 8);
        long m = spec.shardedByteSize();
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            runRanks(layout.worldSize(), (rank, world) -> {
                try (Allocator root = Allocator.root("rank" + rank);
                     HybridEngine engine = HybridEngine.create(plan, rank, new StagingCommunicator(world), root)) {
                    engine.toGeneration();
                    HybridEngine.TransitionStats stats = engine.lastTransition();
                    assertTable2(plan, rank, stats);
                    // the default allGatherv stages every member's pieces: the gather's whole buffer once more
                    // (HybridFlow M/(t_g*p_g) = M/2 here, the baselines M), on top of the parameters
                    long staging = scheme == ReshardScheme.HYBRIDFLOW ? m / 2 : m;
                    assertEquals(plan.formulaPeakParameterBytes() + staging, stats.peakBytes(),
                            scheme + " peak of all bytes, rank " + rank);
                    assertEquals(0, engine.transitionAllocator().allocatedBytes() - (scheme == ReshardScheme.HYBRIDFLOW
                            ? m / 2 : m), scheme + " scratch freed, rank " + rank);
                    engine.toTraining();
                }
            });
        }
    }

    @Test
    void shouldFailTheTable2CheckWhenTheBackendSilentlyDropsOnePiece() throws Exception {
        HybridLayout layout = HybridLayout.parse("1-8-1", "1-2-4");
        ModelSpec spec = ModelSpec.llama(2, 128, 8, 8, 256, 1000, DType.BF16, 8);
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            runRanks(layout.worldSize(), (rank, world) -> {
                try (Allocator root = Allocator.root("rank" + rank);
                     HybridEngine engine = HybridEngine.create(plan, rank, new PieceDroppingCommunicator(world), root)) {
                    engine.toGeneration();
                    Communicator gather = engine.communicator(scheme.gatherGroup());
                    boolean receivesFromTheDropper = gather.rank() != gather.size() - 1;
                    HybridEngine.TransitionStats stats = engine.lastTransition();
                    if (receivesFromTheDropper) {
                        assertThrows(AssertionFailedError.class, () -> assertTable2(plan, rank, stats),
                                scheme + " rank " + rank + " must see the dropped piece");
                        assertTrue(stats.bytesReceived() < plan.formulaBytesReceived(), scheme + " rank " + rank);
                    } else {
                        assertTable2(plan, rank, stats);
                    }
                    engine.toTraining();
                }
            });
        }
    }

    @Test
    void shouldReshardTheDesignExampleOnEightRanks() throws Exception {
        HybridLayout layout = HybridLayout.parse("1-4-2", "1-2-2");
        assertExecutes(layout, ModelSpec.llama(new ModelSpec.DecoderConfig(2, 32, 8, 4, 16, 30, DType.I32, 4, true)));
    }

    @Test
    void shouldReshardWithPipelineMergeAndUnbalancedStages() throws Exception {
        assertExecutes(HybridLayout.parse("4-2-1", "2-1-4"),
                ModelSpec.llama(new ModelSpec.DecoderConfig(4, 16, 4, 2, 8, 30, DType.I32, 2, false)));
    }

    @Test
    void shouldReshardReplicatedKvHeadsBitForBit() throws Exception {
        // t = 8 > 4 KV heads -> t_g = 2 < 4: each generation rank gathers 2 KV heads from 4 replicas
        assertExecutes(HybridLayout.parse("1-8-1", "1-2-4"),
                ModelSpec.llama(new ModelSpec.DecoderConfig(2, 64, 8, 4, 16, 30, DType.I32, 8, true)));
        // one KV head (MQA) on 4 TP ranks, data parallel 2 -> t_g = 2: every member already holds the head
        assertExecutes(HybridLayout.parse("1-4-2", "1-2-2"),
                ModelSpec.llama(new ModelSpec.DecoderConfig(2, 32, 8, 1, 16, 30, DType.I32, 4, false)));
        // 2 KV heads on 4 TP ranks with a pipeline merge: members of the other stage need the heads sent once
        assertExecutes(HybridLayout.parse("2-4-1", "1-2-4"),
                ModelSpec.llama(new ModelSpec.DecoderConfig(2, 32, 8, 2, 16, 30, DType.I32, 4, true)));
    }

    @Test
    void shouldCountTheExtendedTable2BytesForReplicatedKvHeads() throws Exception {
        HybridLayout layout = HybridLayout.parse("1-8-1", "1-2-4");
        // 32 heads of 4, 4 KV heads: each KV head is held by 2 training ranks, each sending half of it
        ModelSpec spec = ModelSpec.llama(2, 128, 32, 4, 256, 1000, DType.BF16, 8);
        long m = spec.shardedByteSize();
        long kv = spec.kvByteSize();
        // (d_g - 1) * M_s/(t*p) + M_kv/(K) * (K/t_g) - M_kv/K * max(t_g, K)/(t*p) with d_g = 4
        long hybridFlow = 3 * (m - kv) / 8 + kv / 4 * 2 - kv / 4 / 2;
        for (ReshardScheme scheme : List.of(ReshardScheme.HYBRIDFLOW, ReshardScheme.HYBRIDFLOW_V)) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            assertEquals(scheme == ReshardScheme.HYBRIDFLOW ? hybridFlow : 7 * m / 8, plan.formulaBytesReceived());
            runRanks(layout.worldSize(), (rank, world) -> {
                try (Allocator root = Allocator.root("rank" + rank);
                     HybridEngine engine = HybridEngine.create(plan, rank, world, root)) {
                    engine.toGeneration();
                    assertTable2(plan, rank, engine.lastTransition());
                    engine.toTraining();
                }
            });
        }
    }

    @Provide
    Arbitrary<ReshardPlannerTest.Case> layouts16() {
        return ReshardPlannerTest.layouts(16, true).map(c -> new ReshardPlannerTest.Case(c.layout(), asInt(c.spec())));
    }

    static ModelSpec asInt(ModelSpec spec) {
        ModelSpec.Builder b = ModelSpec.builder(spec.layers());
        for (ParameterSpec p : spec.parameters()) {
            b.add(p.name(), p.kind(), p.shape(), DType.I32, p.layer());
        }
        return b.build();
    }

    @Property(tries = 25)
    void shouldExecuteEverySchemeBitForBitUpToSixteenRanks(@ForAll("layouts16") ReshardPlannerTest.Case c)
            throws Exception {
        assertExecutes(c.layout(), c.spec());
    }

    @Test
    void shouldRejectUseInTheWrongState() throws Exception {
        HybridLayout layout = HybridLayout.parse("1-1-1", "1-1-1");
        ModelSpec spec = ModelSpec.llama(1, 8, 2, 2, 8, 10, DType.F32, 1);
        ReshardPlan plan = ReshardPlanner.create().plan(layout, spec, ReshardScheme.HYBRIDFLOW);
        runRanks(1, (rank, world) -> {
            try (Allocator root = Allocator.root("r"); HybridEngine engine = HybridEngine.create(plan, 0, world, root)) {
                assertEquals("hybrid engine in wrong state: rank=0, state=TRAINING, expected=GENERATION",
                        assertThrows(IllegalStateException.class, engine::generationWeights).getMessage());
                engine.toGeneration();
                assertThrows(IllegalStateException.class, engine::trainingWeights);
                engine.toTraining();
            }
        });
    }

    @Property(tries = 200)
    void shouldSplitAnOverlappingDeviceMoveIntoDisjointChunksThatActLikeMemmove(
            @ForAll("moveStarts") int source, @ForAll("moveStarts") int target, @ForAll("moveLengths") int length) {
        long[] buffer = new long[64];
        for (int i = 0; i < buffer.length; i++) {
            buffer[i] = 1000 + i;
        }
        long[] expected = buffer.clone();
        System.arraycopy(buffer, source, expected, target, length); // memmove semantics
        for (long[] chunk : HybridEngine.memmoveChunks(source, target, length)) {
            long from = chunk[0];
            long to = chunk[1];
            long n = chunk[2];
            assertTrue(from + n <= to || to + n <= from, "chunk overlaps itself: " + java.util.Arrays.toString(chunk));
            long[] copied = java.util.Arrays.copyOfRange(buffer, (int) from, (int) (from + n));
            System.arraycopy(copied, 0, buffer, (int) to, (int) n);
        }
        assertArrayEquals(expected, buffer, "source=" + source + ", target=" + target + ", length=" + length);
    }

    @Provide
    Arbitrary<Integer> moveStarts() {
        return net.jqwik.api.Arbitraries.integers().between(0, 32);
    }

    @Provide
    Arbitrary<Integer> moveLengths() {
        return net.jqwik.api.Arbitraries.integers().between(0, 32);
    }

    @Test
    void shouldMoveDownInFrontToBackChunksOfTheDistance() {
        List<long[]> chunks = HybridEngine.memmoveChunks(10, 4, 14);
        assertEquals(List.of("10,4,6", "16,10,6", "22,16,2"), chunks.stream()
                .map(c -> c[0] + "," + c[1] + "," + c[2]).toList());
    }
}
