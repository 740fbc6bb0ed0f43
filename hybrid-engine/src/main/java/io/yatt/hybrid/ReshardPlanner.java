package io.yatt.hybrid;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Plans train-to-generation transitions. Plans are immutable and cached per (layouts, model, scheme), so asking
 * twice returns the same plan. Thread-safe.
 */
public final class ReshardPlanner {

    private static final ReshardPlanner SHARED = new ReshardPlanner();

    private record Key(HybridLayout layout, ModelSpec spec, ReshardScheme scheme) {
    }

    private final Map<Key, ReshardPlan> cache = new ConcurrentHashMap<>();

    private ReshardPlanner() {
    }

    /** A planner with its own cache. */
    public static ReshardPlanner create() {
        return new ReshardPlanner();
    }

    /** The process-wide planner. */
    public static ReshardPlanner shared() {
        return SHARED;
    }

    /**
     * The plan for moving {@code spec}'s weights from {@code layout}'s training layout to its generation layout with
     * {@code scheme}; cached.
     *
     * @throws IllegalArgumentException if the model does not fit the layouts (see
     *         {@link ModelSpec#validateFor(HybridLayout)})
     */
    public ReshardPlan plan(HybridLayout layout, ModelSpec spec, ReshardScheme scheme) {
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(scheme, "scheme");
        Key key = new Key(layout, spec, scheme);
        ReshardPlan plan = cache.get(key);
        if (plan == null) {
            spec.validateFor(layout);
            plan = cache.computeIfAbsent(key, k -> build(layout, spec, scheme));
        }
        return plan;
    }

    /** Number of cached plans. */
    public int cachedPlanCount() {
        return cache.size();
    }

    private static ReshardPlan build(HybridLayout layout, ModelSpec spec, ReshardScheme scheme) {
        int p = layout.train().p();
        int t = layout.train().t();
        int pg = layout.gen().pg();
        int tg = layout.gen().tg();
        int es = spec.dtype().byteSize();
        boolean resident = scheme == ReshardScheme.HYBRIDFLOW;
        Map<String, Long> flat = DirectPlacement.flatOffsets(spec, p, t, false);
        Map<List<Integer>, DirectPlacement> shardedByGroup = new HashMap<>();
        Map<List<Integer>, DirectPlacement> replicatedByGroup = new HashMap<>();
        List<RankPlan> ranks = new ArrayList<>(layout.worldSize());
        for (int r = 0; r < layout.worldSize(); r++) {
            RankCoordinates c = layout.coordinates(r);
            List<Integer> group = layout.group(scheme.gatherGroup(), r);
            DirectPlacement sp = shardedByGroup.computeIfAbsent(group,
                    g -> DirectPlacement.sharded(layout, spec, scheme, g));
            List<Integer> microPp = layout.group(GroupKind.MICRO_PP, r);
            DirectPlacement rp = replicatedByGroup.computeIfAbsent(microPp,
                    g -> DirectPlacement.replicated(layout, spec, g));
            ReshardStep.Gather sharded = sp.gather(scheme.gatherGroup(), r, resident, false);
            ReshardStep.Gather replicated = rp.gather(GroupKind.MICRO_PP, r, true, true);
            List<DirectPlacement.OwnParam> ownSharded = sp.ownParams.get(sharded.own());
            MoveList forward = new MoveList();
            MoveList backward = new MoveList();
            if (resident) {
                ownMoves(ownSharded, forward, backward);
            }
            List<ReshardStep> steps = new ArrayList<>();
            List<ReshardStep> release = new ArrayList<>();
            if (!forward.moves.isEmpty()) {
                steps.add(new ReshardStep.LocalMoves(forward.moves));
                release.add(new ReshardStep.LocalMoves(backward.moves));
            }
            steps.add(sharded);
            if (microPp.size() > 1) {
                steps.add(replicated);
            }
            ranks.add(new RankPlan(r, c, scheme, es, steps, release, sharded, replicated, ownSharded,
                    rp.ownParams.get(replicated.own()), targets(spec, c.genPp(), pg, tg, false),
                    targets(spec, c.genPp(), pg, tg, true), DirectPlacement.stageBytes(flat, c.pp()),
                    resident ? 0 : generationBase(spec, layout, c)));
        }
        return new ReshardPlan(layout, spec, scheme, ranks);
    }

