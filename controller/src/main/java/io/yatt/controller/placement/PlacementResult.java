package io.yatt.controller.placement;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the planner returns for one (workload, cluster): the best placement and the best {@code k}, fastest first.
 * Immutable and thread-safe.
 *
 * @param workload what was planned
 * @param cluster where
 * @param top the best placements, fastest first; {@code top.get(0)} is the best
 * @param partitions set partitions of the roles considered
 * @param placementsScored (partition, allocation) pairs whose every set fits in memory and was scored
 * @param minimumGpus for every set of roles that fits on some allowed GPU count, the smallest such count
 *        (Algorithm 1's minimum allocation from memory)
 */
public record PlacementResult(Workload workload, Cluster cluster, List<PlacementPlan> top, int partitions,
                              long placementsScored, Map<Set<Role>, Integer> minimumGpus) {

    /** Copies the collections. */
    public PlacementResult {
        top = List.copyOf(top);
        minimumGpus = Map.copyOf(minimumGpus);
    }

    /** The fastest placement. */
    public PlacementPlan best() {
        return top.getFirst();
    }
}
