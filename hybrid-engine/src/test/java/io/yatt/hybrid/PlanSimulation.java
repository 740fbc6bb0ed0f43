package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Map;

/** Runs a plan's gathers and moves on plain arrays and checks the generation shards against the definition. */
final class PlanSimulation {

    private PlanSimulation() {
    }

    static void assertPlansProduceGenerationShards(HybridLayout layout, ModelSpec spec) {
        int p = layout.train().p();
        int t = layout.train().t();
        Map<String, long[]> full = ShardMathTest.fullWeights(spec);
        var train = ShardMath.shardModel(spec, full, t, p);
        var expected = ShardMath.shardModel(spec, full, layout.gen().tg(), layout.gen().pg());
        int es = spec.dtype().byteSize();
        ReshardPlanner planner = ReshardPlanner.create();
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = planner.plan(layout, spec, scheme);
            for (RankPlan rank : plan.ranks()) {
                RankCoordinates c = rank.coordinates();
                Map<String, long[]> want = expected.get(new ShardMath.ShardKey(c.genPp(), c.genTp()));
                for (GatherLayout g : new GatherLayout[] {rank.sharded(), rank.replicated()}) {
                    long[] buffer = new long[Math.toIntExact(g.bufferBytes / es)];
                    for (GatherLayout.Segment seg : g.segments) {
                        long[] flat = flatStorage(spec, train.get(new ShardMath.ShardKey(seg.stage(), seg.tp())),
                                p, seg.stage(), g.replicated);
                        System.arraycopy(flat, (int) (seg.flatStart() / es), buffer, (int) (seg.bufferOffset() / es),
                                (int) (seg.byteLength() / es));
                    }
                    long[] out = new long[Math.toIntExact(g.targetBytes / es)];
                    Arrays.fill(out, -1);
                    long[] moves = g.moves();
                    for (int i = 0; i < moves.length; i += 3) {
                        System.arraycopy(buffer, (int) (moves[i] / es), out, (int) (moves[i + 1] / es),
                                (int) (moves[i + 2] / es));
                    }
                    for (GatherLayout.Target target : g.targets) {
                        int from = (int) (target.byteOffset() / es);
                        long[] got = Arrays.copyOfRange(out, from, from + (int) target.shape().numel());
                        assertArrayEquals(want.get(target.name()), got,
                                scheme + " " + layout + " rank " + rank.rank() + " " + target.name());
                    }
                }
                long names = rank.generationShapes().size();
                assertEquals(want.size(), names, "generation weights of rank " + rank.rank());
            }
        }
    }

    /** One rank's flat training storage: its stage's (sharded or replicated) parameters in model order. */
    static long[] flatStorage(ModelSpec spec, Map<String, long[]> shards, int p, int stage, boolean replicated) {
        long[] all = new long[0];
        for (ParameterSpec param : spec.stageParameters(stage, p)) {
            if (param.kind().isSharded() == replicated) {
                continue;
            }
            long[] s = shards.get(param.localName(p, spec.layers()));
            long[] grown = Arrays.copyOf(all, all.length + s.length);
            System.arraycopy(s, 0, grown, all.length, s.length);
            all = grown;
        }
        return all;
    }
}
