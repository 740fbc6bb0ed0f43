package io.yatt.trainer.loop;

import io.yatt.collectives.Communicator;
import io.yatt.controller.DataBatch;
import io.yatt.controller.GroupTopology;
import io.yatt.controller.WorkerMethod;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import io.yatt.hybrid.WeightSync;
import io.yatt.hybrid.WeightSyncTopology;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.rollout.RolloutMode;
import io.yatt.trainer.rollout.RolloutSettings;
import io.yatt.trainer.rollout.SplitRolloutWorker;
import io.yatt.trainer.task.PromptSampler;
import io.yatt.trainer.task.Task;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A rollout rank of a split placement ({@code placement.mode=split}) as a worker: it serves the {@code rollout} role
 * alone, holds one generation-layout shard of the actor ({@link SplitRolloutWorker}), receives each new version from
 * the trainer ranks' {@link RlhfWorker#publishWeights} and generates its replica's rows ({@link #generateStep}),
 * which the controller hands to the trainers ({@link RlhfWorker#receiveRollout}). Rollout rank {@code j} is rank
 * {@code p*t*d + j} of the sync communicator. Confined to its worker's thread.
 */
public final class SplitRolloutRank implements AutoCloseable {

    private final int rolloutRank;
    private final Communicator sync;
    private final Task givenTask;
    private final Allocator results;
    private Task task;
    private RlhfLoop.Shape shape;
    private Allocator root;
    private SplitRolloutWorker worker;
    private TrainConfig cfg;
    private double syncS;
    private long syncBytes;
    private long version = -1;

    private SplitRolloutRank(int rolloutRank, Communicator sync, Task task) {
        this.rolloutRank = rolloutRank;
        this.sync = sync;
        this.givenTask = task;
        this.results = Allocator.root("split-rollout-rank-" + rolloutRank);
    }

    /**
     * Rollout rank {@code rolloutRank} over the sync communicator (trainers first, then rollout ranks), drawing
     * prompts from {@code task} (a task object of the caller's JVM), or from the config's task when {@code null}.
     */
    static SplitRolloutRank create(int rolloutRank, Communicator sync, Task task) {
        return new SplitRolloutRank(rolloutRank, sync, task);
    }

    /** The allocator the worker's results come from. */
    Allocator allocator() {
        return results;
    }

    /** This rollout rank's registration in the rollout mesh: replica {@code j / t_g} of {@code R / t_g}. */
    static Map<String, GroupTopology.MeshRank> meshes(HybridLayout layout, int rolloutSize, int rolloutRank) {
        WeightSyncTopology.RolloutCoordinates c = WeightSyncTopology.of(layout, rolloutSize)
                .rolloutCoordinates(rolloutRank);
        int replicas = rolloutSize / (layout.gen().tg() * layout.gen().pg());
        return Map.of(RlhfWorker.ROLLOUT_MESH, new GroupTopology.MeshRank(c.replica(), replicas, c.genTp() == 0));
    }

    /**
     * Allocates this rank's generation weights and its weight-sync endpoint; collective over the sync communicator
     * with every trainer's {@link RlhfWorker#initWeightSync}.
     *
     * @param configYaml the resolved config as YAML
     * @param policyPath HF checkpoint folder of the starting policy (its config.json gives the model's shape)
     * @return true
     * @throws IllegalStateException if called twice
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean init(String configYaml, String policyPath) {
        if (worker != null) {
            throw new IllegalStateException("rollout rank already initialised: rolloutRank=" + rolloutRank);
        }
        cfg = TrainConfig.load(configYaml, List.of());
        HybridLayout layout = cfg.parallel().layout();
        task = givenTask != null ? givenTask : Task.fromConfig(cfg, RlhfWorker.loader());
        shape = RlhfLoop.Shape.of(cfg, layout);
        int pad = layout.train().t();
        LlamaConfig model = LlamaCheckpoint.readConfig(Path.of(policyPath));
        ReshardPlan plan = ReshardPlanner.shared().plan(layout, model.modelSpec(DType.F32, pad),
                ReshardScheme.HYBRIDFLOW);
        root = Allocator.root("split-rollout-" + rolloutRank);
        worker = SplitRolloutWorker.create(settings(cfg, model), plan,
                WeightSyncTopology.of(layout, cfg.placement().rolloutWorldSize()), rolloutRank, sync, root, 1,
                Math.max(1, cfg.trainer().totalTrainingSteps()));
        return true;
    }

    /** What the split rollout generates, from the config (the same on trainer and rollout ranks). */
    static RolloutSettings settings(TrainConfig cfg, LlamaConfig model) {
        TrainConfig.Rollout ro = cfg.actorRolloutRef().rollout();
        Generator.Sampling sampling = RlhfWorker.sampling(ro, ro.responseLength(), false);
        long seed = cfg.trainer().seed();
        return new RolloutSettings(model, cfg.parallel().layout().train().t(), cfg.data().trainBatchSize(), ro.n(),
                cfg.data().maxPromptLength(), ro.maxNumSeqs(), sampling, false, RolloutMode.SYNC,
                WeightSync.DEFAULT_BUCKET_BYTE_SIZE,
                (step, i) -> RlhfLoop.sampleSeed(seed, step, i));
    }

    /**
     * Receives version {@code version} of the actor; collective with every trainer's {@link RlhfWorker#publishWeights}.
     *
     * @return the bytes this rank received
     * @throws IllegalStateException if the version received is not {@code version}
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public long receiveWeights(long version) {
        long t0 = System.nanoTime();
        WeightSync.SyncStats stats = initialised().receive();
        if (stats.version() != version) {
            throw new IllegalStateException("rollout rank received another weight version: received="
                    + stats.version() + ", expected=" + version);
        }
        syncS = (System.nanoTime() - t0) / 1e9;
        syncBytes = stats.byteSize();
        this.version = version;
        return syncBytes;
    }

    /**
     * The batch metadata key of one replica's number: {@code <name>.<replica>}, so that the replicas' numbers survive
     * the concatenation of their rows (which keeps the union of the batches' metadata).
     */
    static String timingKey(String name, int replica) {
        return name + "." + replica;
    }

    /**
     * Step {@code step}'s rollout, this replica's rows, on the weights last received. The rank draws the step's prompts
     * itself from the sampler position {@code (samplerEpoch, samplerPosition)} the controller names (as a colocated
     * trainer rank does), so no prompt passes through the controller. Sampled ({@code greedy} false): the step's
     * {@code S} samples, seeds {@link RlhfLoop#sampleSeed}; greedy (ReMax's baseline): one row per prompt, padded to a
     * multiple of the replicas by repeating the first prompt. Replica {@code r} of {@code G} generates rows
     * {@code [r*rows/G, (r+1)*rows/G)}. Its generation TP rank 0 returns them: {@code responses} I32 {@code [n, R]}
     * (0 after the end), {@code response_length} I32 and {@code rollout_log_probs} F32 {@code [n, R]}, and in the
     * metadata, under {@link #timingKey} of this replica, the generation's seconds {@code gen_s}, the last weight
     * sync's seconds {@code reshard_s} and bytes {@code reshard_bytes} on this rank, and the version of the weights
     * last received {@code weight_version}; the replica's other ranks return {@code null}. Numbers travel as metadata,
     * not per-row columns, so a result above the inline limit goes to the trainers by reference with the controller
     * reading none of its rows. Collective over the replica's generation TP group.
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public DataBatch generateStep(long step, long samplerEpoch, int samplerPosition, boolean greedy) {
        SplitRolloutWorker w = initialised();
        int responseLen = cfg.actorRolloutRef().rollout().responseLength();
        int[] promptIdx = StepBatch.prompts(shape, task, cfg.data().seed(),
                new PromptSampler.State(samplerEpoch, samplerPosition));
        GroupTopology.MeshRank mesh = meshes(cfg.parallel().layout(), cfg.placement().rolloutWorldSize(), rolloutRank)
                .get(RlhfWorker.ROLLOUT_MESH);
        int replica = mesh.dpRank();
        int replicas = mesh.dpSize();
        int prompts = shape.batchPrompts();
        int rows = greedy ? (prompts + replicas - 1) / replicas * replicas : shape.samples();
        int n = rows / replicas;
        int[] samples = new int[n];
        long[] seeds = new long[n];
        for (int k = 0; k < n; k++) {
            int row = replica * n + k;
            samples[k] = greedy ? row % prompts * shape.n() : row;
            seeds[k] = greedy ? 0 : RlhfLoop.sampleSeed(cfg.trainer().seed(), step, row);
        }
        List<int[]> promptIds = StepBatch.promptIds(shape, task, promptIdx, samples);
        Generator.Sampling sampling = RlhfWorker.sampling(cfg.actorRolloutRef().rollout(), responseLen, greedy);
        long g0 = System.nanoTime();
        List<Generator.Sample> out = w.generate(promptIds, sampling, seeds);
        double genS = (System.nanoTime() - g0) / 1e9;
        if (!mesh.collect()) {
            return null;
        }
        int[] responses = new int[n * responseLen];
        int[] lengths = new int[n];
        float[] logProbs = new float[n * responseLen];
        for (int i = 0; i < n; i++) {
            int[] r = out.get(i).tokens();
            System.arraycopy(r, 0, responses, i * responseLen, r.length);
            System.arraycopy(out.get(i).logProbs(), 0, logProbs, i * responseLen, r.length);
            lengths[i] = r.length;
        }
        return Rows.batch(results)
                .ints("responses", responses, n, responseLen)
                .ints("response_length", lengths, n, 0)
                .floats("rollout_log_probs", logProbs, n, responseLen)
                .metadata(timingKey("gen_s", replica), genS)
                .metadata(timingKey("reshard_s", replica), syncS)
                .metadata(timingKey("reshard_bytes", replica), (double) syncBytes)
                .metadata(timingKey("weight_version", replica), (double) version)
                .build();
    }

    private SplitRolloutWorker initialised() {
        if (worker == null) {
            throw new IllegalStateException("rollout rank not initialised: rolloutRank=" + rolloutRank
                    + ", call init first");
        }
        return worker;
    }

    /** Frees the generation weights, the sync endpoint and the results. */
    @Override
    public void close() {
        try {
            if (worker != null) {
                worker.close();
                worker = null;
            }
            if (root != null) {
                root.close();
                root = null;
            }
        } finally {
            results.close();
        }
    }
}
