package io.yatt.controller.placement;

import io.yatt.hybrid.ParallelLayout;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * The cost model's uncalibrated stage times of the two runtime placements of one run (the inputs of
 * {@link DynamicPlacement}): every model trains and infers on the {@code p*t*d} training ranks in the training
 * layout; the actor's rollout runs either there in generation layout {@code p_g-t_g} (colocated: the transition is
 * the HybridFlow reshard of {@link PlacementPlanner}) or on {@code rolloutGpus} ranks of its own in replicas of
 * {@code p_g*t_g} (split: the transition is each rollout rank's generation shard, bf16, over the network when the
 * {@code p*t*d + rolloutGpus} ranks span more than one node, else over NVLink). Preparation and training are the
 * same in both. Stateless.
 */
public final class RuntimePredictor {

    private RuntimePredictor() {
    }

    /**
     * Predicted stage times of both placements.
     *
     * @throws IllegalArgumentException if the rollout GPUs are not a positive multiple of {@code p_g*t_g}, the
     *         cluster has fewer GPUs than training and rollout together, or the actor's KV cache fits nowhere
     */
    public static DynamicPlacement.Predictions predict(Workload workload, Cluster cluster, ParallelLayout train,
                                                       int pg, int tg, int rolloutGpus) {
        Objects.requireNonNull(workload, "workload");
        Objects.requireNonNull(cluster, "cluster");
        Objects.requireNonNull(train, "train");
        if (rolloutGpus <= 0 || rolloutGpus % (pg * tg) != 0) {
            throw new IllegalArgumentException("rollout GPUs must be a positive multiple of p_g*t_g: rolloutGpus="
                    + rolloutGpus + ", p_g=" + pg + ", t_g=" + tg);
        }
        int gpus = cluster.nodes() * cluster.gpusPerNode();
        if (train.worldSize() + rolloutGpus > gpus) {
            throw new IllegalArgumentException("training and rollout GPUs exceed the cluster: training="
                    + train.worldSize() + ", rollout=" + rolloutGpus + ", cluster=" + gpus);
        }
        Map<Role, ModelStats> stats = new EnumMap<>(Role.class);
        for (Role r : workload.roles()) {
            stats.put(r, new ModelStats(workload.models().get(r)));
        }
        double generations = 0;
        double prep = 0;
        double training = 0;
        long resident = 0;
        for (Role r : workload.roles()) {
            resident += CostModel.residentBytes(r, stats.get(r), train);
        }
        for (Stage stage : workload.algorithm().stages()) {
            for (Task task : stage.tasks()) {
                ModelStats m = stats.get(task.role());
                switch (task.kind()) {
                    case GENERATE -> generations++;
                    case INFER -> prep += CostModel.inferSeconds(m, train, workload, cluster);
                    case TRAIN -> training += CostModel.trainSeconds(m, train, workload, cluster);
                }
            }
        }
        ModelStats actor = stats.get(Role.ACTOR);
        long usable = CostModel.usableBytes(cluster);
        CostModel.GenerationCost colocatedGen = CostModel.generation(actor, train, pg, tg, workload, cluster,
                usable - resident);
        ParallelLayout pool = ParallelLayout.of(pg, tg, rolloutGpus / (pg * tg));
        long poolWeights = actor.rankParameters(pg, tg) * actor.dtypeBytes;
        CostModel.GenerationCost splitGen = CostModel.generation(actor, pool, pg, tg, workload, cluster,
                usable - poolWeights);
        if (colocatedGen == null || splitGen == null) {
            throw new IllegalArgumentException("actor KV cache fits nowhere: colocated=" + (colocatedGen != null)
                    + ", split=" + (splitGen != null) + ", training=" + train + ", p_g=" + pg + ", t_g=" + tg);
        }
        PlacementPlanner.Transition reshard = PlacementPlanner.create().transition(actor, train.p(), train.t(), pg, tg,
                cluster.gpusPerNode());
        boolean syncCrossesNodes = train.worldSize() + rolloutGpus > cluster.gpusPerNode();
        StageTimes colocate = new StageTimes(generations * colocatedGen.seconds(),
                CostModel.transitionSeconds(reshard.bytesPerRank(), reshard.crossesNodes(), cluster), prep, training);
        StageTimes split = new StageTimes(generations * splitGen.seconds(),
                CostModel.transitionSeconds(poolWeights, syncCrossesNodes, cluster), prep, training);
        return new DynamicPlacement.Predictions(colocate, split);
    }
}
