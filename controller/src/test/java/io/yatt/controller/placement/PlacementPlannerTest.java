package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.hybrid.GenerationLayout;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.ParallelLayout;
import io.yatt.hybrid.ParameterSpec;
import io.yatt.hybrid.RankPlan;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PlacementPlannerTest {

    private static final DeviceProfile A100 = DeviceProfile.builtIn("a100");
    /** 0.9 of 80 GB. */
    private static final long USABLE = 72_000_000_000L;
    /** M of Llama-2-7B: 2 bytes * (6,738,415,616 parameters - 65 norms of 4096). */
    private static final long LLAMA_7B_SHARDED_BYTES = 13_476_298_752L;

    private final PlacementPlanner planner = PlacementPlanner.create();

    @Test
    void shouldReturnOnlyMemoryFeasiblePlans() {
        for (Algorithm algo : Algorithm.values()) {
            for (LlamaSize size : new LlamaSize[] {LlamaSize.L7B, LlamaSize.L13B}) {
                for (int gpus : new int[] {8, 16, 32}) {
                    Workload w = Workload.of(algo, size);
                    PlacementResult r = planner.plan(w, Cluster.of(gpus, 8, A100), 5);
                    for (PlacementPlan p : r.top()) {
                        checkFeasible(w, gpus, p);
                    }
                }
            }
        }
        Workload big = Workload.of(Algorithm.PPO, LlamaSize.L70B);
        for (PlacementPlan p : planner.plan(big, Cluster.of(128, 8, A100), 5).top()) {
            checkFeasible(big, 128, p);
        }
    }

    private static void checkFeasible(Workload w, int gpus, PlacementPlan p) {
        int used = 0;
        for (SetPlan set : p.sets()) {
            assertEquals(used, set.firstGpu(), p.describe());
            used += set.gpus();
            long resident = 0;
            long peak = 0;
            for (RolePlan r : set.rolePlans()) {
                assertEquals(set.gpus(), r.layout().worldSize(), p.describe());
                assertEquals(independentResident(w.models().get(r.role()), r.role(), r.layout()),
                        r.residentBytesPerRank(), r.role() + " " + r.layout());
                resident += r.residentBytesPerRank();
                peak = Math.max(peak, r.peakTransientBytesPerRank());
                r.generation().ifPresent(g -> HybridLayout.of(r.layout(), g));
                assertTrue(r.layout().t() <= 8, "TP crosses a node: " + r.layout());
            }
            assertTrue(resident + peak <= USABLE, p.describe() + ": " + (resident + peak) + " > " + USABLE);
            assertEquals(resident + peak, set.peakBytesPerRank());
            if (set.gpus() < 8) {
                assertEquals(set.firstGpu() / 8, (set.firstGpu() + set.gpus() - 1) / 8, "slice crosses a node");
            }
        }
        assertEquals(gpus, used + p.idleGpus());
    }

    /** Weights (2 bytes), plus for trained roles fp32 gradients (4) and Adam state (12) over DP, on the largest stage. */
    private static long independentResident(ModelSpec.DecoderConfig config, Role role, ParallelLayout layout) {
        ModelSpec spec = ModelSpec.llama(config);
        long largest = 0;
        for (int s = 0; s < layout.p(); s++) {
            long n = 0;
            for (ParameterSpec param : spec.stageParameters(s, layout.p())) {
                n += param.shape().numel();
            }
            largest = Math.max(largest, n);
        }
        long perRank = largest / layout.t();
        return role.isTrained() ? perRank * 6 + perRank * 12 / layout.d() : perRank * 2;
    }

    @Test
    void shouldNeverPredictASlowerIterationWithMoreGpus() {
        for (LlamaSize size : new LlamaSize[] {LlamaSize.L7B, LlamaSize.L13B}) {
            Workload w = Workload.of(Algorithm.PPO, size);
            double previous = Double.POSITIVE_INFINITY;
            for (int gpus = 16; gpus <= 128; gpus += 8) {
                double t = planner.plan(w, Cluster.of(gpus, 8, A100), 1).best().iterationSeconds();
                assertTrue(t <= previous, size + " at " + gpus + " GPUs: " + t + " s > " + previous + " s");
                previous = t;
            }
        }
        Workload w = Workload.of(Algorithm.GRPO, LlamaSize.L70B);
        double previous = Double.POSITIVE_INFINITY;
        for (int gpus = 32; gpus <= 128; gpus += 16) {
            double t = planner.plan(w, Cluster.of(gpus, 8, A100), 1).best().iterationSeconds();
            assertTrue(t <= previous, "70b grpo at " + gpus + " GPUs: " + t + " s > " + previous + " s");
            previous = t;
        }
    }

    @Test
    void shouldScoreAStageAsTheSlowestSetAndTheIterationAsTheSumOfStages() {
        PlacementResult r = planner.plan(Workload.of(Algorithm.PPO, LlamaSize.L7B), Cluster.of(16, 8, A100), 5);
        for (PlacementPlan p : r.top()) {
            double total = 0;
            for (int s = 0; s < p.stageNames().size(); s++) {
                double slowest = 0;
                for (SetPlan set : p.sets()) {
                    slowest = Math.max(slowest, set.stageSeconds().get(s));
                }
                assertEquals(slowest, p.stageSeconds().get(s));
                total += slowest;
            }
            assertEquals(total, p.iterationSeconds(), 1e-9);
        }
        for (int i = 1; i < r.top().size(); i++) {
            assertTrue(r.top().get(i - 1).iterationSeconds() <= r.top().get(i).iterationSeconds());
        }
        assertEquals(15, r.partitions());
        assertEquals(5, r.top().size());
    }

    @Test
    void shouldAddColocatedTaskTimesWithinAStage() {
        PlacementResult r = planner.plan(Workload.of(Algorithm.PPO, LlamaSize.L7B), Cluster.of(64, 8, A100), 50);
        PlacementPlan colocated = r.top().stream().filter(p -> p.sets().size() == 1).findFirst().orElseThrow();
        SetPlan set = colocated.sets().getFirst();
        double prep = 0;
        double train = 0;
        for (RolePlan rp : set.rolePlans()) {
            prep += rp.inferSeconds();
            train += rp.trainSeconds();
        }
        RolePlan actor = colocated.role(Role.ACTOR);
        assertEquals(actor.generateSeconds() + actor.transitionSeconds(), set.stageSeconds().get(0), 1e-12);
        assertEquals(prep, set.stageSeconds().get(1), 1e-9);
        assertEquals(train, set.stageSeconds().get(2), 1e-9);
    }

    @Test
    void shouldTakeTransitionBytesFromReshardPlanner() {
        PlacementResult r = planner.plan(Workload.of(Algorithm.PPO, LlamaSize.L7B), Cluster.of(16, 8, A100), 1);
        RolePlan actor = r.best().role(Role.ACTOR);
        GenerationLayout gen = actor.generation().orElseThrow();
        ParallelLayout t = actor.layout();
        ReshardPlan plan = ReshardPlanner.create().plan(HybridLayout.of(t, gen),
                ModelSpec.llama(LlamaSize.L7B.config()), ReshardScheme.HYBRIDFLOW);
        long max = 0;
        for (RankPlan rank : plan.ranks()) {
            max = Math.max(max, rank.bytesReceived() + rank.replicatedBytesReceived());
        }
        assertEquals(max, actor.transitionBytesPerRank());
        Map<ReshardScheme, Long> volumes = planner.transitionVolumes(r, r.best());
        long tp = (long) t.t() * t.p();
        long dg = tp / ((long) gen.tg() * gen.pg());
        // Table 2: HybridFlow (d_g - 1) * M / (t p), HybridFlow-V (t p - 1) / (t p) * M, DS-Chat (t p d - 1)/(t p d) * M
        assertEquals((dg - 1) * LLAMA_7B_SHARDED_BYTES / tp, volumes.get(ReshardScheme.HYBRIDFLOW));
        assertEquals((tp - 1) * LLAMA_7B_SHARDED_BYTES / tp, volumes.get(ReshardScheme.HYBRIDFLOW_V));
        long n = tp * t.d();
        assertTrue(Math.abs((n - 1) * LLAMA_7B_SHARDED_BYTES / n - volumes.get(ReshardScheme.DS_CHAT)) <= n,
                "ds-chat " + volumes.get(ReshardScheme.DS_CHAT));
    }

    @Test
    void shouldFindTheMinimumGpusPerSetFromMemory() {
        // 7B trained alone: 1 GPU holds 6.74e9 * (2 + 4 + 12) = 121 GB; 2 GPUs (p*t = 2) 60.6 GB plus working memory.
        // Frozen alone: 13.5 GB weights + 4.4 GB inference working memory. All four: (2 * 18 + 2 * 2) * 6.74e9 / n
        // = 269.5 GB / n, so 4 GPUs (67.4 GB + at most 1.1 GB working memory).
        PlacementResult r = planner.plan(Workload.of(Algorithm.PPO, LlamaSize.L7B), Cluster.of(16, 8, A100), 1);
        assertEquals(2, r.minimumGpus().get(Set.of(Role.ACTOR)));
        assertEquals(2, r.minimumGpus().get(Set.of(Role.CRITIC)));
        assertEquals(1, r.minimumGpus().get(Set.of(Role.REFERENCE)));
        assertEquals(4, r.minimumGpus().get(Set.of(Role.ACTOR, Role.CRITIC, Role.REFERENCE, Role.REWARD)));
        assertEquals(15, r.minimumGpus().size());
    }

    @Test
    void shouldCachePerWorkloadAndCluster() {
        Workload w = Workload.of(Algorithm.GRPO, LlamaSize.L7B);
        PlacementResult first = planner.plan(w, Cluster.of(16, 8, A100), 3);
        assertSame(first, planner.plan(Workload.of(Algorithm.GRPO, LlamaSize.L7B), Cluster.of(16, 8, A100), 3));
        assertEquals(1, planner.cachedResultCount());
        planner.plan(w, Cluster.of(16, 8, DeviceProfile.builtIn("h100")), 3);
        assertEquals(2, planner.cachedResultCount());
    }

    @Test
    void shouldCountFiftyTwoPartitionsForSafeRlhf() {
        assertEquals(52, planner.plan(Workload.of(Algorithm.SAFE_RLHF, LlamaSize.L7B), Cluster.of(16, 8, A100), 1)
                .partitions());
    }

    @Test
    void shouldRejectAModelThatFitsNowhere() {
        // 70B trained: 68,976,648,192 parameters * (2 + 4 + 12/8) bytes / 8 GPUs = 64.7 GB each, before activations
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> planner.plan(Workload.of(Algorithm.PPO, LlamaSize.L70B), Cluster.of(8, 8, A100), 1));
        assertEquals("model fits on no GPU count: role=actor, parameters=68976648192, gpus=8, profile=a100, "
                + "usableBytesPerGpu=72000000000", e.getMessage());
    }

    @Test
    void shouldRejectWhenNoPlacementFitsInMemory() {
        // 34B: alone on 16 GPUs a trained model needs 33.7e9 * (6 + 12) / 16 = 38 GB per GPU, so actor and critic never
        // share 16 GPUs, and on 8 GPUs each needs 76 GB
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> planner.plan(Workload.of(Algorithm.PPO, LlamaSize.L34B), Cluster.of(16, 8, A100), 1));
        assertEquals("no placement fits in memory: algo=ppo, gpus=16, profile=a100, usableBytesPerGpu=72000000000",
                e.getMessage());
    }

    @Test
    void shouldRejectGpusNotAMultipleOfTheNodeSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cluster.of(12, 8, A100));
        assertEquals("GPUs must be a positive multiple of the node size: gpus=12, gpusPerNode=8", e.getMessage());
    }

    @Test
    void shouldRejectUnknownNames() {
        assertEquals("unknown algorithm: algo=dpo, expected one of [ppo, grpo, remax, safe-rlhf]",
                assertThrows(IllegalArgumentException.class, () -> Algorithm.parse("dpo")).getMessage());
        assertEquals("unknown model size: model=8b, expected one of [7b, 13b, 34b, 70b]",
                assertThrows(IllegalArgumentException.class, () -> LlamaSize.parse("8b")).getMessage());
        assertEquals("top k must be positive: topK=0", assertThrows(IllegalArgumentException.class,
                () -> planner.plan(Workload.of(Algorithm.PPO, LlamaSize.L7B), Cluster.of(8, 8, A100), 0))
                .getMessage());
    }
}
