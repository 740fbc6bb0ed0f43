package io.yatt.trainer.loop;

import io.yatt.controller.DataBatch;
import io.yatt.controller.WorkerGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The split form of the {@link Rollout} seam (synchronous, {@code placement.mode=split}): before the first
 * (sampled) generation of each step, the trainers publish the actor's current weights and the rollout ranks receive
 * them, both groups called at once since the sync is one collective; then the {@code rollout} group (ranks of its
 * own, {@link SplitRolloutRank}) generates. Step {@code k}'s weights are version {@code k - 1}, exactly as colocated,
 * so the run's metrics equal a colocated run's. A greedy call (ReMax's baseline) reuses the step's weights.
 * Confined to the driver thread.
 */
final class SplitRollout implements Rollout {

    private final WorkerGroup actor;
    private final WorkerGroup rollout;
    private long version;

    /**
     * @param actor the trainers' actor group (serves {@code publishWeights})
     * @param rollout the rollout ranks' group
     * @param firstStep the run's first step: its weights are version {@code firstStep - 1}
     */
    SplitRollout(WorkerGroup actor, WorkerGroup rollout, long firstStep) {
        this.actor = actor;
        this.rollout = rollout;
        this.version = firstStep - 1;
    }

    /**
     * Step {@code step}'s rollout on the rollout ranks, which draw the step's prompts from the sampler position named
     * ({@link SplitRolloutRank#generateStep}; publishing the actor's weights first unless greedy), as one batch of
     * every replica's rows in replica order; the caller closes it.
     */
    DataBatch generate(long step, long samplerEpoch, int samplerPosition, boolean greedy) {
        publish(greedy);
        return collect(rollout.call("generateStep", step, samplerEpoch, samplerPosition, greedy));
    }

    /**
     * The rollout ranks' results of a {@code generateStep} call as one batch: the replicas' batches (their generation
     * TP rank 0's; the other ranks return none) concatenated in rank order, which is replica order; the parts are
     * closed.
     */
    static DataBatch collect(Object results) {
        List<DataBatch> parts = new ArrayList<>();
        for (Object r : (List<?>) results) {
            if (r != null) {
                parts.add((DataBatch) r);
            }
        }
        try {
            return DataBatch.concat(parts);
        } finally {
            for (DataBatch p : parts) {
                p.close();
            }
        }
    }

    private void publish(boolean greedy) {
        if (!greedy) {
            CompletableFuture<Object> send = actor.callAsync("publishWeights", version);
            CompletableFuture<Object> receive = rollout.callAsync("receiveWeights", version);
            join(send);
            join(receive);
            version++;
        }
    }

    private static void join(CompletableFuture<Object> f) {
        try {
            f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
    }
}
