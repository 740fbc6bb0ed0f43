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
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A rollout rank of a split placement ({@code placement.mode=split}) as a worker: it serves the {@code rollout} role
 * alone, holds one generation-layout shard of the actor ({@link SplitRolloutWorker}), receives each new version from
 * the trainer ranks' {@link RlhfWorker#publishWeights} and generates its replica's rows ({@link #generate}), which the
 * controller hands to the trainers ({@link RlhfWorker#receiveRollout}). Rollout rank {@code j} is rank {@code p*t*d + j} of the sync communicator. Confined to its
 * worker's thread.
 */
public final class SplitRolloutRank implements AutoCloseable {

    private final int rolloutRank;
    private final Communicator sync;
    private final Allocator results;
    private Allocator root;
    private SplitRolloutWorker worker;
    private TrainConfig cfg;
    private double syncS;
    private long syncBytes;
    private long version = -1;

    private SplitRolloutRank(int rolloutRank, Communicator sync) {
        this.rolloutRank = rolloutRank;
        this.sync = sync;
        this.results = Allocator.root("split-rollout-rank-" + rolloutRank);
    }

    /** Rollout rank {@code rolloutRank} over the sync communicator (trainers first, then rollout ranks). */
    static SplitRolloutRank create(int rolloutRank, Communicator sync) {
        return new SplitRolloutRank(rolloutRank, sync);
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
     * This replica's rows on the weights last received: input {@code prompt_ids} I32 {@code [n, P]} (left-padded),
     * {@code prompt_length} I32, {@code seed} I64 and metadata {@code greedy}; output {@code responses} I32
     * {@code [n, R]} (0 after the end), {@code response_length} I32 and {@code rollout_log_probs} F32 {@code [n, R]},
     * and in the metadata, under {@link #timingKey} of this replica, the generation's seconds {@code gen_s}, the last
     * weight sync's seconds {@code reshard_s} and bytes {@code reshard_bytes} on this rank, and the version of the
     * weights last received {@code weight_version}. Numbers travel as metadata, not per-row columns, so a result above
     * the inline limit goes to the trainers by reference with the controller reading none of its rows.
     */
    @WorkerMethod(dispatch = "MESH(" + RlhfWorker.ROLLOUT_MESH + ")")
    public DataBatch generate(DataBatch prompts) {
        SplitRolloutWorker w = initialised();
        int promptLen = cfg.data().maxPromptLength();
        int responseLen = cfg.actorRolloutRef().rollout().responseLength();
        int n = prompts.length();
        long[] seeds = Rows.longs(prompts, "seed");
        List<int[]> promptIds = Rows.promptIds(prompts, promptLen);
        Generator.Sampling sampling = RlhfWorker.sampling(prompts, cfg.actorRolloutRef().rollout(), responseLen);
        long g0 = System.nanoTime();
        List<Generator.Sample> out = w.generate(promptIds, sampling, seeds);
        double genS = (System.nanoTime() - g0) / 1e9;
        int[] responses = new int[n * responseLen];
        int[] lengths = new int[n];
        float[] logProbs = new float[n * responseLen];
        for (int i = 0; i < n; i++) {
            int[] r = out.get(i).tokens();
            System.arraycopy(r, 0, responses, i * responseLen, r.length);
            System.arraycopy(out.get(i).logProbs(), 0, logProbs, i * responseLen, r.length);
            lengths[i] = r.length;
        }
        int replica = meshes(cfg.parallel().layout(), cfg.placement().rolloutWorldSize(), rolloutRank)
                .get(RlhfWorker.ROLLOUT_MESH).dpRank();
        return DataBatch.builder(results)
                .tensor("responses", Rows.ints(results, responses, n, responseLen))
                .tensor("response_length", Rows.ints(results, lengths, n, 0))
                .tensor("rollout_log_probs", Rows.floats(results, logProbs, n, responseLen))
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
