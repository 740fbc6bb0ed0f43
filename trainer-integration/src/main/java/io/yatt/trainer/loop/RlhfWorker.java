package io.yatt.trainer.loop;

import io.yatt.collectives.Communicator;
import io.yatt.controller.DataBatch;
import io.yatt.controller.GroupTopology;
import io.yatt.controller.WorkerMethod;
import io.yatt.hybrid.GroupKind;
import io.yatt.hybrid.HybridEngine;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.RankCoordinates;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import io.yatt.hybrid.WeightSyncTopology;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;
import io.yatt.trainer.algo.AggOptions;
import io.yatt.trainer.algo.AggregatedLoss;
import io.yatt.trainer.algo.AlgorithmRegistry;
import io.yatt.trainer.algo.BatchTensor;
import io.yatt.trainer.algo.KlPenalty;
import io.yatt.trainer.algo.LossAggMode;
import io.yatt.trainer.algo.Losses;
import io.yatt.trainer.algo.PolicyLossConfig;
import io.yatt.trainer.algo.PolicyLossInput;
import io.yatt.trainer.algo.PolicyLossResult;
import io.yatt.trainer.algo.ValueLossResult;
import io.yatt.trainer.config.AdvantageEstimator;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.AdamW;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Gemm;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.Gradients;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.CharTokenizer;
import io.yatt.trainer.rollout.SplitRolloutTrainer;
import io.yatt.trainer.task.Task;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One rank of the RLHF job: the colocated roles that time-share it (the actor with its rollout in the generation
 * layout through the {@link HybridEngine}, the frozen reference, the critic and, for Safe-RLHF, the cost critic, and
 * the rule-based reward) behind {@link WorkerMethod}s whose dispatch modes are declared here. A worker needs only its
 * rank and world communicator and then {@link #init}; nothing is shared with the driver by Java reference (the
 * embedded launch may hand in a {@link Task} object instead of building it from the config). Calls run one at a time
 * on the worker's call thread; every rank of the world takes part in each call, because the methods run collectives.
 * Creating one sets OpenBLAS, when it is the matrix multiply, to one thread per call for the whole process
 * ({@link Gemm#oneBlasThreadPerCall}): ranks multiply at once, and a run's numbers must not depend on its launch.
 */
public final class RlhfWorker implements AutoCloseable {
    /** Mesh of the generation replicas: DP rank = replica, collect = generation TP rank 0. */
    public static final String ROLLOUT_MESH = "rollout";
    /** Mesh of the training layout: DP rank = training DP coordinate, collect = TP rank 0 (pipeline stage 0). */
    public static final String TRAIN_MESH = "train";

    static final String ACTOR = "actor";
    static final String CRITIC = "critic";
    static final String COST_CRITIC = "cost_critic";

    private final int rank;
    private final Communicator world;
    private final Task givenTask;
    private final Consumer<Communicator> registrar;
    private final Allocator results;
    private State st;
    /** Split placement: the communicator of trainers then rollout ranks, and this trainer's sync endpoint. */
    private Communicator sync;
    private SplitRolloutTrainer weightSync;

    private RlhfWorker(int rank, Communicator world, Task task, Consumer<Communicator> registrar) {
        if (rank != world.rank()) {
            throw new IllegalArgumentException("worker rank differs from its communicator's rank: rank=" + rank
                    + ", communicatorRank=" + world.rank());
        }
        this.rank = rank;
        this.world = world;
        this.givenTask = task;
        this.registrar = registrar;
        this.results = Allocator.root("rlhf-worker-" + rank);
        // ranks multiply at once, as threads of one JVM or one JVM each: the same numbers either way
        Gemm.oneBlasThreadPerCall();
    }

    /**
     * A worker for {@code rank} of {@code world}; {@link #init} then builds its roles (the task from the config).
     *
     * @throws IllegalArgumentException if {@code rank} is not the communicator's rank
     */
    public static RlhfWorker create(int rank, Communicator world) {
        return new RlhfWorker(rank, world, null, c -> { });
    }

    /**
     * As {@link #create(int, Communicator)}, and every group communicator {@link #init} makes (generation TP, DP,
     * training TP) goes to {@code registrar}, typically {@code Worker::registerCommunicator}, so a lost peer aborts
     * collectives on them too (the world communicator is registered by the launcher).
     */
    public static RlhfWorker create(int rank, Communicator world, Consumer<Communicator> registrar) {
        return new RlhfWorker(rank, world, null, registrar);
    }

    /** An embedded worker that scores with {@code task} (a task object of the caller's JVM) instead of the config's. */
    static RlhfWorker embedded(int rank, Communicator world, Task task, Consumer<Communicator> registrar) {
        return new RlhfWorker(rank, world, task, registrar);
    }

    /**
     * An embedded trainer of a split placement: {@code world} spans the trainers, {@code sync} the trainers and then
     * the rollout ranks ({@link SplitRolloutRank}), over which {@link #publishWeights} sends.
     */
    static RlhfWorker embeddedSplit(int rank, Communicator world, Communicator sync, Task task,
                                    Consumer<Communicator> registrar) {
        RlhfWorker w = new RlhfWorker(rank, world, task, registrar);
        w.sync = sync;
        return w;
    }

    /**
     * Split placement: makes this trainer's weight-sync endpoint; collective over the sync communicator with every
     * rollout rank's {@link SplitRolloutRank#init}. Call after {@link #init}.
     *
     * @return true
     * @throws IllegalStateException if this worker has no sync communicator or already an endpoint
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean initWeightSync() {
        State s = state();
        if (sync == null || weightSync != null) {
            throw new IllegalStateException("weight sync needs a split placement and is made once: rank=" + rank
                    + ", sync=" + (sync != null) + ", made=" + (weightSync != null));
        }
        weightSync = SplitRolloutTrainer.create(SplitRolloutRank.settings(s.cfg, s.model),
                WeightSyncTopology.of(s.layout, s.cfg.placement().rolloutWorldSize()), rank, sync, s.root, 1,
                Math.max(1, s.cfg.trainer().totalTrainingSteps()));
        return true;
    }

    /**
     * Split placement: the actor's current weights, resharded to the generation layout, go to the rollout ranks as
     * version {@code version}; collective with every rollout rank's {@link SplitRolloutRank#receiveWeights}.
     *
     * @return the bytes this rank sent (0 unless it is a source)
     * @throws IllegalStateException if {@link #initWeightSync} has not run
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public long publishWeights(long version) {
        State s = state();
        if (weightSync == null) {
            throw new IllegalStateException("weight sync not made: rank=" + rank + ", call initWeightSync first");
        }
        s.actor.copyTo(s.engine.trainingWeights());
        return weightSync.publish(version, s.engine).byteSize();
    }

    /** The allocator the worker's results come from. */
    public Allocator allocator() {
        return results;
    }

    /** This rank's registrations in the two meshes of {@code layout}, for {@code Worker.Context.meshes}. */
    public static Map<String, GroupTopology.MeshRank> meshes(HybridLayout layout, int rank) {
        RankCoordinates c = layout.coordinates(rank);
        List<Integer> genGroup = layout.group(GroupKind.GEN_TP, rank);
        int replica = layout.groups(GroupKind.GEN_TP).indexOf(genGroup);
        int replicas = layout.groups(GroupKind.GEN_TP).size();
        return Map.of(
                ROLLOUT_MESH, new GroupTopology.MeshRank(replica, replicas, genGroup.getFirst() == rank),
                TRAIN_MESH, new GroupTopology.MeshRank(c.dp(), layout.train().d(), c.tp() == 0 && c.pp() == 0));
    }

    /**
     * A rank's mesh registrations relative to its controller: the controller's generation replicas and training DP
     * ranks numbered from 0 (for a worker of controller {@code controller} of {@code controllers}, a JVM's too).
     *
     * @throws IllegalArgumentException if the controller's generation replicas are not one contiguous block
     */
    public static Map<String, GroupTopology.MeshRank> meshes(HybridLayout layout, int rank, int controller,
                                                             int controllers) {
        Map<String, GroupTopology.MeshRank> global = meshes(layout, rank);
        if (controllers == 1) {
            return global;
        }
        GroupTopology.MeshRank gen = global.get(ROLLOUT_MESH);
        GroupTopology.MeshRank train = global.get(TRAIN_MESH);
        int replicas = gen.dpSize() / controllers;
        int dps = train.dpSize() / controllers;
        if (gen.dpSize() % controllers != 0 || gen.dpRank() / replicas != controller) {
            throw new IllegalArgumentException("generation replicas must split into one contiguous block per "
                    + "controller: rank=" + rank + ", replica=" + gen.dpRank() + ", replicas=" + gen.dpSize()
                    + ", controller=" + controller + ", controllers=" + controllers + ", groups="
                    + layout.groups(GroupKind.GEN_TP));
        }
        return Map.of(
                ROLLOUT_MESH, new GroupTopology.MeshRank(gen.dpRank() % replicas, replicas, gen.collect()),
                TRAIN_MESH, new GroupTopology.MeshRank(train.dpRank() % dps, dps, train.collect()));
    }

    /** Whether the estimator trains a critic. */
    static boolean hasCritic(AdvantageEstimator est) {
        return est == AdvantageEstimator.GAE || est == AdvantageEstimator.SAFE_RLHF;
    }

    /** Everything init builds. */
    private static final class State {
        TrainConfig cfg;
        Task task;
        LlamaConfig model;
        HybridLayout layout;
        RankCoordinates coords;
        int pad;
        int responseLen;
        int promptLen;
        Allocator root;
        HybridEngine engine;
        LlamaModel actor;
        LlamaModel ref;
        LlamaModel critic;
        LlamaModel costCritic;
        AdamW actorOpt;
        AdamW criticOpt;
        AdamW costCriticOpt;
        Communicator genTp;
        Communicator dpComm;
        Communicator tp;
        Communicator dp;
    }

    /**
     * Builds this rank's roles: the actor and the frozen reference from the starting policy, the critic (GAE,
     * Safe-RLHF) from a seeded value head over the policy's trunk, their AdamW states, the hybrid engine and the
     * generation and DP communicators; from {@code resumePath} (when not empty) the actor's and critic's weights and
     * this rank's optimiser states. Collective: every rank calls it.
     *
     * @param configYaml the resolved config as YAML
     * @param policyPath HF checkpoint folder of the starting policy
     * @param resumePath a verified checkpoint folder, or empty to start fresh
     * @return true
     * @throws IllegalStateException if called twice
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean init(String configYaml, String policyPath, String resumePath) {
        if (st != null) {
            throw new IllegalStateException("worker already initialised: rank=" + rank);
        }
        State s = new State();
        s.cfg = TrainConfig.load(configYaml, List.of());
        s.task = givenTask != null ? givenTask : Task.fromConfig(s.cfg, loader());
        s.layout = s.cfg.parallel().layout();
        s.coords = s.layout.coordinates(rank);
        int t = s.layout.train().t();
        s.pad = t;
        s.promptLen = s.cfg.data().maxPromptLength();
        s.responseLen = s.cfg.actorRolloutRef().rollout().responseLength();
        LlamaCheckpoint.Loaded policy = LlamaCheckpoint.load(Path.of(policyPath), s.pad);
        s.model = policy.config();
        s.model.requireTensorParallel(t);
        ReshardPlan plan = ReshardPlanner.shared().plan(s.layout, s.model.modelSpec(DType.F32, s.pad),
                ReshardScheme.HYBRIDFLOW);
        List<Integer> genGroup = s.layout.group(GroupKind.GEN_TP, rank);
        int replica = s.layout.groups(GroupKind.GEN_TP).indexOf(genGroup);
        s.genTp = world.split(replica, rank).orElseThrow();
        List<Integer> dpGroup = s.layout.group(GroupKind.DP, rank);
        s.dpComm = world.split(s.layout.groups(GroupKind.DP).indexOf(dpGroup), rank).orElseThrow();
        boolean withCritic = hasCritic(s.cfg.algorithm().advEstimator());
        Map<String, float[]> actorInit = policy.weights();
        Map<String, float[]> criticInit = withCritic ? valueInit(s, policy.weights(), 1) : null;
        boolean withCostCritic = s.cfg.algorithm().advEstimator() == AdvantageEstimator.SAFE_RLHF;
        Map<String, float[]> costInit = withCostCritic ? valueInit(s, policy.weights(), 2) : null;
        boolean resume = !resumePath.isEmpty();
        Path from = resume ? Path.of(resumePath) : null;
        if (resume) {
            actorInit = LlamaCheckpoint.load(from.resolve(ACTOR), s.pad).weights();
            if (withCritic) {
                criticInit = LlamaCheckpoint.load(from.resolve(CRITIC), s.pad).weights();
            }
            if (withCostCritic) {
                costInit = LlamaCheckpoint.load(from.resolve(COST_CRITIC), s.pad).weights();
            }
        }
        s.root = Allocator.root("rank" + rank);
        s.engine = HybridEngine.create(plan, rank, world, s.root);
        Communicator tpComm = s.engine.communicator(GroupKind.TP);
        registrar.accept(s.genTp);
        registrar.accept(s.dpComm);
        registrar.accept(tpComm);
        s.actor = LlamaModel.create(s.model, Head.LANGUAGE_MODEL,
                LlamaWeights.shard(s.model, Head.LANGUAGE_MODEL, actorInit, t, s.coords.tp(), s.pad), tpComm, s.pad);
        s.ref = LlamaModel.create(s.model, Head.LANGUAGE_MODEL,
                LlamaWeights.shard(s.model, Head.LANGUAGE_MODEL, policy.weights(), t, s.coords.tp(), s.pad), tpComm,
                s.pad);
        s.critic = withCritic ? LlamaModel.create(s.model, Head.VALUE,
                LlamaWeights.shard(s.model, Head.VALUE, criticInit, t, s.coords.tp(), s.pad), tpComm, s.pad) : null;
        s.costCritic = withCostCritic ? LlamaModel.create(s.model, Head.VALUE,
                LlamaWeights.shard(s.model, Head.VALUE, costInit, t, s.coords.tp(), s.pad), tpComm, s.pad) : null;
        s.tp = t == 1 ? null : tpComm;
        s.dp = s.layout.train().d() == 1 ? null : s.dpComm;
        s.actorOpt = AdamW.create(s.actor.parameters(), new AdamW.Settings(0.9, 0.999, 1e-8,
                s.cfg.actorRolloutRef().actor().optim().weightDecay()));
        s.criticOpt = s.critic == null ? null : AdamW.create(s.critic.parameters(),
                new AdamW.Settings(0.9, 0.999, 1e-8, s.cfg.critic().optim().weightDecay()));
        s.costCriticOpt = s.costCritic == null ? null : AdamW.create(s.costCritic.parameters(),
                new AdamW.Settings(0.9, 0.999, 1e-8, s.cfg.critic().optim().weightDecay()));
        if (resume) {
            s.actorOpt.load(from.resolve(ACTOR).resolve(RlhfLoop.optimFile(rank)));
            if (s.criticOpt != null) {
                s.criticOpt.load(from.resolve(CRITIC).resolve(RlhfLoop.optimFile(rank)));
            }
            if (s.costCriticOpt != null) {
                s.costCriticOpt.load(from.resolve(COST_CRITIC).resolve(RlhfLoop.optimFile(rank)));
            }
        }
        st = s;
        return true;
    }

    private static ClassLoader loader() {
        ClassLoader l = Thread.currentThread().getContextClassLoader();
        return l != null ? l : RlhfWorker.class.getClassLoader();
    }

    private State state() {
        if (st == null) {
            throw new IllegalStateException("worker not initialised: rank=" + rank + ", call init first");
        }
        return st;
    }

    /**
     * verl's generate_sequences: the actor's weights go into the generation layout ({@code toGeneration}), this
     * replica samples its chunk, and the engine returns to training. Input: {@code prompt_ids} I32 {@code [n, P]}
     * (left-padded), {@code prompt_length} I32, {@code seed} I64 and metadata
     * {@code greedy}; output: {@code responses} I32 {@code [n, R]} (0 after the end), {@code response_length},
     * {@code rollout_log_probs} F32 {@code [n, R]}, and per row the replica's {@code gen_s}, {@code reshard_s},
     * {@code reshard_bytes}.
     */
    @WorkerMethod(dispatch = "MESH(" + ROLLOUT_MESH + ")")
    public DataBatch generate(DataBatch prompts) {
        return collected(ROLLOUT_MESH, generateHere(prompts));
    }

    /**
     * The rollout's sampling for a batch of prompts: greedy when the batch's metadata says {@code greedy} (held-out
     * evaluation), else the config's temperature, top-k and top-p; both stop at the end-of-sequence token.
     */
    static Generator.Sampling sampling(DataBatch prompts, TrainConfig.Rollout ro, int responseLen) {
        return sampling(ro, responseLen, Boolean.TRUE.equals(prompts.metadata().get("greedy")));
    }

    /** Greedy, or the config's temperature, top-k and top-p; {@code responseLen} new tokens, stopping at EOS. */
    static Generator.Sampling sampling(TrainConfig.Rollout ro, int responseLen, boolean greedy) {
        return greedy
                ? new Generator.Sampling(responseLen, 0f, 0, 1f, new int[] {CharTokenizer.EOS_ID})
                : new Generator.Sampling(responseLen, (float) ro.temperature(), Math.max(0, ro.topK()),
                        (float) ro.topP(), new int[] {CharTokenizer.EOS_ID});
    }

    private DataBatch generateHere(DataBatch prompts) {
        State s = state();
        int n = prompts.length();
        long[] seeds = Rows.longs(prompts, "seed");
        List<int[]> promptIds = Rows.promptIds(prompts, s.promptLen);
        long r0 = System.nanoTime();
        s.actor.copyTo(s.engine.trainingWeights());
        Map<String, Tensor> genWeights = s.engine.toGeneration();
        long bytes = s.engine.lastTransition().bytesReceived();
        double reshardS = (System.nanoTime() - r0) / 1e9;
        long g0 = System.nanoTime();
        List<Generator.Sample> out;
        try (LlamaModel gen = LlamaModel.fromTensors(s.model, Head.LANGUAGE_MODEL, genWeights,
                s.layout.gen().tg() == 1 ? null : s.genTp, s.pad)) {
            Generator.Sampling sampling = sampling(prompts, s.cfg.actorRolloutRef().rollout(), s.responseLen);
            Generator generator = Generator.create(gen, n, s.promptLen + s.responseLen);
            out = generator.generate(promptIds, sampling, seeds);
        }
        double genS = (System.nanoTime() - g0) / 1e9;
        long b0 = System.nanoTime();
        s.engine.toTraining();
        reshardS += (System.nanoTime() - b0) / 1e9;
        int[] responses = new int[n * s.responseLen];
        int[] lengths = new int[n];
        float[] logProbs = new float[n * s.responseLen];
        for (int i = 0; i < n; i++) {
            int[] r = out.get(i).tokens();
            float[] lp = out.get(i).logProbs();
            System.arraycopy(r, 0, responses, i * s.responseLen, r.length);
            System.arraycopy(lp, 0, logProbs, i * s.responseLen, lp.length);
            lengths[i] = r.length;
        }
        double[] genCol = new double[n];
        double[] reshardCol = new double[n];
        double[] bytesCol = new double[n];
        java.util.Arrays.fill(genCol, genS);
        java.util.Arrays.fill(reshardCol, reshardS);
        java.util.Arrays.fill(bytesCol, bytes);
        return Rows.batch(results)
                .ints("responses", responses, n, s.responseLen)
                .ints("response_length", lengths, n, 0)
                .floats("rollout_log_probs", logProbs, n, s.responseLen)
                .doubles("gen_s", genCol)
                .doubles("reshard_s", reshardCol)
                .doubles("reshard_bytes", bytesCol)
                .build();
    }

    /** The actor's log-probs of the responses (training layout): {@code old_log_probs} F32 {@code [n, R]}. */
    @WorkerMethod(dispatch = "MESH(" + TRAIN_MESH + ")")
    public DataBatch computeLogProbs(DataBatch batch) {
        return collected(TRAIN_MESH, computeLogProbsHere(batch));
    }

    private DataBatch computeLogProbsHere(DataBatch batch) {
        State s = state();
        return logProbs(s.actor, batch, "old_log_probs");
    }

    /** The frozen reference's log-probs of the responses: {@code ref_log_probs} F32 {@code [n, R]}. */
    @WorkerMethod(dispatch = "MESH(" + TRAIN_MESH + ")")
    public DataBatch computeRefLogProbs(DataBatch batch) {
        return collected(TRAIN_MESH, computeRefLogProbsHere(batch));
    }

    private DataBatch computeRefLogProbsHere(DataBatch batch) {
        State s = state();
        return logProbs(s.ref, batch, "ref_log_probs");
    }

    /** The critic's values at the positions that predict each response token: {@code values} F32 {@code [n, R]}. */
    @WorkerMethod(dispatch = "MESH(" + TRAIN_MESH + ")")
    public DataBatch computeValues(DataBatch batch) {
        return collected(TRAIN_MESH, computeValuesHere(batch));
    }

    private DataBatch computeValuesHere(DataBatch batch) {
        State s = state();
        return values(s, requireValueModel(s.critic, CRITIC), batch, "values");
    }

    /** Safe-RLHF's cost critic's values, as {@link #computeValues}: {@code cost_values} F32 {@code [n, R]}. */
    @WorkerMethod(dispatch = "MESH(" + TRAIN_MESH + ")")
    public DataBatch computeCostValues(DataBatch batch) {
        return collected(TRAIN_MESH, computeCostValuesHere(batch));
    }

    private DataBatch computeCostValuesHere(DataBatch batch) {
        State s = state();
        return values(s, requireValueModel(s.costCritic, COST_CRITIC), batch, "cost_values");
    }

    private static LlamaModel requireValueModel(LlamaModel model, String role) {
        if (model == null) {
            throw new IllegalStateException("no " + role + " for this estimator: role=" + role);
        }
        return model;
    }

    private DataBatch values(State s, LlamaModel model, DataBatch batch, String key) {
        Batch b = tokens(s, batch);
        int tt = s.promptLen + s.responseLen;
        float[] v = new float[b.batchSize() * tt];
        model.values(b, v);
        return responseBatch(s, key, v, b.batchSize());
    }

    private DataBatch logProbs(LlamaModel model, DataBatch batch, String key) {
        State s = state();
        Batch b = tokens(s, batch);
        int tt = s.promptLen + s.responseLen;
        float[] lp = new float[b.batchSize() * tt];
        model.logProbs(b, 1f, lp, null);
        return responseBatch(s, key, lp, b.batchSize());
    }

    /** A result of {@code rows} rows under {@code key}: the response positions of per-position values. */
    private DataBatch responseBatch(State s, String key, float[] full, int rows) {
        int tt = s.promptLen + s.responseLen;
        return Rows.batch(results).floats(key, RlhfLoop.respView(full, rows, tt, s.responseLen).toArray(), rows,
                s.responseLen).build();
    }

    /**
     * A value model's starting weights: the policy's backbone, and a value head seeded from
     * {@code trainer.seed + seedOffset} (1: the critic, 2: Safe-RLHF's cost critic).
     */
    private static Map<String, float[]> valueInit(State s, Map<String, float[]> policy, int seedOffset) {
        Map<String, float[]> init = LlamaWeights.random(s.model, Head.VALUE, s.cfg.trainer().seed() + seedOffset,
                s.pad);
        for (Map.Entry<String, float[]> e : policy.entrySet()) {
            if (init.containsKey(e.getKey())) {
                init.put(e.getKey(), e.getValue());
            }
        }
        return init;
    }

    private static Batch tokens(State s, DataBatch batch) {
        int tt = s.promptLen + s.responseLen;
        return new Batch(batch.length(), tt, Rows.ints(batch, "input_ids"), Rows.ints(batch, "attention_mask"));
    }

    /**
     * The rule-based reward role: the task's reward and cost of each response. Input: {@code prompt_index} I32 (into
     * the task's training prompts), {@code responses} I32 {@code [n, R]}, {@code response_length} I32; output:
     * {@code score} and {@code cost} F64.
     */
    @WorkerMethod(dispatch = "DP_COMPUTE_PROTO")
    public DataBatch computeScores(DataBatch batch) {
        State s = state();
        int n = batch.length();
        int[] idx = Rows.ints(batch, "prompt_index");
        int[] responses = Rows.ints(batch, "responses");
        int[] lengths = Rows.ints(batch, "response_length");
        double[] score = new double[n];
        double[] cost = new double[n];
        for (int i = 0; i < n; i++) {
            int[] r = new int[lengths[i]];
            System.arraycopy(responses, i * s.responseLen, r, 0, r.length);
            Task.Scored sc = s.task.score(s.task.trainPrompts().get(idx[i]), r, 0, r.length);
            score[i] = sc.reward();
            cost[i] = sc.cost();
        }
        return Rows.batch(results).doubles("score", score).doubles("cost", cost).build();
    }

    /**
     * PPO epochs of the critic over this DP rank's rows: the driver ordered them so that mini-batch {@code u} is
     * rows {@code [u*m, (u+1)*m)} ({@code m} = mini-batch / DP); micro-batches accumulate gradients, then the DP mean,
     * TP-wide clipping and AdamW. Input: {@code input_ids}, {@code attention_mask}, {@code response_mask},
     * {@code values}, {@code returns}, metadata {@code step}; output: one row, {@code vf_loss} (the sum over micro
     * batches of their share).
     */
    @WorkerMethod(dispatch = "MESH(" + TRAIN_MESH + ")")
    public DataBatch updateCritic(DataBatch batch) {
        return collected(TRAIN_MESH, updateCriticHere(batch));
    }

    private DataBatch updateCriticHere(DataBatch batch) {
        State s = state();
        return valueUpdate(s, requireValueModel(s.critic, CRITIC), s.criticOpt, batch);
    }

    /**
     * Safe-RLHF's cost critic: PPO epochs on the cost returns, as {@link #updateCritic} (the critic's optimiser
     * settings and value clipping); output {@code vf_loss}.
     */
    @WorkerMethod(dispatch = "MESH(" + TRAIN_MESH + ")")
    public DataBatch updateCostCritic(DataBatch batch) {
        return collected(TRAIN_MESH, updateCostCriticHere(batch));
    }

    private DataBatch updateCostCriticHere(DataBatch batch) {
        State s = state();
        return valueUpdate(s, requireValueModel(s.costCritic, COST_CRITIC), s.costCriticOpt, batch);
    }

    private DataBatch valueUpdate(State s, LlamaModel critic, AdamW opt, DataBatch batch) {
        Update up = new Update(s, batch);
        BatchTensor rmask = up.tensor(batch, "response_mask");
        BatchTensor values = up.tensor(batch, "values");
        BatchTensor returns = up.tensor(batch, "returns");
        double vfLoss = 0;
        for (int epoch = 0; epoch < up.epochs; epoch++) {
            for (int u = 0; u < up.updatesPerEpoch; u++) {
                critic.zeroGrad();
                int mlo = u * up.mcount;
                for (int mb = 0; mb < up.mcount; mb += up.micro) {
                    int at = mlo + mb;
                    float[] v = new float[up.micro * up.tt];
                    critic.values(RlhfLoop.slice(up.tokens, up.mask, at, up.micro, up.tt), v);
                    BatchTensor vp = RlhfLoop.respView(v, up.micro, up.tt, s.responseLen);
                    ValueLossResult vl = Losses.valueLoss(vp, RlhfLoop.rows(returns, at, up.micro),
                            RlhfLoop.rows(values, at, up.micro), RlhfLoop.rows(rmask, at, up.micro),
                            s.cfg.critic().cliprangeValue(), up.agg, AggOptions.LOCAL);
                    double scale = (double) up.micro / up.mcount;
                    critic.backwardValues(RlhfLoop.toFull(vl.gradValuePreds(), up.micro, up.tt, scale));
                    vfLoss += vl.vfLoss() * scale;
                }
                Gradients.allReduceMean(critic.parameters(), s.dp);
                Gradients.clipGlobalNorm(critic.parameters(), s.cfg.critic().gradClip(), s.tp);
                opt.step(s.cfg.critic().optim().lrAt(up.optStep(epoch, u), up.totalUpdates));
            }
        }
        return Rows.batch(results).doubles("vf_loss", vfLoss).build();
    }

    /**
     * PPO epochs of the actor (vanilla clipped policy loss, entropy bonus and KL loss as configured) over this DP
     * rank's rows, ordered as for {@link #updateCritic}. Input: {@code input_ids}, {@code attention_mask},
     * {@code response_mask}, {@code old_log_probs}, {@code advantages}, {@code ref_log_probs}, metadata
     * {@code step}; output: one row of sums over micro batches ({@code pg_loss}, {@code pg_clipfrac},
     * {@code ppo_kl}, {@code entropy}, {@code kl_loss}), the summed {@code grad_norm} of the updates and the last
     * {@code lr}.
     */
    @WorkerMethod(dispatch = "MESH(" + TRAIN_MESH + ")")
    public DataBatch updateActor(DataBatch batch) {
        return collected(TRAIN_MESH, updateActorHere(batch));
    }

    private DataBatch updateActorHere(DataBatch batch) {
        State s = state();
        Update up = new Update(s, batch);
        TrainConfig.Actor actorCfg = s.cfg.actorRolloutRef().actor();
        BatchTensor rmask = up.tensor(batch, "response_mask");
        BatchTensor old = up.tensor(batch, "old_log_probs");
        BatchTensor advantages = up.tensor(batch, "advantages");
        BatchTensor refLp = up.tensor(batch, "ref_log_probs");
        PolicyLossConfig plc = PolicyLossConfig.DEFAULTS.withClipRatios(actorCfg.clipRatioLow(),
                actorCfg.clipRatioHigh()).withClipRatioC(actorCfg.clipRatioC());
        KlPenalty klLossType = KlPenalty.fromName(actorCfg.klLossType().configName());
        double pgLoss = 0;
        double clipfrac = 0;
        double ppoKl = 0;
        double entropy = 0;
        double gradNorm = 0;
        double klLoss = 0;
        double lr = 0;
        int micro = up.micro;
        int tt = up.tt;
        for (int epoch = 0; epoch < up.epochs; epoch++) {
            for (int u = 0; u < up.updatesPerEpoch; u++) {
                s.actor.zeroGrad();
                int mlo = u * up.mcount;
                for (int mb = 0; mb < up.mcount; mb += micro) {
                    int at = mlo + mb;
                    float[] lp = new float[micro * tt];
                    float[] ent = new float[micro * tt];
                    s.actor.logProbs(RlhfLoop.slice(up.tokens, up.mask, at, micro, tt), 1f, lp, ent);
                    BatchTensor mm = RlhfLoop.rows(rmask, at, micro);
                    PolicyLossResult pl = AlgorithmRegistry.policyLoss("vanilla").compute(
                            PolicyLossInput.of(RlhfLoop.rows(old, at, micro),
                                    RlhfLoop.respView(lp, micro, tt, s.responseLen),
                                    RlhfLoop.rows(advantages, at, micro), mm), up.agg, plc);
                    double scale = (double) micro / up.mcount;
                    float[] dLp = RlhfLoop.toFull(pl.gradLogProb(), micro, tt, scale);
                    float[] dEnt = null;
                    BatchTensor entT = RlhfLoop.respView(ent, micro, tt, s.responseLen);
                    double entMean = RlhfLoop.maskedMean(entT, mm);
                    if (actorCfg.entropyCoeff() != 0) {
                        var el = Losses.entropyLoss(entT, mm, up.agg, AggOptions.LOCAL);
                        dEnt = RlhfLoop.toFull(el.gradient(), micro, tt, -actorCfg.entropyCoeff() * scale);
                    }
                    if (actorCfg.useKlLoss()) {
                        AggregatedLoss kll = Losses.klLoss(RlhfLoop.respView(lp, micro, tt, s.responseLen),
                                RlhfLoop.rows(refLp, at, micro), mm, klLossType, up.agg, plc.aggOptions());
                        float[] dKl = RlhfLoop.toFull(kll.gradient(), micro, tt, actorCfg.klLossCoef() * scale);
                        for (int i = 0; i < dLp.length; i++) {
                            dLp[i] += dKl[i];
                        }
                        klLoss += kll.value() * scale;
                    }
                    s.actor.backwardLogProbs(dLp, dEnt);
                    pgLoss += pl.pgLoss() * scale;
                    clipfrac += pl.pgClipfrac() * scale;
                    ppoKl += pl.ppoKl() * scale;
                    entropy += entMean * scale;
                }
                Gradients.allReduceMean(s.actor.parameters(), s.dp);
                gradNorm += Gradients.clipGlobalNorm(s.actor.parameters(), actorCfg.gradClip(), s.tp);
                lr = actorCfg.optim().lrAt(up.optStep(epoch, u), up.totalUpdates);
                s.actorOpt.step(lr);
            }
        }
        return Rows.batch(results)
                .doubles("pg_loss", pgLoss)
                .doubles("pg_clipfrac", clipfrac)
                .doubles("ppo_kl", ppoKl)
                .doubles("entropy", entropy)
                .doubles("grad_norm", gradNorm)
                .doubles("kl_loss", klLoss)
                .doubles("lr", lr)
                .build();
    }

    /** The shape of one PPO update call: this rank's rows, mini and micro batch sizes, optimiser step numbering. */
    private static final class Update {
        final int tt;
        final int[] tokens;
        final int[] mask;
        final int micro;
        final int mcount;
        final int updatesPerEpoch;
        final int epochs;
        final int totalUpdates;
        final long step;
        final LossAggMode agg;

        Update(State s, DataBatch batch) {
            TrainConfig.Actor actorCfg = s.cfg.actorRolloutRef().actor();
            int d = s.layout.train().d();
            int n = s.cfg.actorRolloutRef().rollout().n();
            int samples = s.cfg.data().trainBatchSize() * n;
            int miniSamples = actorCfg.ppoMiniBatchSize() * n;
            this.tt = s.promptLen + s.responseLen;
            this.tokens = Rows.ints(batch, "input_ids");
            this.mask = Rows.ints(batch, "attention_mask");
            this.micro = actorCfg.ppoMicroBatchSize() / d;
            this.mcount = miniSamples / d;
            this.updatesPerEpoch = samples / miniSamples;
            this.epochs = actorCfg.ppoEpochs();
            this.totalUpdates = s.cfg.trainer().totalTrainingSteps() * updatesPerEpoch * epochs;
            this.step = ((Number) batch.metadata().get("step")).longValue();
            this.agg = AlgorithmRegistry.lossAggMode(actorCfg.lossAggMode().configName());
            if (batch.length() != updatesPerEpoch * mcount) {
                throw new IllegalArgumentException("update batch does not hold this DP rank's mini-batches: rows="
                        + batch.length() + ", expected=" + updatesPerEpoch * mcount);
            }
        }

        long optStep(int epoch, int u) {
            return (step - 1) * updatesPerEpoch * epochs + (long) epoch * updatesPerEpoch + u;
        }

        BatchTensor tensor(DataBatch batch, String key) {
            float[] v = Rows.floats(batch, key);
            return BatchTensor.of(batch.length(), v.length / batch.length(), v);
        }
    }

    /**
     * {@code result} on a collect rank of {@code mesh}; on any other rank (a TP or PP peer whose result the MESH
     * collect drops) {@code result} is closed and an empty batch goes back instead, so that a result above the inline
     * limit is not published as references no consumer will ever pull.
     */
    private DataBatch collected(String mesh, DataBatch result) {
        if (meshes(state().layout, rank).get(mesh).collect()) {
            return result;
        }
        result.close();
        return DataBatch.builder(results).build();
    }

    /**
     * The tensors of {@code batch} as their raw bytes by key, for the driver to read a result whose tensors travelled
     * as references: the runtime has pulled them before this runs, and a map is never sent by reference.
     */
    @WorkerMethod(dispatch = "RANK_ZERO")
    public Map<String, byte[]> tensorBytes(DataBatch batch) {
        Map<String, byte[]> out = new java.util.LinkedHashMap<>();
        for (String key : batch.tensorKeys()) {
            out.put(key, batch.tensor(key).segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
        return out;
    }

    /**
     * Held-out greedy mean reward of the actor: every rank gathers the whole weights over TP, rank 0 evaluates and
     * returns it, the others return NaN.
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public double evaluate() {
        State s = state();
        Map<String, float[]> whole = s.actor.wholeWeights();
        if (rank != 0) {
            return Double.NaN;
        }
        return Sft.evaluate(s.model, whole, s.pad, s.task, s.task.heldOutPrompts(), s.responseLen);
    }

    /**
     * Writes this job's model state into {@code folder}: rank 0 the HF folders of the actor, critic and cost critic
     * (those the estimator trains), every rank
     * its optimiser files. Collective (the whole weights are gathered over TP).
     *
     * @throws java.io.UncheckedIOException if a file cannot be written
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean saveCheckpoint(String folder) {
        State s = state();
        Path dir = Path.of(folder);
        Map<String, float[]> aw = s.actor.wholeWeights();
        Map<String, float[]> cw = s.critic == null ? null : s.critic.wholeWeights();
        Map<String, float[]> ccw = s.costCritic == null ? null : s.costCritic.wholeWeights();
        if (rank == 0) {
            LlamaCheckpoint.save(dir.resolve(ACTOR), s.model, Head.LANGUAGE_MODEL, aw, s.pad);
            if (cw != null) {
                LlamaCheckpoint.save(dir.resolve(CRITIC), s.model, Head.VALUE, cw, s.pad);
            }
            if (ccw != null) {
                LlamaCheckpoint.save(dir.resolve(COST_CRITIC), s.model, Head.VALUE, ccw, s.pad);
            }
        }
        world.barrier();
        s.actorOpt.save(dir.resolve(ACTOR).resolve(RlhfLoop.optimFile(rank)));
        if (s.criticOpt != null) {
            s.criticOpt.save(dir.resolve(CRITIC).resolve(RlhfLoop.optimFile(rank)));
        }
        if (s.costCriticOpt != null) {
            s.costCriticOpt.save(dir.resolve(COST_CRITIC).resolve(RlhfLoop.optimFile(rank)));
        }
        return true;
    }

    /** Rank 0 writes the actor's whole weights as an HF folder at {@code folder}; collective over TP. */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean saveActor(String folder) {
        State s = state();
        Map<String, float[]> aw = s.actor.wholeWeights();
        if (rank == 0) {
            LlamaCheckpoint.save(Path.of(folder), s.model, Head.LANGUAGE_MODEL, aw, s.pad);
        }
        return true;
    }

    /** Frees the roles' memory and communicators. */
    @Override
    public void close() {
        State s = st;
        st = null;
        if (weightSync != null) {
            weightSync.close();
            weightSync = null;
        }
        if (s != null) {
            try (Allocator ignored = s.root; HybridEngine e = s.engine; LlamaModel a = s.actor; LlamaModel r = s.ref;
                 LlamaModel c = s.critic; LlamaModel cc = s.costCritic) {
                s.genTp.close();
                s.dpComm.close();
            }
        }
        results.close();
    }
}
