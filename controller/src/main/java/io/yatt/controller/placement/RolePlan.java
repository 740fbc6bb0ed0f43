package io.yatt.controller.placement;

import io.yatt.hybrid.GenerationLayout;
import io.yatt.hybrid.ParallelLayout;
import java.util.Objects;
import java.util.Optional;

/**
 * One model's part of a placement: its training (or inference) layout {@code p-t-d}, the actor's generation layout
 * {@code p_g-t_g-d_g-d}, its memory per rank and its predicted seconds per task. Immutable and thread-safe.
 *
 * @param role the model
 * @param layout training and inference layout over the set's GPUs
 * @param generation the actor's generation layout (3D-HybridEngine rules); empty for other roles
 * @param residentBytesPerRank bytes kept between tasks (weights; for trained roles also gradients and optimizer)
 * @param peakTransientBytesPerRank the largest working bytes of any of the role's tasks (for generation: extra
 *        generation weights plus the KV cache)
 * @param generateSeconds one generation task (0 if none)
 * @param transitionSeconds the train-to-generation transition (0 if none)
 * @param transitionBytesPerRank bytes each rank receives in the transition, from {@code ReshardPlanner}
 * @param inferSeconds one forward pass over the batch
 * @param trainSeconds one training stage (0 if not trained)
 * @param concurrentSequences sequences decoded at once per generation replica (0 if no generation)
 */
public record RolePlan(Role role, ParallelLayout layout, Optional<GenerationLayout> generation,
                       long residentBytesPerRank, long peakTransientBytesPerRank, double generateSeconds,
                       double transitionSeconds, long transitionBytesPerRank, double inferSeconds, double trainSeconds,
                       long concurrentSequences) {

    /** Checks for nulls. */
    public RolePlan {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(generation, "generation");
    }

    /** Seconds of one task of this role (the transition counts with the first generation). */
    public double taskSeconds(TaskKind kind) {
        return switch (kind) {
            case GENERATE -> generateSeconds;
            case INFER -> inferSeconds;
            case TRAIN -> trainSeconds;
        };
    }
}
