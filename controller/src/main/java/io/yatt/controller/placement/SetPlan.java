package io.yatt.controller.placement;

import java.util.List;

/**
 * One colocated set: the roles that time-share the same GPUs, which GPUs, each role's plan, and the set's seconds
 * per stage (its tasks of that stage one after another). Immutable and thread-safe.
 *
 * @param roles the colocated roles, in {@link Role} order
 * @param firstGpu the first global GPU index of the set
 * @param gpus GPUs in the set (consecutive from {@code firstGpu})
 * @param rolePlans one per role, in the order of {@code roles}
 * @param stageSeconds seconds per stage of the algorithm, in stage order
 * @param peakBytesPerRank resident bytes of every role plus the largest transient of any task
 */
public record SetPlan(List<Role> roles, int firstGpu, int gpus, List<RolePlan> rolePlans, List<Double> stageSeconds,
                      long peakBytesPerRank) {

    /** Copies the lists. */
    public SetPlan {
        roles = List.copyOf(roles);
        rolePlans = List.copyOf(rolePlans);
        stageSeconds = List.copyOf(stageSeconds);
    }

    /** The same set placed at another first GPU. */
    SetPlan at(int first) {
        return new SetPlan(roles, first, gpus, rolePlans, stageSeconds, peakBytesPerRank);
    }

    /** The GPUs as text, e.g. {@code 0-7}. */
    public String gpuRange() {
        return gpus == 1 ? Integer.toString(firstGpu) : firstGpu + "-" + (firstGpu + gpus - 1);
    }
}
