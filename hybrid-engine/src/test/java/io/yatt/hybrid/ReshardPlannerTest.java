package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class ReshardPlannerTest {

    /** Layer-only decoder stack: every stage holds the same bytes for any p dividing layers. */
    static ModelSpec layerStack(int layers, int kv, int ratio, long headDim, long ffn, boolean biases) {
        int heads = kv * ratio;
        long hidden = heads * headDim;
        ParameterKind.FusedQkv qkv = new ParameterKind.FusedQkv(heads, kv, headDim);
        ModelSpec.Builder b = ModelSpec.builder(layers);
        for (int i = 0; i < layers; i++) {
            String n = "layers." + i + ".";
            b.add(n + "norm", new ParameterKind.Replicated(), Shape.of(hidden), DType.BF16, i);
            b.add(n + "qkv", qkv, Shape.of(qkv.rows(), hidden), DType.BF16, i);
            if (biases) {
                b.add(n + "qkv_bias", qkv, Shape.of(qkv.rows()), DType.BF16, i);
            }
            b.add(n + "o", new ParameterKind.RowParallel(), Shape.of(hidden, hidden), DType.BF16, i);
            b.add(n + "gate_up", new ParameterKind.FusedGateUp(), Shape.of(2 * ffn, hidden), DType.BF16, i);
            b.add(n + "down", new ParameterKind.RowParallel(), Shape.of(hidden, ffn), DType.BF16, i);
            b.add(n + "down_bias", new ParameterKind.Replicated(), Shape.of(hidden), DType.BF16, i);
        }
        return b.build();
    }

    record Case(HybridLayout layout, ModelSpec spec) {
    }

    @Provide
    Arbitrary<Case> layouts64() {
        return layouts(64, false);
    }

    @Provide
    Arbitrary<Case> layouts16() {
        return layouts(16, true);
    }

    /**
     * Random valid layouts up to {@code maxWorld} ranks with stage-balanced models whose shard sizes split evenly
     * into d chunks (hidden is a multiple of d); tiny models when the plan is also simulated on arrays.
     */
    static Arbitrary<Case> layouts(int maxWorld, boolean tiny) {
        int[] pows = {1, 2, 4, 8};
        Arbitrary<Integer> pI = Arbitraries.integers().between(0, 5);
        Arbitrary<Integer> tI = Arbitraries.integers().between(0, 3);
        Arbitrary<Integer> dI = Arbitraries.integers().between(1, 8);
        Arbitrary<Long> seed = Arbitraries.longs().between(0, 1_000_000);
        return Combinators.combine(pI, tI, dI, seed).as((pi, ti, d0, s) -> {
            int p = new int[] {1, 2, 3, 4, 6, 8}[pi];
            int t = pows[ti];
            int d = d0;
            while (p * t * d > maxWorld) {
                if (d > 1) {
                    d = d / 2;
                } else if (p > 1) {
                    p = p / 2;
                } else {
                    t = t / 2;
                }
            }
            int pFinal = p;
            int tFinal = t;
            int[] pDiv = java.util.stream.IntStream.rangeClosed(1, p).filter(x -> pFinal % x == 0).toArray();
            int[] tDiv = java.util.stream.IntStream.rangeClosed(1, t).filter(x -> tFinal % x == 0).toArray();
            int pg = pDiv[(int) (s % pDiv.length)];
            int tg = tDiv[(int) ((s / 7) % tDiv.length)];
            ParallelLayout train = ParallelLayout.of(p, t, d);
            HybridLayout layout = HybridLayout.of(train, GenerationLayout.of(train, pg, tg));
            int ratio = new int[] {1, 4, 8}[(int) ((s / 11) % 3)];
            if (tiny && t * ratio > 16) {
                ratio = 1;
            }
            long headDim = tiny ? d : 2L * d;
            ModelSpec spec = (s / 13) % 2 == 0 && p <= 2
                    ? ModelSpec.llama(new ModelSpec.DecoderConfig(p, t * ratio * headDim, t * ratio, t,
                            2L * t * d, 10, DType.BF16, t, (s / 23) % 2 == 0))
                    : layerStack(p * (1 + (int) ((s / 17) % 2)), t, ratio, headDim, 2L * t * d, (s / 19) % 2 == 0);
            return new Case(layout, spec);
        });
    }

    @Property(tries = 200)
    void shouldMatchTable2ForEveryRankAndScheme(@ForAll("layouts64") Case c) {
        HybridLayout layout = c.layout();
        ModelSpec spec = c.spec();
        int p = layout.train().p();
        int t = layout.train().t();
        long m = spec.shardedByteSize();
        long tp = (long) p * t;
        long n = tp * layout.train().d();
        long tgpg = (long) layout.gen().tg() * layout.gen().pg();
        assertTrue(spec.isStageBalanced(p), "balanced model");
        ReshardPlanner planner = ReshardPlanner.create();
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = planner.plan(layout, spec, scheme);
            long expectedReceived = switch (scheme) {
                case HYBRIDFLOW -> (layout.dg() - 1) * m / tp;
                case HYBRIDFLOW_V -> (tp - 1) * m / tp;
                case DS_CHAT -> (n - 1) * m / n;
            };
            long expectedPeak = scheme == ReshardScheme.HYBRIDFLOW ? m / tgpg : m;
            assertEquals(expectedReceived, plan.formulaBytesReceived());
            assertEquals(expectedPeak, plan.formulaPeakParameterBytes());
            for (RankPlan rank : plan.ranks()) {
                assertEquals(expectedReceived, rank.bytesReceived(), scheme + " " + layout + " rank " + rank.rank());
                assertEquals(expectedPeak, rank.peakParameterBytes(), scheme + " " + layout + " rank " + rank.rank());
                assertEquals(m / tp, rank.trainingParameterBytes());
                assertEquals(m / tgpg, rank.generationParameterBytes());
                assertEquals(scheme == ReshardScheme.HYBRIDFLOW ? 0 : m / tp, rank.redundantParameterBytes());
            }
        }
    }

    @Property(tries = 80)
    void shouldPlanMovesThatBuildTheGenerationShardsBitForBit(@ForAll("layouts16") Case c) {
        PlanSimulation.assertPlansProduceGenerationShards(c.layout(), c.spec());
    }

    /**
     * A layer stack with 16 query heads of 16 elements and {@code kv} KV heads on a narrow hidden size (4), so every
     * valid TP degree up to 16 fits and a replicated KV head splits evenly among up to 16 holders.
     */
    static ModelSpec gqaStack(int layers, int kv) {
        ParameterKind.FusedQkv qkv = new ParameterKind.FusedQkv(16, kv, 16);
        ModelSpec.Builder b = ModelSpec.builder(layers);
        for (int i = 0; i < layers; i++) {
            String n = "layers." + i + ".";
            b.add(n + "norm", new ParameterKind.Replicated(), Shape.of(4), DType.BF16, i);
            b.add(n + "qkv", qkv, Shape.of(qkv.rows(), 4), DType.BF16, i);
            b.add(n + "qkv_bias", qkv, Shape.of(qkv.rows()), DType.BF16, i);
            b.add(n + "o", new ParameterKind.RowParallel(), Shape.of(4, 256), DType.BF16, i);
            b.add(n + "gate_up", new ParameterKind.FusedGateUp(), Shape.of(32, 4), DType.BF16, i);
            b.add(n + "down", new ParameterKind.RowParallel(), Shape.of(4, 16), DType.BF16, i);
        }
        return b.build();
    }

    /**
     * KV heads replicated over training TP ranks (kvHeads in {1, 2, 4, 8}, t > kvHeads up to 16, every t_g | t, p and
     * d up to 2, p_g | p): the executed steps build the generation shards bit for bit and go back; every element of
     * a gather buffer is received at most once; HybridFlow and HybridFlow-V receive exactly the extended Table 2
     * bytes on every rank and DS-Chat on average; peaks match.
     */
    @Test
    void shouldPlanReplicatedKvHeadsExactly() {
        ReshardPlanner planner = ReshardPlanner.create();
        int layouts = 0;
        for (int kv : new int[] {1, 2, 4, 8}) {
            ModelSpec spec = gqaStack(2, kv);
            long m = spec.shardedByteSize();
            long mkv = spec.kvByteSize();
            // per layer: k and v rows of the weight (2*kv*16 rows of 4) and of the bias (2*kv*16), 2 bytes each
            assertEquals(2L * (2L * kv * 16 * 4 + 2L * kv * 16) * 2, mkv);
            long head = mkv / kv;
            for (int t = kv * 2; t <= 16; t *= 2) {
                for (int p = 1; p <= 2; p++) {
                    for (int d = 1; d <= 2 && t * p * d <= 32; d++) {
                        for (int tg = 1; tg <= t; tg *= 2) {
                            for (int pg = 1; pg <= p; pg++) {
                                if (p % pg != 0) {
                                    continue;
                                }
                                HybridLayout layout = HybridLayout.parse(p + "-" + t + "-" + d,
                                        pg + "-" + tg + "-" + (t * p / (tg * pg)));
                                PlanSimulation.assertPlansProduceGenerationShards(layout, spec);
                                assertReplicatedKvBytes(planner, layout, spec, m, mkv, head);
                                layouts++;
                            }
                        }
                    }
                }
            }
        }
        assertEquals(200, layouts);
    }

    private static void assertReplicatedKvBytes(ReshardPlanner planner, HybridLayout layout, ModelSpec spec, long m,
                                                long mkv, long head) {
        int t = layout.train().t();
        int p = layout.train().p();
        int tg = layout.gen().tg();
        int pg = layout.gen().pg();
        int kv = spec.kvHeads();
        long tp = (long) t * p;
        long n = tp * layout.train().d();
        // the generation model holds max(t_g, kv) KV heads of every layer; a generation shard K/min(t_g, kv) of them
        long mg = m - mkv + head * Math.max(tg, kv);
        long genShard = (m - mkv) / ((long) tg * pg) + head * (kv / Math.min(tg, kv)) / pg;
        long trainShard = (m - mkv) / tp + head / p;
        long holders = t / Math.max(tg, kv);
        long hybridFlow = (layout.dg() - 1) * (m - mkv) / tp
                + (layout.kp() == 1 && tg >= kv ? 0 : head * (kv / Math.min(tg, kv)) / pg - head / p / holders);
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = planner.plan(layout, spec, scheme);
            String where = scheme + " " + layout + " kv=" + kv;
            assertEquals(mg, plan.generationModelBytes(), where);
            long total = 0;
            for (RankPlan rank : plan.ranks()) {
                assertEquals(trainShard, rank.trainingParameterBytes(), where);
                assertEquals(genShard, rank.generationParameterBytes(), where);
                assertEquals(scheme == ReshardScheme.HYBRIDFLOW ? genShard : mg, rank.peakParameterBytes(), where);
                switch (scheme) {
                    case HYBRIDFLOW -> assertEquals(hybridFlow, rank.bytesReceived(), where + " rank " + rank.rank());
                    case HYBRIDFLOW_V -> assertEquals((tp - 1) * mg / tp, rank.bytesReceived(), where);
                    case DS_CHAT -> total += rank.bytesReceived();
                }
                int[] hits = new int[Math.toIntExact(rank.sharded().bufferElements())];
                for (List<ReshardStep.Piece> list : rank.sharded().pieces()) {
                    for (ReshardStep.Piece piece : list) {
                        for (long row = 0; row < piece.count(); row++) {
                            for (long j = 0; j < piece.length(); j++) {
                                long at = piece.count() == 1 ? piece.dstBase() + piece.dstCol() + j
                                        : piece.dstBase() + row * piece.dstStride() + piece.dstCol() + j;
                                assertEquals(1, ++hits[(int) at], where + " element " + at);
                            }
                        }
                    }
                }
            }
            if (scheme == ReshardScheme.DS_CHAT) {
                assertEquals((n - 1) * mg, total, where);
            }
            assertEquals(scheme == ReshardScheme.HYBRIDFLOW ? genShard : mg, plan.formulaPeakParameterBytes(), where);
            assertEquals(switch (scheme) {
                case HYBRIDFLOW -> hybridFlow;
                case HYBRIDFLOW_V -> (tp - 1) * mg / tp;
                case DS_CHAT -> (n - 1) * mg / n;
            }, plan.formulaBytesReceived(), where);
        }
    }

    @Test
    void shouldPlanTheDesignExampleWithMicroDpSlots() {
        HybridLayout layout = HybridLayout.parse("1-4-2", "1-2-2-2");
        ModelSpec spec = ModelSpec.llama(2, 64, 8, 4, 128, 1000, DType.BF16, 4);
        ReshardPlan plan = ReshardPlanner.create().plan(layout, spec, ReshardScheme.HYBRIDFLOW);
        RankPlan r3 = plan.rank(3);
        // fused QKV and gate/up: the own k, v and up parts move into place first, then one micro-DP gather
        assertEquals(2, r3.steps().size());
        ReshardStep.LocalMoves moves = (ReshardStep.LocalMoves) r3.steps().get(0);
        ReshardStep.Gather gather = (ReshardStep.Gather) r3.steps().get(1);
        assertEquals(GroupKind.MICRO_DP, gather.group());
        assertEquals(List.of(2, 3), gather.ranks());
        assertEquals(1, gather.own());
        assertTrue(gather.sendsFromTargets());
        long shard = spec.shardedByteSize() / 4;
        int es = 2;
        assertEquals(shard / es, gather.sentElements(0));
        assertEquals(shard / es, gather.sentElements(1));
        assertEquals(shard, r3.bytesReceived());
        assertEquals(2 * shard / es, gather.bufferElements());
        // per layer (head dim 8, t=4): q (2 heads, 16 rows of 64) stays, k and v (8 rows each) move; gate stays,
        // up (ffn/t = 32 rows of 64) moves
        assertEquals(2 * (8 + 8 + 32) * 64, moves.elements());
        assertEquals(1, r3.releaseSteps().size());
        assertEquals(new HashSet<>(reversed(moves.moves())),
                new HashSet<>(((ReshardStep.LocalMoves) r3.releaseSteps().getFirst()).moves()));
        assertEquals("embed_tokens.weight", r3.generationShapes().keySet().iterator().next());
        assertEquals(Shape.of((8 + 2 * 4) * 8 / 2, 64), r3.generationShapes().get("layers.0.self_attn.qkv_proj.weight"));
        assertEquals(Shape.of(64, 128 / 2), r3.generationShapes().get("layers.1.mlp.down_proj.weight"));
        assertEquals(Shape.of(64), r3.generationShapes().get("norm.weight"));
        assertEquals(0, r3.replicatedBytesReceived());
    }

    private static List<ReshardStep.Move> reversed(List<ReshardStep.Move> moves) {
        List<ReshardStep.Move> out = new ArrayList<>();
        for (ReshardStep.Move m : moves) {
            out.add(new ReshardStep.Move(m.target(), m.source(), m.length()));
        }
        return out;
    }

    @Test
    void shouldCountReplicatedParametersApartWhenStagesMerge() {
        HybridLayout layout = HybridLayout.parse("2-2-1", "1-2-2");
        ModelSpec spec = ModelSpec.llama(2, 16, 2, 2, 32, 30, DType.F32, 2);
        RankPlan r0 = ReshardPlanner.create().plan(layout, spec, ReshardScheme.HYBRIDFLOW).rank(0);
        // rank 0 (stage 0) receives stage 1's norms: layer 1's two norms and the final norm, 16 floats each
        assertEquals(3 * 16 * 4, r0.replicatedBytesReceived());
        // t = t_g: fused shards are already in generation order, so no local moves; two gathers
        assertEquals(2, r0.steps().size());
        assertEquals(List.of(), r0.releaseSteps());
        ReshardStep.Gather replicated = (ReshardStep.Gather) r0.steps().get(1);
        assertTrue(replicated.replicated());
        assertEquals(GroupKind.MICRO_PP, replicated.group());
        assertEquals(List.of(0, 2), replicated.ranks());
        // unbalanced stages (embedding on 0 = lm_head on 1 here, so balanced): M - own shard
        assertEquals(spec.shardedByteSize() / 2 - spec.shardedByteSize() / 4, r0.bytesReceived());
    }

    @Test
    void shouldReportExactBytesForUnbalancedStages() {
        HybridLayout layout = HybridLayout.parse("4-1-1", "1-1-4");
        ModelSpec spec = ModelSpec.llama(4, 16, 2, 2, 32, 30, DType.F32, 1);
        assertEquals(false, spec.isStageBalanced(4));
        ReshardPlan plan = ReshardPlanner.create().plan(layout, spec, ReshardScheme.HYBRIDFLOW);
        long m = spec.shardedByteSize();
        long[] received = plan.bytesReceivedPerRank();
        long total = 0;
        for (int r = 0; r < 4; r++) {
            assertEquals(m, plan.rank(r).peakParameterBytes());
            assertEquals(m - plan.rank(r).trainingParameterBytes(), received[r]);
            total += received[r];
        }
        // the mean still equals the formula (d_g - 1) * M / (t*p)
        assertEquals(plan.formulaBytesReceived() * 4, total);
        PlanSimulation.assertPlansProduceGenerationShards(layout, spec);
    }

    @Test
    void shouldCachePlansPerLayoutModelAndScheme() {
        ReshardPlanner planner = ReshardPlanner.create();
        ModelSpec spec = ModelSpec.llama(2, 64, 8, 4, 128, 1000, DType.BF16, 4);
        ReshardPlan a = planner.plan(HybridLayout.parse("1-4-2", "1-2-2"), spec, ReshardScheme.HYBRIDFLOW);
        assertSame(a, planner.plan(HybridLayout.parse("1-4-2", "1-2-2-2"), spec, ReshardScheme.HYBRIDFLOW));
        assertSame(a, planner.plan(HybridLayout.parse("1-4-2", "1-2-2"),
                ModelSpec.llama(2, 64, 8, 4, 128, 1000, DType.BF16, 4), ReshardScheme.HYBRIDFLOW));
        planner.plan(HybridLayout.parse("1-4-2", "1-2-2"), spec, ReshardScheme.DS_CHAT);
        assertEquals(2, planner.cachedPlanCount());
    }

    @Test
    void shouldRejectModelsThatDoNotFitTheLayout() {
        ModelSpec spec = ModelSpec.llama(2, 64, 8, 2, 128, 1000, DType.BF16, 4);
        ModelSpec threeKv = ModelSpec.llama(2, 96, 12, 3, 128, 1000, DType.BF16, 4);
        assertEquals("training TP and kv heads must divide one another: kvHeads=3, t=4, "
                + "parameter=layers.0.self_attn.qkv_proj.weight",
                assertThrows(IllegalArgumentException.class, () -> ReshardPlanner.create()
                        .plan(HybridLayout.parse("1-4-1", "1-2-2"), threeKv, ReshardScheme.HYBRIDFLOW)).getMessage());
        assertEquals("generation TP and kv heads must divide one another: kvHeads=4, t_g=6, "
                + "parameter=layers.0.self_attn.qkv_proj.weight",
                assertThrows(IllegalArgumentException.class, () -> ReshardPlanner.create().plan(
                        HybridLayout.parse("1-12-1", "1-6-2"), ModelSpec.llama(2, 96, 24, 4, 144, 1000, DType.BF16, 12),
                        ReshardScheme.HYBRIDFLOW)).getMessage());
        assertEquals("training TP must divide the heads: heads=6, t=4, parameter=layers.0.self_attn.qkv_proj.weight",
                assertThrows(IllegalArgumentException.class, () -> ModelSpec.llama(2, 48, 6, 2, 128, 1000,
                        DType.BF16, 4).validateFor(ParallelLayout.of(1, 4, 1))).getMessage());
        assertEquals("pipeline stages must divide layers: layers=2, p=4",
                assertThrows(IllegalArgumentException.class, () -> ReshardPlanner.create()
                        .plan(HybridLayout.parse("4-1-1", "1-1-4"), spec, ReshardScheme.HYBRIDFLOW)).getMessage());
        ModelSpec odd = ModelSpec.llama(2, 64, 8, 8, 128, 1001, DType.BF16, 1);
        assertEquals("training TP must divide the padded vocab: paddedVocab=1001, t=4, parameter=embed_tokens.weight"
                + " (pad the vocab to a multiple of the largest TP degree)",
                assertThrows(IllegalArgumentException.class, () -> odd.validateFor(ParallelLayout.of(1, 4, 1)))
                        .getMessage());
        assertEquals("heads must be a multiple of kv heads: heads=8, kvHeads=3", assertThrows(
                IllegalArgumentException.class, () -> ModelSpec.llama(2, 64, 8, 3, 128, 10, DType.BF16, 1))
                .getMessage());
        assertEquals("unknown reshard scheme: scheme=zero, expected one of [hybridflow, hybridflow-v, ds-chat]",
                assertThrows(IllegalArgumentException.class, () -> ReshardScheme.parse("zero")).getMessage());
        assertEquals(ReshardScheme.HYBRIDFLOW_V, ReshardScheme.parse("HybridFlow-V"));
    }

    @Test
    void shouldPadTheVocabularyOnBothSides() {
        ModelSpec spec = ModelSpec.llama(2, 64, 8, 8, 128, 1001, DType.BF16, 8);
        assertEquals(Shape.of(1008, 64), spec.parameter("embed_tokens.weight").shape());
        assertEquals(Shape.of(1008, 64), spec.parameter("lm_head.weight").shape());
        assertEquals(new ParameterKind.VocabParallel(1001), spec.parameter("embed_tokens.weight").kind());
    }

    @Test
    void shouldPlaceEveryTrainingShardInsideItsGenerationShardDisjointly() {
        HybridLayout layout = HybridLayout.parse("2-4-1", "1-2-4");
        ModelSpec spec = ModelSpec.llama(4, 64, 8, 4, 128, 1000, DType.BF16, 4);
        ReshardPlan plan = ReshardPlanner.create().plan(layout, spec, ReshardScheme.HYBRIDFLOW);
        for (List<Integer> group : layout.microDpGroups()) {
            ReshardStep.Gather g = plan.rank(group.get(0)).sharded();
            assertEquals(group, g.ranks());
            // every element of the generation shard is the target of exactly one piece of one member
            int[] hits = new int[Math.toIntExact(g.bufferElements())];
            for (int i = 0; i < group.size(); i++) {
                assertEquals(plan.rank(group.get(i)).trainingParameterBytes() / 2, g.sentElements(i));
                for (ReshardStep.Piece piece : g.pieces().get(i)) {
                    for (long row = 0; row < piece.count(); row++) {
                        for (long j = 0; j < piece.length(); j++) {
                            hits[(int) (piece.count() == 1 ? piece.dstBase() + piece.dstCol() + j
                                    : piece.dstBase() + row * piece.dstStride() + piece.dstCol() + j)]++;
                        }
                    }
                }
            }
            assertEquals(plan.rank(group.get(0)).generationParameterBytes() / 2, hits.length);
            for (int i = 0; i < hits.length; i++) {
                assertEquals(1, hits[i], "element " + i + " of the generation shard of group " + group);
            }
        }
        Map<String, Shape> shapes = plan.rank(5).generationShapes();
        assertEquals(new ArrayList<>(shapes.keySet()).subList(0, 2),
                List.of("embed_tokens.weight", "layers.0.self_attn.qkv_proj.weight"));
        assertArrayEquals(new long[] {64, 128 / 2}, shapes.get("layers.3.mlp.down_proj.weight").dims());
    }
}