    /**
     * HybridFlow's fused own parameters: the training shard {@code [q_s; k_s; v_s]} (or {@code [gate_s; up_s]}) sits
     * contiguously at its first component's target; every other component moves to its own target before the gather
     * and back after generation.
     */
    private static void ownMoves(List<DirectPlacement.OwnParam> own, MoveList forward, MoveList backward) {
        for (DirectPlacement.OwnParam param : own) {
            if (param.pieces().size() < 2) {
                continue;
            }
            ReshardStep.Piece first = param.pieces().getFirst();
            long home = first.dstBase() + first.dstCol();
            List<ReshardStep.Move> there = new ArrayList<>();
            List<ReshardStep.Move> back = new ArrayList<>();
            for (ReshardStep.Piece piece : param.pieces()) {
                if (piece.count() != 1) {
                    throw new IllegalStateException("fused pieces must be contiguous: name=" + param.localName());
                }
                ReshardStep.Move move = new ReshardStep.Move(home + piece.srcBase() - param.flatBase(),
                        piece.dstBase() + piece.dstCol(), piece.length());
                there.add(move);
                back.add(new ReshardStep.Move(move.target(), move.source(), move.length()));
            }
            forward.addOrdered(there);
            backward.addOrdered(back);
        }
    }

    /** Where the rank's generation shard starts in the baselines' whole-model buffer (elements). */
    private static long generationBase(ModelSpec spec, HybridLayout layout, RankCoordinates c) {
        int pg = layout.gen().pg();
        int tg = layout.gen().tg();
        int es = spec.dtype().byteSize();
        long block = 0;
        for (int sg = 0; sg <= c.genPp(); sg++) {
            long stage = 0;
            for (ParameterSpec param : spec.stageParameters(sg, pg)) {
                if (param.kind().isSharded()) {
                    stage += param.shardByteSize(tg) / es;
                }
            }
            block += sg < c.genPp() ? tg * stage : c.genTp() * stage;
        }
        return block;
    }

    private static List<RankPlan.Target> targets(ModelSpec spec, int genStage, int pg, int tg, boolean replicated) {
        List<RankPlan.Target> targets = new ArrayList<>();
        long offset = 0;
        for (ParameterSpec param : spec.stageParameters(genStage, pg)) {
            if (param.kind().isSharded() == replicated) {
                continue;
            }
            targets.add(new RankPlan.Target(param.localName(pg, spec.layers()), param, param.shardShape(tg), offset));
            offset += param.shardByteSize(tg);
        }
        return targets;
    }

    /**
     * Moves of one parameter's own components, ordered so that no move overwrites a source still to be read
     * (leftward moves by ascending source, then rightward moves by descending source); checked.
     */
    private static final class MoveList {
        private final List<ReshardStep.Move> moves = new ArrayList<>();

        void addOrdered(List<ReshardStep.Move> group) {
            List<ReshardStep.Move> left = new ArrayList<>();
            List<ReshardStep.Move> right = new ArrayList<>();
            for (ReshardStep.Move m : group) {
                if (m.source() > m.target()) {
                    left.add(m);
                } else if (m.source() < m.target()) {
                    right.add(m);
                }
            }
            left.sort((a, b) -> Long.compare(a.source(), b.source()));
            right.sort((a, b) -> Long.compare(b.source(), a.source()));
            List<ReshardStep.Move> ordered = new ArrayList<>(left);
            ordered.addAll(right);
            for (int i = 0; i < ordered.size(); i++) {
                for (int j = i + 1; j < ordered.size(); j++) {
                    ReshardStep.Move a = ordered.get(i);
                    ReshardStep.Move b = ordered.get(j);
                    if (a.target() < b.source() + b.length() && b.source() < a.target() + a.length()) {
                        throw new IllegalStateException("own component moves overlap: target=" + a.target()
                                + ", source=" + b.source() + ", length=" + b.length());
                    }
                }
            }
            moves.addAll(ordered);
        }
    }
}
