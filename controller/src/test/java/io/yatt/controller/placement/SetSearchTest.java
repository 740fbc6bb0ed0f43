package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.hybrid.GenerationLayout;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ParallelLayout;
import io.yatt.hybrid.RankPlan;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The planner's layout choice for one colocated set against an exhaustive search over every layout combination. */
class SetSearchTest {

    private static final Cluster CLUSTER = Cluster.of(8, 8, DeviceProfile.builtIn("a100"));
    private static final long USABLE = 72_000_000_000L;
    private static final Map<List<Object>, Long> TRANSITIONS = new HashMap<>();

    @Test
    void shouldMatchExhaustiveSearchForGrpoColocatedOnEightGpus() {
        for (LlamaSize size : new LlamaSize[] {LlamaSize.L7B, LlamaSize.L13B}) {
            Workload w = Workload.of(Algorithm.GRPO, size);
            PlacementResult r = PlacementPlanner.create().plan(w, CLUSTER, 200);
            PlacementPlan colocated = r.top().stream()
                    .filter(p -> p.sets().size() == 1 && p.sets().getFirst().gpus() == 8).findFirst().orElseThrow();
            assertEquals(exhaustive(w), colocated.iterationSeconds(), 1e-9, size.cliName());
        }
    }

    /** Actor, reference and reward on all 8 GPUs: the fastest combination of layouts that fits. */
    private static double exhaustive(Workload w) {
        ModelStats m = new ModelStats(w.models().get(Role.ACTOR));
        List<ParallelLayout> layouts = new ArrayList<>();
        for (int t = 1; t <= 8; t *= 2) {
            for (int p = 1; p * t <= 8; p++) {
                if (8 % (p * t) == 0 && m.layers % p == 0 && m.accepts(p, t)) {
                    layouts.add(ParallelLayout.of(p, t, 8 / (p * t)));
                }
            }
        }
        double best = Double.POSITIVE_INFINITY;
        for (ParallelLayout actor : layouts) {
            for (ParallelLayout reference : layouts) {
                for (ParallelLayout reward : layouts) {
                    long resident = CostModel.residentBytes(Role.ACTOR, m, actor)
                            + CostModel.residentBytes(Role.REFERENCE, m, reference)
                            + CostModel.residentBytes(Role.REWARD, m, reward);
                    long peak = Math.max(Math.max(CostModel.inferTransientBytes(Role.ACTOR, m, actor, w),
                                    CostModel.trainTransientBytes(Role.ACTOR, m, actor, w)),
                            Math.max(CostModel.inferTransientBytes(Role.REFERENCE, m, reference, w),
                                    CostModel.inferTransientBytes(Role.REWARD, m, reward, w)));
                    if (resident + peak > USABLE) {
                        continue;
                    }
                    double rest = CostModel.inferSeconds(m, actor, w, CLUSTER)
                            + CostModel.trainSeconds(m, actor, w, CLUSTER)
                            + CostModel.inferSeconds(m, reference, w, CLUSTER)
                            + CostModel.inferSeconds(m, reward, w, CLUSTER);
                    for (int tg = 1; tg <= actor.t(); tg *= 2) {
                        for (int pg = 1; pg <= actor.p(); pg++) {
                            if (actor.p() % pg != 0 || actor.t() % tg != 0) {
                                continue;
                            }
                            CostModel.GenerationCost gen = CostModel.generation(m, actor, pg, tg, w, CLUSTER,
                                    USABLE - resident);
                            if (gen == null) {
                                continue;
                            }
                            double total = rest + gen.seconds() + CostModel.transitionSeconds(
                                    transitionBytes(m, actor, pg, tg), false, CLUSTER);
                            best = Math.min(best, total);
                        }
                    }
                }
            }
        }
        return best;
    }

    private static long transitionBytes(ModelStats m, ParallelLayout train, int pg, int tg) {
        if (pg == train.p() && tg == train.t()) {
            return 0;
        }
        return TRANSITIONS.computeIfAbsent(List.of(m.config, train.p(), train.t(), pg, tg),
                k -> planTransitionBytes(m, train, pg, tg));
    }

    private static long planTransitionBytes(ModelStats m, ParallelLayout train, int pg, int tg) {
        ParallelLayout one = ParallelLayout.of(train.p(), train.t(), 1);
        ReshardPlan plan = ReshardPlanner.create().plan(HybridLayout.of(one, GenerationLayout.of(one, pg, tg)), m.spec,
                ReshardScheme.HYBRIDFLOW);
        long max = 0;
        for (RankPlan r : plan.ranks()) {
            max = Math.max(max, r.bytesReceived() + r.replicatedBytesReceived());
        }
        return max;
    }
}
