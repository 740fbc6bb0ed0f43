package io.yatt.trainer.loop;

import io.yatt.controller.DataBatch;
import io.yatt.controller.WorkerGroup;
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
     * Generates one response per prompt row on the rollout ranks (publishing the actor's weights first unless the
     * batch is greedy); the caller closes the result.
     *
     * @throws IllegalArgumentException if the rows do not split over the generation replicas
     */
    DataBatch generate(DataBatch prompts) {
        if (!Boolean.TRUE.equals(prompts.metadata().get("greedy"))) {
            CompletableFuture<Object> send = actor.callAsync("publishWeights", version);
            CompletableFuture<Object> receive = rollout.callAsync("receiveWeights", version);
            join(send);
            join(receive);
            version++;
        }
        return (DataBatch) rollout.call("generate", prompts);
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
