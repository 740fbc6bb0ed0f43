package io.yatt.controller.placement;

import java.util.List;

/**
 * What the planner returns for one (workload, cluster): the best placement and the best {@code k}, fastest first.
 * Immutable and thread-safe.
 *
 * @param workload what was planned
 * @param cluster where
 * @param top the best placements, fastest first; {@code top.get(0)} is the best
 * @param partitions set partitions of the roles considered
 * @param placementsScored (partition, allocation) pairs whose every set fits in memory and was scored
 */
public record PlacementResult(Workload workload, Cluster cluster, List<PlacementPlan> top, int partitions,
                              long placementsScored) {

    /** Copies the list. */
    public PlacementResult {
        top = List.copyOf(top);
    }

    /** The fastest placement. */
    public PlacementPlan best() {
        return top.getFirst();
    }
}
