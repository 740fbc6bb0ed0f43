package io.yatt.trainer.rollout;

import io.yatt.collectives.Communicator;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.WeightSync;
import io.yatt.hybrid.WeightSyncTopology;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A rollout rank of a split rollout: it holds one generation-layout shard of the actor, receives new versions
 * through {@link WeightSync} when the {@link RolloutMode} says so, generates its replica's contiguous chunk of every
 * step's samples (sample {@code i} of step {@code k} with seed {@code settings.seeds().seed(k, i)}, so the tokens do
 * not depend on how many replicas there are) and hands the step to every rank of the sync communicator. Rollout
 * replica {@code q} of {@code Q} generates samples {@code [q*S/Q, (q+1)*S/Q)}; with a greedy baseline, prompts
 * {@code [q*ceil(P/Q), min(P, (q+1)*ceil(P/Q)))}, as the colocated loop splits them. Confined to the rank's thread.
 */
public final class SplitRolloutWorker implements AutoCloseable {

    private final RolloutSettings settings;
    private final WeightSyncTopology topology;
    private final int rolloutRank;
    private final Communicator sync;
    private final Communicator genTp;
    private final Allocator allocator;
    private final Map<String, Tensor> weights;
    private final WeightSync weightSync;
    private final RolloutSteps steps;
    private final List<Long> versions = new ArrayList<>();

    private SplitRolloutWorker(RolloutSettings settings, WeightSyncTopology topology, int rolloutRank,
                               Communicator sync, Communicator genTp, Allocator allocator, Map<String, Tensor> weights,
                               WeightSync weightSync, long firstStep, long lastStep) {
        this.settings = settings;
        this.topology = topology;
        this.rolloutRank = rolloutRank;
        this.sync = sync;
        this.genTp = genTp;
        this.allocator = allocator;
        this.weights = weights;
        this.weightSync = weightSync;
        this.steps = new RolloutSteps(settings.mode(), firstStep, lastStep);
    }

    /**
     * Rollout rank {@code rolloutRank}'s worker for steps {@code firstStep..lastStep}; collective over {@code sync}
     * with the trainer ranks' {@link SplitRolloutTrainer#create}. {@code plan} is the trainers' reshard plan (the
     * generation shapes come from it).
     *
     * @throws IllegalArgumentException if the generation layout is pipelined ({@code p_g > 1}), the samples do not
     *         divide over the rollout replicas, the steps are out of order, or as {@link WeightSync#rollout}
     */
    public static SplitRolloutWorker create(RolloutSettings settings, ReshardPlan plan, WeightSyncTopology topology,
                                            int rolloutRank, Communicator sync, Allocator allocator, long firstStep,
                                            long lastStep) {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(plan, "plan");
        RolloutSteps.check(firstStep, lastStep);
        int pg = topology.layout().gen().pg();
        if (pg != 1) {
            throw new IllegalArgumentException("split rollout generates without pipeline stages: p_g=" + pg
                    + ", expected=1");
        }
        int replicas = topology.rolloutReplicas();
        if (settings.samples() % replicas != 0) {
            throw new IllegalArgumentException("samples per step must divide over the rollout replicas: samples="
                    + settings.samples() + ", replicas=" + replicas);
        }
        Allocator own = allocator.child("split-rollout-worker" + rolloutRank);
        Map<String, Tensor> weights = null;
        WeightSync ws = null;
        try {
            weights = WeightSync.allocateGenerationWeights(plan, topology, rolloutRank, own);
            ws = WeightSync.rollout(topology, rolloutRank, sync, weights, own);
            WeightSyncTopology.RolloutCoordinates rc = topology.rolloutCoordinates(rolloutRank);
            Communicator genTp = sync.split(rc.replica(), rc.genTp()).orElseThrow();
            return new SplitRolloutWorker(settings, topology, rolloutRank, sync, genTp, own, weights, ws, firstStep,
                    lastStep);
        } catch (RuntimeException e) {
            if (ws != null) {
                ws.close();
            }
            if (weights != null) {
                weights.values().forEach(Tensor::close);
            }
            own.close();
            throw e;
        }
    }

