package io.yatt.trainer.loop;

import io.yatt.controller.DataBatch;
import io.yatt.controller.WorkerGroup;

/**
 * The rollout stage as the driver sees it: a batch of prompts in ({@code prompt_ids}, {@code prompt_length},
 * {@code seed}, metadata {@code greedy}), the batch of responses out ({@code responses}, {@code response_length},
 * {@code rollout_log_probs}, {@code gen_s}, {@code reshard_s}, {@code reshard_bytes}, see
 * {@link RlhfWorker#generate}), rows in the order of the prompts. The colocated form runs on the actor's ranks through
 * the hybrid engine; a split placement (rollout on its own ranks, weights through WeightSync) is another form of this
 * seam.
 */
interface Rollout {

    /**
     * Generates one response per prompt row; the caller closes the result.
     *
     * @throws IllegalArgumentException if the rows do not split over the generation replicas
     */
    DataBatch generate(DataBatch prompts);

    /** The colocated rollout: {@code generate} on the {@code rollout} role, MESH over the generation replicas. */
    static Rollout colocated(WorkerGroup rollout) {
        return prompts -> (DataBatch) rollout.call("generate", prompts);
    }
}
