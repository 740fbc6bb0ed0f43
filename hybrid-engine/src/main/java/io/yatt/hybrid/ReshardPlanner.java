package io.yatt.hybrid;

import java.util.ArrayList;
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

    /** A scheme's rule for which ranks gather what; the three schemes share everything else. */
    private interface Strategy {
        List<GatherLayout.Segment> segments(HybridLayout layout, List<Integer> group, Map<String, Long> flat, int es);
    }

    private static final Strategy WHOLE_SHARDS = (layout, group, flat, es) -> {
        List<GatherLayout.Segment> segments = new ArrayList<>();
        long offset = 0;
        for (int member : group) {
            RankCoordinates c = layout.coordinates(member);
            long bytes = GatherLayout.stageBytes(flat, c.pp());
            segments.add(new GatherLayout.Segment(member, c.pp(), c.tp(), 0, bytes, offset));
            offset += bytes;
        }
        return segments;
    };

    /** DS-Chat: each data-parallel replica contributes its 1/d chunk (element-aligned) of every training shard. */
    private static final Strategy DP_CHUNKS = (layout, group, flat, es) -> {
        List<GatherLayout.Segment> segments = new ArrayList<>();
        long offset = 0;
        int d = layout.train().d();
        for (int member : group) {
            RankCoordinates c = layout.coordinates(member);
            long elements = GatherLayout.stageBytes(flat, c.pp()) / es;
            long start = elements * c.dp() / d * es;
            long end = elements * (c.dp() + 1) / d * es;
            segments.add(new GatherLayout.Segment(member, c.pp(), c.tp(), start, end - start, offset));
            offset += end - start;
        }
        return segments;
    };

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
     *         {@link ModelSpec#validateFor(ParallelLayout)})
     */
    public ReshardPlan plan(HybridLayout layout, ModelSpec spec, ReshardScheme scheme) {
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(scheme, "scheme");
        Key key = new Key(layout, spec, scheme);
        ReshardPlan plan = cache.get(key);
        if (plan == null) {
            spec.validateFor(layout.train());
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
        Map<String, Long> flat = GatherLayout.flatOffsets(spec, p, t, false);
        Map<String, Long> flatReplicated = GatherLayout.flatOffsets(spec, p, t, true);
        Strategy strategy = scheme == ReshardScheme.DS_CHAT ? DP_CHUNKS : WHOLE_SHARDS;
        List<RankPlan> ranks = new ArrayList<>(layout.worldSize());
        for (int r = 0; r < layout.worldSize(); r++) {
            RankCoordinates c = layout.coordinates(r);
            List<Integer> group = layout.group(scheme.gatherGroup(), r);
            List<GatherLayout.Segment> segments = strategy.segments(layout, group, flat, es);
            GatherLayout sharded = new GatherLayout(scheme.gatherGroup(), group, segments, group.indexOf(r),
                    targets(spec, c.genPp(), pg, tg, false), false, flat, t, tg, c.genTp(), p, spec.layers());
            List<Integer> microPp = layout.group(GroupKind.MICRO_PP, r);
            GatherLayout replicated = new GatherLayout(GroupKind.MICRO_PP, microPp,
                    WHOLE_SHARDS.segments(layout, microPp, flatReplicated, es), microPp.indexOf(r),
                    targets(spec, c.genPp(), pg, tg, true), true, flatReplicated, t, tg, c.genTp(), p, spec.layers());
            List<ReshardStep> steps = new ArrayList<>();
            steps.add(gatherStep(spec, layout, sharded, flat, false));
            steps.add(rearrangeStep(sharded, false));
            if (microPp.size() > 1) {
                steps.add(gatherStep(spec, layout, replicated, flatReplicated, true));
                steps.add(rearrangeStep(replicated, true));
            }
            ranks.add(new RankPlan(r, c, scheme, steps, sharded, replicated, GatherLayout.stageBytes(flat, c.pp())));
        }
        return new ReshardPlan(layout, spec, scheme, ranks);
    }

    private static List<GatherLayout.Target> targets(ModelSpec spec, int genStage, int pg, int tg, boolean replicated) {
        List<GatherLayout.Target> targets = new ArrayList<>();
        long offset = 0;
        for (ParameterSpec param : spec.stageParameters(genStage, pg)) {
            if (param.kind().isSharded() == replicated) {
                continue;
            }
            targets.add(new GatherLayout.Target(param.localName(pg, spec.layers()), param, param.shardShape(tg), offset));
            offset += param.shardByteSize(tg);
        }
        return targets;
    }

    private static ReshardStep gatherStep(ModelSpec spec, HybridLayout layout, GatherLayout g, Map<String, Long> flat,
                                          boolean replicated) {
        int p = layout.train().p();
        int t = layout.train().t();
        List<ReshardStep.Slot> slots = new ArrayList<>();
        for (GatherLayout.Segment seg : g.segments) {
            List<String> names = new ArrayList<>();
            for (ParameterSpec param : spec.stageParameters(seg.stage(), p)) {
                if (param.kind().isSharded() == replicated) {
                    continue;
                }
                long start = flat.get(param.name());
                long end = start + param.shardByteSize(t);
                if (start < seg.flatStart() + seg.byteLength() && end > seg.flatStart()) {
                    names.add(param.localName(p, spec.layers()));
                }
            }
            slots.add(new ReshardStep.Slot(seg.rank(), seg.bufferOffset(), seg.byteLength(), names));
        }
        return new ReshardStep.AllGather(g.group, g.ranks, slots, g.bufferBytes, g.bytesReceived(), replicated);
    }

    private static ReshardStep rearrangeStep(GatherLayout g, boolean replicated) {
        List<String> names = new ArrayList<>();
        for (GatherLayout.Target target : g.targets) {
            names.add(target.name());
        }
        return new ReshardStep.Rearrange(names, g.targetBytes, replicated);
    }
}