    /**
     * Generates step {@code step} (receiving new weights first when the mode says so) and hands it to every rank.
     *
     * @param promptIds the step's prompt tokens per sample (all samples, the same on every rank)
     * @return the whole step, as the trainers receive it
     * @throws IllegalArgumentException if there is not one prompt per sample
     * @throws IllegalStateException if {@code step} is not the next step, or the weights received are not the
     *         version the mode expects
     * @throws io.yatt.hybrid.WeightSyncException if a weight sync failed (weights unchanged)
     */
    public RolloutBatch step(long step, List<int[]> promptIds) {
        steps.requireNext(step);
        if (promptIds.size() != settings.samples()) {
            throw new IllegalArgumentException("one prompt per sample expected: prompts=" + promptIds.size()
                    + ", samples=" + settings.samples());
        }
        RolloutMode mode = settings.mode();
        long version = mode.weightVersion(step, steps.first());
        if (mode.syncsBefore(step, steps.first())) {
            receive();
        }
        if (weightSync.version() != version) {
            throw new IllegalStateException("rollout weights are not the version this step needs: step=" + step
                    + ", held=" + weightSync.version() + ", expected=" + version);
        }
        int replicas = topology.rolloutReplicas();
        WeightSyncTopology.RolloutCoordinates rc = topology.rolloutCoordinates(rolloutRank);
        int replica = rc.replica();
        boolean leader = rc.genTp() == 0;
        int chunk = settings.samples() / replicas;
        int from = replica * chunk;
        List<Generator.Sample> baseline = List.of();
        int pf = 0;
        long[] seeds = new long[chunk];
        for (int i = 0; i < chunk; i++) {
            seeds[i] = settings.seeds().seed(step, from + i);
        }
        List<Generator.Sample> mine = generate(promptIds.subList(from, from + chunk), settings.sampling(), seeds);
        if (settings.greedyBaseline()) {
            int per = (settings.prompts() + replicas - 1) / replicas;
            pf = Math.min(settings.prompts(), replica * per);
            int pt = Math.min(settings.prompts(), pf + per);
            if (pt > pf) {
                List<int[]> bp = new ArrayList<>(pt - pf);
                for (int j = pf; j < pt; j++) {
                    bp.add(promptIds.get(j * settings.n()));
                }
                Generator.Sampling s = settings.sampling();
                baseline = generate(bp, new Generator.Sampling(s.maxNewTokens(), 0f, 0, 1f, s.stopTokens()),
                        new long[pt - pf]);
            }
        }
        RolloutExchange.Part part = leader
                ? new RolloutExchange.Part(mine, from, baseline, pf, rolloutRank == 0, step, version)
                : new RolloutExchange.Part(List.of(), 0, List.of(), 0, rolloutRank == 0, step, version);
        RolloutBatch batch = RolloutExchange.exchange(sync, allocator, settings, part, step);
        versions.add(version);
        steps.done(step);
        return batch;
    }

    /**
     * Receives the next weight version (collective with every trainer rank's {@link SplitRolloutTrainer#publish});
     * {@link #step} calls it when its mode says so, a driver that dispatches the rollout itself calls it directly.
     *
     * @return this rank's part of the sync
     * @throws io.yatt.hybrid.WeightSyncException if a rank refused the sync (the weights are unchanged)
     */
    public WeightSync.SyncStats receive() {
        return weightSync.receive();
    }

    /**
     * Generates continuations of {@code prompts} on the weights held (version {@link #version()}), with this rank's
     * rollout replica, in passes of at most {@code maxNumSeqs} prompts: collective over the replica's generation TP
     * group, every rank of which gets the samples.
     *
     * @throws IllegalArgumentException as {@link Generator#generate}
     */
    public List<Generator.Sample> generate(List<int[]> prompts, Generator.Sampling sampling, long[] seeds) {
        try (LlamaModel gen = LlamaModel.fromTensors(settings.model(), Head.LANGUAGE_MODEL, weights,
                genTp.size() == 1 ? null : genTp, settings.vocabPadMultiple())) {
            return Generator.create(gen, Math.min(prompts.size(), settings.maxNumSeqs()),
                    settings.maxPromptLength() + settings.responseLength()).generateAll(prompts, sampling, seeds);
        }
    }

    /** This rank's place among the rollout ranks (its replica and generation TP rank). */
    public WeightSyncTopology.RolloutCoordinates coordinates() {
        return topology.rolloutCoordinates(rolloutRank);
    }

    /** The weight version that generated each step so far, in step order. */
    public List<Long> versions() {
        return List.copyOf(versions);
    }

    /** This rank's generation weights (the version {@link #version()}), read-only by contract. */
    public Map<String, Tensor> weights() {
        return weights;
    }

    /** The version the weights hold, {@code -1} before the first sync. */
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
        genTp.close();
        for (Tensor t : weights.values()) {
            t.close();
        }
        allocator.close();
    }
}
