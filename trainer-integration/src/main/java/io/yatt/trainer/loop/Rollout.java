package io.yatt.trainer.loop;

import io.yatt.controller.WorkerGroup;

/**
 * The rollout stage as the driver sees it. Colocated, it runs on the trainer ranks themselves
 * ({@link RlhfWorker#generateStep}: the ranks draw the step's prompts, generate through the hybrid engine and keep
 * the batch; the driver only names the step and the sampler position). Split, the rollout ranks draw the same
 * prompts from the sampler position the driver names and return the responses ({@code responses},
 * {@code response_length}, {@code rollout_log_probs}, {@code gen_s}, {@code reshard_s}, {@code reshard_bytes},
 * {@code weight_version}; see {@link SplitRolloutRank#generateStep}), rows in sample order, which the driver hands to
 * the trainers ({@link RlhfWorker#receiveRollout}).
 */
sealed interface Rollout permits Rollout.Colocated, SplitRollout {

    /** The colocated rollout: {@code generateStep} on {@code group} (the trainers' rollout role). */
    static Rollout colocated(WorkerGroup group) {
        return new Colocated(group);
    }

    /** The trainers' own rollout, called through {@code generateStep}. */
    record Colocated(WorkerGroup group) implements Rollout {
    }
}
