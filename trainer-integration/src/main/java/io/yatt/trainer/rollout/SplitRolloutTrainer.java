package io.yatt.trainer.rollout;

import io.yatt.collectives.Communicator;
import io.yatt.hybrid.HybridEngine;
import io.yatt.hybrid.WeightSync;
import io.yatt.hybrid.WeightSyncTopology;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;
import java.util.Map;
import java.util.Objects;

/**
 * A trainer rank's side of a split rollout: it publishes the actor's generation-layout weights (through its
 * {@link HybridEngine} and {@link WeightSync}) when the {@link RolloutMode} says the rollout ranks need them, and
 * receives each step's rollout from them. Every trainer rank calls {@link #step} once per step, in step order, while
 * every rollout rank runs its {@link SplitRolloutWorker}; the calls are collective over the sync communicator.
 * Confined to the rank's thread.
 */
public final class SplitRolloutTrainer implements AutoCloseable {

    private final RolloutSettings settings;
    private final Communicator sync;
    private final WeightSync weightSync;
    private final Allocator allocator;
    private final RolloutSteps steps;
    private long bytesSent;
    private long syncNs;

    private SplitRolloutTrainer(RolloutSettings settings, Communicator sync, WeightSync weightSync,
                                Allocator allocator, long firstStep, long lastStep) {
        this.settings = settings;
        this.sync = sync;
        this.weightSync = weightSync;
        this.allocator = allocator;
        this.steps = new RolloutSteps(settings.mode(), firstStep, lastStep);
    }

    /**
     * Trainer rank {@code trainerRank}'s endpoint for steps {@code firstStep..lastStep}; collective over
     * {@code sync} (the topology's sync communicator: trainers first, then rollout ranks) with the rollout ranks'
     * {@link SplitRolloutWorker#create}.
     *
     * @throws IllegalArgumentException if the steps are not {@code 1 <= firstStep <= lastStep}, or as
     *         {@link WeightSync#trainer}
     */
    public static SplitRolloutTrainer create(RolloutSettings settings, WeightSyncTopology topology, int trainerRank,
                                             Communicator sync, Allocator allocator, long firstStep, long lastStep) {
        Objects.requireNonNull(settings, "settings");
        RolloutSteps.check(firstStep, lastStep);
        Allocator own = allocator.child("split-rollout-trainer" + trainerRank);
        WeightSync ws = null;
        try {
            ws = WeightSync.trainer(topology, trainerRank, sync, own,
                    new WeightSync.Config(settings.bucketByteSize()));
            sync.split(-1, trainerRank); // the rollout ranks split their generation TP groups here
            return new SplitRolloutTrainer(settings, sync, ws, own, firstStep, lastStep);
        } catch (RuntimeException e) {
            if (ws != null) {
                ws.close();
            }
            own.close();
            throw e;
        }
    }

    /**
     * Step {@code step}'s rollout. The engine's training weights must hold the actor's current weights (version
     * {@code step - 1}: copy them in before the call); the engine is in training state before and after.
     *
     * @throws IllegalStateException if {@code step} is not the next step of this endpoint
     * @throws io.yatt.hybrid.WeightSyncException if a weight sync failed (every rank throws)
     */
    public RolloutBatch step(long step, HybridEngine engine) {
        steps.requireNext(step);
        RolloutMode mode = settings.mode();
        if (mode == RolloutMode.SYNC ? mode.syncsBefore(step, steps.first()) : step == steps.first()) {
            publish(mode.weightVersion(step, steps.first()), engine);
        }
        RolloutBatch batch = RolloutExchange.exchange(sync, allocator, settings, RolloutExchange.Part.none(), step);
        if (mode == RolloutMode.ASYNC && step < steps.last() && mode.syncsBefore(step + 1, steps.first())) {
            // the rollout ranks generate step + 1 with these weights while this step trains
            publish(mode.weightVersion(step + 1, steps.first()), engine);
        }
        steps.done(step);
        return batch;
    }

    /**
     * Publishes version {@code version} of the actor outside {@link #step}'s schedule (a driver that dispatches the
     * rollout itself): the engine's training weights, resharded to the generation layout, go to the rollout ranks,
     * which call {@link SplitRolloutWorker#receive()} at the same time; the engine is back in training state after.
     *
     * @return this rank's part of the sync
     * @throws io.yatt.hybrid.WeightSyncException if a rank refused the sync (every rank throws)
     */
    public WeightSync.SyncStats publish(long version, HybridEngine engine) {
        long t0 = System.nanoTime();
        Map<String, Tensor> generation = engine.toGeneration();
        WeightSync.SyncStats stats;
        try {
            stats = weightSync.send(version, generation);
        } finally {
            engine.toTraining();
        }
        bytesSent += stats.byteSize();
        syncNs += System.nanoTime() - t0;
        return stats;
    }

    /** Bytes this rank has sent to rollout ranks so far (0 unless it is a source). */
    public long bytesSent() {
        return bytesSent;
    }

    /** Wall time spent publishing weights (reshard and sync) so far. */
    public long syncNs() {
        return syncNs;
    }

    /** The last version published. */
    public long version() {
        return weightSync.version();
    }

    /**
     * Resumes split rollout at {@code step} after steps whose rollout ran elsewhere (a placement switch): the step
     * runs as a first step, so the rollout ranks receive the current weights before generating it. Every trainer and
     * rollout rank calls it for the same step. Synchronous mode only (a no-op before the first step): an asynchronous
     * rollout is already generating the step after the current one.
     *
     * @throws IllegalStateException in asynchronous mode, or if {@code step} is before the next step or after the last
     */
    public void restartAt(long step) {
        steps.restartAt(step);
    }

    @Override
    public void close() {
        weightSync.close();
        allocator.close();
    }
}
