package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class ShardMathTest {

    static long[] iota(long n, long base) {
        long[] a = new long[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            a[i] = base + i;
        }
        return a;
    }

    static Map<String, long[]> fullWeights(ModelSpec spec) {
        Map<String, long[]> full = new LinkedHashMap<>();
        long base = 0;
        for (ParameterSpec p : spec.parameters()) {
            full.put(p.name(), iota(p.shape().numel(), base));
            base += p.shape().numel();
        }
        return full;
    }

    @Test
    void shouldShardFusedQkvAsQkvPerGroupSlice() {
        // 4 q heads, 2 kv heads (ratio 2), headDim 1, hidden 1: rows [q0 q1 q2 q3 k0 k1 v0 v1]
        ParameterSpec qkv = new ParameterSpec("layers.0.qkv", new ParameterKind.FusedQkv(4, 2, 1), Shape.of(8, 1),
                DType.BF16, 0);
        long[] w = iota(8, 0);
        assertArrayEquals(new long[] {0, 1, 4, 6}, ShardMath.shard(qkv, w, 2, 0));
        assertArrayEquals(new long[] {2, 3, 5, 7}, ShardMath.shard(qkv, w, 2, 1));
        // concatenating the fused shards directly would give a different (wrong) tensor
        assertFalse(java.util.Arrays.equals(w, new long[] {0, 1, 4, 6, 2, 3, 5, 7}));
        assertArrayEquals(w, ShardMath.reshard(qkv, List.of(ShardMath.shard(qkv, w, 2, 0), ShardMath.shard(qkv, w, 2, 1)),
                2, 1, 0));
    }

    @Test
    void shouldReplicateKvHeadsWhenTpExceedsThem() {
        // 4 q heads, 2 kv heads, headDim 1: rows [q0 q1 q2 q3 k0 k1 v0 v1]; at t=4 rank r holds [q_r; k_{r/2}; v_{r/2}]
        ParameterSpec qkv = new ParameterSpec("layers.0.qkv", new ParameterKind.FusedQkv(4, 2, 1), Shape.of(8, 1),
                DType.BF16, 0);
        long[] w = iota(8, 0);
        assertArrayEquals(new long[] {0, 4, 6}, ShardMath.shard(qkv, w, 4, 0));
        assertArrayEquals(new long[] {1, 4, 6}, ShardMath.shard(qkv, w, 4, 1));
        assertArrayEquals(new long[] {2, 5, 7}, ShardMath.shard(qkv, w, 4, 2));
        assertArrayEquals(new long[] {3, 5, 7}, ShardMath.shard(qkv, w, 4, 3));
        assertEquals(Shape.of(3, 1), qkv.shardShape(4));
        assertEquals(2, ShardMath.kvReplicas(qkv, 4));
        assertEquals(1, ShardMath.kvReplicas(qkv, 2));
    }

    @Test
    void shouldSplitAReplicatedKvHeadEquallyAmongItsHolders() {
        // headDim 2: rows [q0 q0' q1 q1' q2 q2' q3 q3' k0 k0' k1 k1' v0 v0' v1 v1']; t=4 -> 1: k0 is held by shards
        // 0 and 1 (at rows 2-3 of each shard), so shard 0 sends its first row and shard 1 its second
        ParameterSpec qkv = new ParameterSpec("layers.0.qkv", new ParameterKind.FusedQkv(4, 2, 2), Shape.of(16),
                DType.BF16, 0);
        assertEquals(List.of(new ShardMath.ShardPiece(0, 0, 0, 2), new ShardMath.ShardPiece(1, 0, 2, 2),
                new ShardMath.ShardPiece(2, 0, 4, 2), new ShardMath.ShardPiece(3, 0, 6, 2),
                new ShardMath.ShardPiece(0, 2, 8, 1), new ShardMath.ShardPiece(1, 3, 9, 1),
                new ShardMath.ShardPiece(2, 2, 10, 1), new ShardMath.ShardPiece(3, 3, 11, 1),
                new ShardMath.ShardPiece(0, 4, 12, 1), new ShardMath.ShardPiece(1, 5, 13, 1),
                new ShardMath.ShardPiece(2, 4, 14, 1), new ShardMath.ShardPiece(3, 5, 15, 1)),
                ShardMath.pieces(qkv, 4, 1, 0));
        // t=4 -> 2 (t_g = kvHeads): shard 1 of 2 is [q2 q3 k1 v1], built from shards 2 and 3
        assertEquals(List.of(new ShardMath.ShardPiece(2, 0, 0, 2), new ShardMath.ShardPiece(3, 0, 2, 2),
                new ShardMath.ShardPiece(2, 2, 4, 1), new ShardMath.ShardPiece(3, 3, 5, 1),
                new ShardMath.ShardPiece(2, 4, 6, 1), new ShardMath.ShardPiece(3, 5, 7, 1)),
                ShardMath.pieces(qkv, 4, 2, 1));
        // back 2 -> 4: shard 3 of 4 is [q3 k1 v1], all from shard 1 of 2
        assertEquals(List.of(new ShardMath.ShardPiece(1, 2, 0, 2), new ShardMath.ShardPiece(1, 4, 2, 2),
                new ShardMath.ShardPiece(1, 6, 4, 2)), ShardMath.pieces(qkv, 2, 4, 3));
        // shard 3 of 4 sits in shard 1 of 2 at its q3 slot and the k1, v1 slots
        assertEquals(List.of(new ShardMath.ShardPiece(3, 0, 2, 2), new ShardMath.ShardPiece(3, 2, 4, 2),
                new ShardMath.ShardPiece(3, 4, 6, 2)), ShardMath.placement(qkv, 4, 2, 3));
    }

    @Test
    void shouldRejectTpDegreesThatDoNotFitTheKvHeads() {
        ParameterSpec qkv = new ParameterSpec("layers.0.qkv", new ParameterKind.FusedQkv(12, 4, 1), Shape.of(20, 1),
                DType.BF16, 0);
        assertEquals("TP degree and kv heads must divide one another: t=6, kvHeads=4, name=layers.0.qkv",
                assertThrows(IllegalArgumentException.class, () -> ShardMath.shard(qkv, iota(20, 0), 6, 0))
                        .getMessage());
        assertEquals("TP degree and kv heads must divide one another: t=6, kvHeads=4, name=layers.0.qkv",
                assertThrows(IllegalArgumentException.class, () -> qkv.shardShape(6)).getMessage());
    }

    /**
     * Fused QKV (weight and bias, headDim 3 so that replicated heads split unevenly) with kvHeads in {1, 2, 4, 8},
     * every valid t up to 16 and every t_g dividing t that fits the KV heads: reshard(shard(W, t), t_g) equals
     * shard(W, t_g) and the way back gives the training shards.
     */
    @Test
    void shouldReshardGroupedQueryAttentionForEveryValidDegree() {
        int cases = 0;
        for (int kv : new int[] {1, 2, 4, 8}) {
            for (int t = 1; t <= 16; t++) {
                if (kv % t != 0 && t % kv != 0) {
                    continue;
                }
                for (int tg = 1; tg <= t; tg++) {
                    if (t % tg != 0 || (kv % tg != 0 && tg % kv != 0)) {
                        continue;
                    }
                    int heads = Math.max(t, kv) * 2;
                    ParameterKind.FusedQkv kind = new ParameterKind.FusedQkv(heads, kv, 3);
                    for (ParameterSpec p : List.of(
                            new ParameterSpec("qkv", kind, Shape.of(kind.rows(), 2), DType.BF16, ParameterSpec.LAST_STAGE),
                            new ParameterSpec("qkvbias", kind, Shape.of(kind.rows()), DType.BF16,
                                    ParameterSpec.LAST_STAGE))) {
                        assertReshardsBothWays(p, t, tg);
                        cases++;
                    }
                }
            }
        }
        // (t, t_g) pairs: kv=1 -> 50 (sum of divisor counts of 1..16), kv=2 -> 29, kv=4 -> 19, kv=8 -> 15
        assertEquals(2 * (50 + 29 + 19 + 15), cases);
    }

    private static void assertReshardsBothWays(ParameterSpec p, int t, int tg) {
        long[] w = iota(p.shape().numel(), 1000);
        List<long[]> train = new ArrayList<>();
        for (int s = 0; s < t; s++) {
            train.add(ShardMath.shard(p, w, t, s));
        }
        List<long[]> gen = new ArrayList<>();
        for (int g = 0; g < tg; g++) {
            long[] resharded = ShardMath.reshard(p, train, t, tg, g);
            assertArrayEquals(ShardMath.shard(p, w, tg, g), resharded, p.name() + " t=" + t + " tg=" + tg + " " + g);
            gen.add(resharded);
        }
        for (int s = 0; s < t; s++) {
            assertArrayEquals(train.get(s), ShardMath.reshard(p, gen, tg, t, s),
                    p.name() + " round trip t=" + t + " tg=" + tg + " shard " + s);
        }
    }

    /** Whole models with replicated KV heads (kvHeads in {1, 2, 4}, t up to 8) and pipeline merges, both ways. */
    @Test
    void shouldReshardWholeModelsWithReplicatedKvHeads() {
        for (int kv : new int[] {1, 2, 4}) {
            for (int t : new int[] {2, 4, 8}) {
                if (t <= kv) {
                    continue;
                }
                for (int tg = 1; tg <= t; tg *= 2) {
                    for (int[] pp : new int[][] {{1, 1}, {2, 1}, {2, 2}}) {
                        ModelSpec spec = ModelSpec.llama(new ModelSpec.DecoderConfig(2, t * 2L * 2, t * 2, kv,
                                2L * t, 5, DType.BF16, t, tg % 2 == 0));
                        Map<String, long[]> full = fullWeights(spec);
                        var train = ShardMath.shardModel(spec, full, t, pp[0]);
                        var gen = ShardMath.reshardModel(spec, train, t, pp[0], tg, pp[1]);
                        assertShardsEqual(ShardMath.shardModel(spec, full, tg, pp[1]), gen);
                        assertShardsEqual(train, ShardMath.reshardModel(spec, gen, tg, pp[1], t, pp[0]));
                    }
                }
            }
        }
    }

    @Test
    void shouldShardRowParallelOnColumnsAndGateUpPerComponent() {
        ParameterSpec row = new ParameterSpec("layers.0.down", new ParameterKind.RowParallel(), Shape.of(2, 4),
                DType.F32, 0);
        assertArrayEquals(new long[] {2, 3, 6, 7}, ShardMath.shard(row, iota(8, 0), 2, 1));
        ParameterSpec gateUp = new ParameterSpec("layers.0.gu", new ParameterKind.FusedGateUp(), Shape.of(4, 2),
                DType.F32, 0);
        // rows [g0 g1 u0 u1], shard 1 = [g1; u1]
        assertArrayEquals(new long[] {2, 3, 6, 7}, ShardMath.shard(gateUp, iota(8, 0), 2, 1));
        assertEquals(List.of(new ShardMath.ShardPiece(0, 0, 0, 1), new ShardMath.ShardPiece(1, 0, 1, 1),
                new ShardMath.ShardPiece(0, 1, 2, 1), new ShardMath.ShardPiece(1, 1, 3, 1)),
                ShardMath.pieces(gateUp, 2, 1, 0));
    }

    @Test
    void shouldRenumberLayersOnPipelineMerge() {
        ModelSpec spec = ModelSpec.llama(4, 8, 2, 1, 8, 10, DType.BF16, 2);
        ParameterSpec p = spec.parameter("layers.3.mlp.down_proj.weight");
        assertEquals(1, p.stage(2, 4));
        assertEquals("layers.1.mlp.down_proj.weight", p.localName(2, 4));
        assertEquals("layers.3.mlp.down_proj.weight", ParameterSpec.globalName("layers.1.mlp.down_proj.weight", 1, 2));
        assertEquals("lm_head.weight", spec.parameter("lm_head.weight").localName(2, 4));
        assertEquals(1, spec.parameter("lm_head.weight").stage(2, 4));
        assertEquals(0, spec.parameter("embed_tokens.weight").stage(2, 4));
    }

    @Test
    void shouldRejectDegreesThatDoNotDivide() {
        ParameterSpec col = new ParameterSpec("w", new ParameterKind.ColumnParallel(), Shape.of(6, 2), DType.F32,
                ParameterSpec.LAST_STAGE);
        assertEquals("TP degree must divide every component: name=w, component=6, tp=4",
                assertThrows(IllegalArgumentException.class, () -> ShardMath.pieces(col, 2, 4, 0)).getMessage());
        assertEquals("TP degrees must divide one another: from=2, to=3",
                assertThrows(IllegalArgumentException.class, () -> ShardMath.pieces(col, 2, 3, 0)).getMessage());
    }

    /** One parameter of every kind, GQA ratios 1, 4 and 8, resharded between TP degrees t and t_g | t. */
    @Property(tries = 300)
    void shouldReshardEveryKindBitForBit(@ForAll("kindCases") KindCase c) {
        ParameterSpec p = c.param();
        long[] w = iota(p.shape().numel(), 1000);
        List<long[]> train = new ArrayList<>();
        for (int s = 0; s < c.t(); s++) {
            train.add(ShardMath.shard(p, w, c.t(), s));
        }
        List<long[]> gen = new ArrayList<>();
        for (int g = 0; g < c.tg(); g++) {
            long[] resharded = ShardMath.reshard(p, train, c.t(), c.tg(), g);
            assertArrayEquals(ShardMath.shard(p, w, c.tg(), g), resharded, p.name() + " gen shard " + g);
            gen.add(resharded);
        }
        for (int s = 0; s < c.t(); s++) {
            assertArrayEquals(train.get(s), ShardMath.reshard(p, gen, c.tg(), c.t(), s), "round trip shard " + s);
        }
    }

    record KindCase(ParameterSpec param, int t, int tg) {
    }

    @Provide
    Arbitrary<KindCase> kindCases() {
        Arbitrary<Integer> tExp = Arbitraries.integers().between(0, 3);
        Arbitrary<Integer> kinds = Arbitraries.integers().between(0, 7);
        Arbitrary<Integer> mult = Arbitraries.integers().between(1, 3);
        Arbitrary<Integer> tgExp = Arbitraries.integers().between(0, 3);
        return Combinators.combine(tExp, tgExp, kinds, mult).as((te, ge, k, m) -> {
            int t = 1 << te;
            int tg = 1 << Math.min(ge, te);
            long inner = 2L * m;
            ParameterSpec p = switch (k) {
                case 0 -> new ParameterSpec("col", new ParameterKind.ColumnParallel(), Shape.of(t * 2L * m, inner),
                        DType.BF16, ParameterSpec.LAST_STAGE);
                case 1 -> new ParameterSpec("colbias", new ParameterKind.ColumnParallel(), Shape.of(t * 3L * m),
                        DType.BF16, ParameterSpec.LAST_STAGE);
                case 2 -> new ParameterSpec("row", new ParameterKind.RowParallel(), Shape.of(3L * m, t * 2L),
                        DType.BF16, ParameterSpec.LAST_STAGE);
                case 3 -> new ParameterSpec("emb", new ParameterKind.VocabParallel(t * 3L - 1), Shape.of(t * 3L, inner),
                        DType.BF16, ParameterSpec.FIRST_STAGE);
                case 4 -> new ParameterSpec("norm", new ParameterKind.Replicated(), Shape.of(inner), DType.BF16,
                        ParameterSpec.LAST_STAGE);
                case 5 -> new ParameterSpec("gu", new ParameterKind.FusedGateUp(), Shape.of(2L * t * m, inner),
                        DType.BF16, ParameterSpec.LAST_STAGE);
                default -> {
                    int ratio = new int[] {1, 4, 8}[m - 1];
                    int kv = t * (k == 6 ? 1 : 2);
                    ParameterKind.FusedQkv qkv = new ParameterKind.FusedQkv(kv * ratio, kv, 2);
                    yield k == 6
                            ? new ParameterSpec("qkv", qkv, Shape.of(qkv.rows(), inner), DType.BF16,
                                    ParameterSpec.LAST_STAGE)
                            : new ParameterSpec("qkvbias", qkv, Shape.of(qkv.rows()), DType.BF16,
                                    ParameterSpec.LAST_STAGE);
                }
            };
            return new KindCase(p, t, tg);
        });
    }

    /** A whole Llama-style model (biases included) resharded between (t, p) and (t_g, p_g), and back. */
    @Property(tries = 60)
    void shouldReshardWholeModelsWithPipelineMerge(@ForAll("modelCases") ModelCase c) {
        ModelSpec spec = c.spec();
        Map<String, long[]> full = fullWeights(spec);
        var train = ShardMath.shardModel(spec, full, c.t(), c.p());
        var expected = ShardMath.shardModel(spec, full, c.tg(), c.pg());
        var gen = ShardMath.reshardModel(spec, train, c.t(), c.p(), c.tg(), c.pg());
        assertShardsEqual(expected, gen);
        assertShardsEqual(train, ShardMath.reshardModel(spec, gen, c.tg(), c.pg(), c.t(), c.p()));
    }

    static void assertShardsEqual(Map<ShardMath.ShardKey, Map<String, long[]>> expected,
                                  Map<ShardMath.ShardKey, Map<String, long[]>> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (var e : expected.entrySet()) {
            assertEquals(e.getValue().keySet(), actual.get(e.getKey()).keySet(), "names of " + e.getKey());
            for (var w : e.getValue().entrySet()) {
                assertArrayEquals(w.getValue(), actual.get(e.getKey()).get(w.getKey()), e.getKey() + " " + w.getKey());
            }
        }
    }

    record ModelCase(ModelSpec spec, int t, int p, int tg, int pg) {
    }

    @Provide
    Arbitrary<ModelCase> modelCases() {
        Arbitrary<Integer> tExp = Arbitraries.integers().between(0, 2);
        Arbitrary<Integer> pIdx = Arbitraries.integers().between(0, 3);
        Arbitrary<Integer> ratioIdx = Arbitraries.integers().between(0, 2);
        Arbitrary<Long> seed = Arbitraries.longs().between(0, 1000);
        return Combinators.combine(tExp, pIdx, ratioIdx, seed).as((te, pi, ri, s) -> {
            int t = 1 << te;
            int p = new int[] {1, 2, 3, 4}[pi];
            int tg = 1 << (int) (s % (te + 1));
            int[] pDivisors = java.util.stream.IntStream.rangeClosed(1, p).filter(x -> p % x == 0).toArray();
            int pg = pDivisors[(int) ((s / 7) % pDivisors.length)];
            int ratio = new int[] {1, 4, 8}[ri];
            int kv = t;
            int heads = kv * ratio;
            ModelSpec spec = ModelSpec.llama(new ModelSpec.DecoderConfig(p * (1 + (int) (s % 2)), heads * 2L, heads,
                    kv, 2L * t, 5, DType.BF16, t, s % 3 == 0));
            return new ModelCase(spec, t, p, tg, pg);
        });
    }
}
