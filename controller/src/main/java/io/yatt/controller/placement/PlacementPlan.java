package io.yatt.controller.placement;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A scored placement: the colocated sets with their GPUs and layouts, the seconds of each stage (the slowest set of
 * that stage) and of the whole iteration (the sum over stages). Immutable and thread-safe.
 *
 * @param sets the colocated sets, largest first, GPUs assigned in that order
 * @param stageNames the algorithm's stage names
 * @param stageSeconds per stage, the maximum over sets
 * @param iterationSeconds the sum over stages
 * @param idleGpus GPUs of the cluster left unused (when using them would not be faster)
 */
public record PlacementPlan(List<SetPlan> sets, List<String> stageNames, List<Double> stageSeconds,
                            double iterationSeconds, int idleGpus) {

    /** Copies the lists. */
    public PlacementPlan {
        sets = List.copyOf(sets);
        stageNames = List.copyOf(stageNames);
        stageSeconds = List.copyOf(stageSeconds);
    }

    /**
     * HybridFlow's names: {@code colocate} (one set holds every model), {@code standalone} (every model alone),
     * {@code split} (two sets), {@code hybrid} (anything else).
     */
    public String kind() {
        if (sets.size() == 1) {
            return "colocate";
        }
        if (sets.stream().allMatch(s -> s.roles().size() == 1)) {
            return "standalone";
        }
        return sets.size() == 2 ? "split" : "hybrid";
    }

    /** The sets as text, e.g. {@code {actor,reference}:8 {critic,reward}:8}. */
    public String describe() {
        return sets.stream().map(s -> s.roles().stream().map(Role::cliName).collect(Collectors.joining(",", "{", "}"))
                + ":" + s.gpus()).collect(Collectors.joining(" "));
    }

    /**
     * The plan of one role.
     *
     * @throws IllegalArgumentException if the placement has no such role
     */
    public RolePlan role(Role role) {
        for (SetPlan s : sets) {
            for (RolePlan r : s.rolePlans()) {
                if (r.role() == role) {
                    return r;
                }
            }
        }
        throw new IllegalArgumentException("role not in placement: role=" + role.cliName() + ", placement=" + describe());
    }

    /**
     * The set that holds a role.
     *
     * @throws IllegalArgumentException if the placement has no such role
     */
    public SetPlan setOf(Role role) {
        for (SetPlan s : sets) {
            if (s.roles().contains(role)) {
                return s;
            }
        }
        throw new IllegalArgumentException("role not in placement: role=" + role.cliName() + ", placement=" + describe());
    }
}
