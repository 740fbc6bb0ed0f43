package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs the steps of a plan, the same {@link ReshardStep} objects {@link HybridEngine} executes, on plain arrays (one
 * element per long): every rank's training weights written through its training views, its local moves, each gather
 * piece copied from the sender's send view to the receiver's target, then the release steps; checks the generation
 * weights against the definition ({@link ShardMath#shardModel}) and the training weights after the round trip.
 */
final class PlanSimulation {

    private PlanSimulation() {
    }

    static void assertPlansProduceGenerationShards(HybridLayout layout, ModelSpec spec) {
        int p = layout.train().p();
        int t = layout.train().t();
        Map<String, long[]> full = ShardMathTest.fullWeights(spec);
        var train = ShardMath.shardModel(spec, full, t, p);
        var expected = ShardMath.shardModel(spec, full, layout.gen().tg(), layout.gen().pg());
        ReshardPlanner planner = ReshardPlanner.create();
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = planner.plan(layout, spec, scheme);
            // every rank's state before any gather: training weights through the training views, then local moves
            Map<Integer, long[]> sharded = new HashMap<>();
            Map<Integer, long[]> storage = new HashMap<>();
            Map<Integer, long[]> replicated = new HashMap<>();
            for (RankPlan rank : plan.ranks()) {
                RankCoordinates c = rank.coordinates();
                Map<String, long[]> mine = train.get(new ShardMath.ShardKey(c.pp(), c.tp()));
                boolean resident = rank.sharded().sendsFromTargets();
                long[] own = filled(resident ? rank.sharded().bufferElements()
                        : rank.trainingParameterBytes() / spec.dtype().byteSize());
                for (DirectPlacement.OwnParam param : rank.ownSharded()) {
                    writeTrainingView(own, param, mine.get(param.localName()), resident);
                }
                long[] rep = filled(rank.replicated().bufferElements());
                for (DirectPlacement.OwnParam param : rank.ownReplicated()) {
                    writeTrainingView(rep, param, mine.get(param.localName()), true);
                }
                for (ReshardStep step : rank.steps()) {
                    if (step instanceof ReshardStep.LocalMoves moves) {
                        move(own, moves);
                    }
                }
                (resident ? sharded : storage).put(rank.rank(), own);
                replicated.put(rank.rank(), rep);
            }
            for (RankPlan rank : plan.ranks()) {
                RankCoordinates c = rank.coordinates();
                String where = scheme + " " + layout + " rank " + rank.rank();
                long[] buffer = sharded.containsKey(rank.rank()) ? sharded.get(rank.rank())
                        : filled(rank.sharded().bufferElements());
                boolean replicatedGathered = false;
                for (ReshardStep step : rank.steps()) {
                    if (step instanceof ReshardStep.Gather g) {
                        long[] into = g.replicated() ? replicated.get(rank.rank()) : buffer;
                        replicatedGathered |= g.replicated();
                        for (int i = 0; i < g.ranks().size(); i++) {
                            int sender = g.ranks().get(i);
                            if (i == g.own() && g.sendsFromTargets()) {
                                continue; // already in place: the engine's send views are its receive views
                            }
                            long[] from = g.replicated() ? replicated.get(sender)
                                    : g.sendsFromTargets() ? sharded.get(sender) : storage.get(sender);
                            for (ReshardStep.Piece piece : g.pieces().get(i)) {
                                copyPiece(from, into, piece, g.sendsFromTargets());
                            }
                        }
                    }
                }
                assertEquals(rank.replicated().ranks().size() > 1, replicatedGathered, where);
                Map<String, long[]> want = expected.get(new ShardMath.ShardKey(c.genPp(), c.genTp()));
                long base = rank.generationBaseElements();
                int es = spec.dtype().byteSize();
                for (RankPlan.Target target : rank.shardedTargets()) {
                    int from = Math.toIntExact(base + target.byteOffset() / es);
                    assertArrayEquals(want.get(target.name()),
                            Arrays.copyOfRange(buffer, from, from + (int) target.shape().numel()),
                            where + " " + target.name());
                }
                for (RankPlan.Target target : rank.replicatedTargets()) {
                    int from = Math.toIntExact(target.byteOffset() / es);
                    assertArrayEquals(want.get(target.name()), Arrays.copyOfRange(replicated.get(rank.rank()), from,
                            from + (int) target.shape().numel()), where + " " + target.name());
                }
                assertEquals(want.size(), rank.generationShapes().size(), "generation weights of " + where);
            }
            // back to training: the release steps undo the local moves, so the training views read the shard again
            for (RankPlan rank : plan.ranks()) {
                if (!rank.sharded().sendsFromTargets()) {
                    continue;
                }
                long[] buffer = sharded.get(rank.rank());
                for (ReshardStep step : rank.releaseSteps()) {
                    move(buffer, (ReshardStep.LocalMoves) step);
                }
                RankCoordinates c = rank.coordinates();
                Map<String, long[]> mine = train.get(new ShardMath.ShardKey(c.pp(), c.tp()));
                for (DirectPlacement.OwnParam param : rank.ownSharded()) {
                    assertArrayEquals(mine.get(param.localName()), readTrainingView(buffer, param),
                            scheme + " " + layout + " rank " + rank.rank() + " round trip " + param.localName());
                }
            }
        }
    }

    private static long[] filled(long elements) {
        long[] a = new long[Math.toIntExact(elements)];
        Arrays.fill(a, -1);
        return a;
    }

    /** Element positions of a training view, in row-major order of the shard (as HybridEngine builds the view). */
    private static long[] viewPositions(DirectPlacement.OwnParam param, long numel, boolean resident) {
        long[] pos = new long[Math.toIntExact(numel)];
        if (!resident) {
            for (int i = 0; i < pos.length; i++) {
                pos[i] = param.flatBase() + i;
            }
            return pos;
        }
        ReshardStep.Piece first = param.pieces().getFirst();
        if (param.pieces().size() > 1 || first.count() == 1) {
            long home = first.dstBase() + first.dstCol();
            for (int i = 0; i < pos.length; i++) {
                pos[i] = home + i;
            }
            return pos;
        }
        int k = 0;
        for (long row = 0; row < first.count(); row++) {
            for (long col = 0; col < first.length(); col++) {
                pos[k++] = first.dstBase() + row * first.dstStride() + first.dstCol() + col;
            }
        }
        return pos;
    }

    private static void writeTrainingView(long[] buffer, DirectPlacement.OwnParam param, long[] values,
                                          boolean resident) {
        long[] pos = viewPositions(param, values.length, resident);
        for (int i = 0; i < values.length; i++) {
            buffer[(int) pos[i]] = values[i];
        }
    }

    private static long[] readTrainingView(long[] buffer, DirectPlacement.OwnParam param) {
        long numel = 0;
        for (ReshardStep.Piece piece : param.pieces()) {
            numel += piece.numel();
        }
        long[] pos = viewPositions(param, numel, true);
        long[] out = new long[pos.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = buffer[(int) pos[i]];
        }
        return out;
    }

    private static void move(long[] buffer, ReshardStep.LocalMoves moves) {
        for (ReshardStep.Move m : moves.moves()) {
            System.arraycopy(buffer, (int) m.source(), buffer, (int) m.target(), (int) m.length());
        }
    }

    /** Copies one piece from the sender's side (its targets, or its sources in training storage) to the target. */
    private static void copyPiece(long[] from, long[] into, ReshardStep.Piece piece, boolean fromTargets) {
        List<Long> src = positions(fromTargets ? piece.dstBase() : piece.srcBase(),
                fromTargets ? piece.dstCol() : piece.srcCol(), fromTargets ? piece.dstStride() : piece.srcStride(),
                piece.length(), piece.count());
        List<Long> dst = positions(piece.dstBase(), piece.dstCol(), piece.dstStride(), piece.length(), piece.count());
        for (int i = 0; i < dst.size(); i++) {
            into[(int) (long) dst.get(i)] = from[(int) (long) src.get(i)];
        }
    }

    private static List<Long> positions(long base, long col, long stride, long length, long count) {
        List<Long> out = new ArrayList<>();
        for (long row = 0; row < count; row++) {
            for (long j = 0; j < length; j++) {
                out.add(count == 1 ? base + col + j : base + row * stride + col + j);
            }
        }
        return out;
    }
}
