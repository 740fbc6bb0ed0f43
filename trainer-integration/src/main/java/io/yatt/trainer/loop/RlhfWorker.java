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
import io.yatt.trainer.algo.BatchShard;
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
import io.yatt.trainer.task.PromptSampler;
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
        RlhfLoop.Shape shape;
        /** The world rank that holds each generation replica's rows (its generation TP rank 0), by replica. */
        int[] replicaSources;
        /** The rows each world rank holds (its training DP rank's, in update order), by world rank. */
        int[][] rowsByRank;
        /** The world rank that receives each training DP rank's block of a split rollout (TP rank 0), by DP rank. */
        int[] dpSources;
        /** This rank's rows of every step and the gather of per-row values over its DP group. */
        BatchShard shard;
        /** The current step's batch, from its rollout to the actor's update. */
        StepBatch batch;
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
        s.shape = RlhfLoop.Shape.of(s.cfg, s.layout);
        s.replicaSources = s.layout.groups(GroupKind.GEN_TP).stream().mapToInt(List::getFirst).toArray();
        s.rowsByRank = new int[s.layout.worldSize()][];
        s.dpSources = new int[s.layout.train().d()];
        for (int r = 0; r < s.layout.worldSize(); r++) {
            RankCoordinates c = s.layout.coordinates(r);
            s.rowsByRank[r] = s.shape.rowsOf(c.dp());
            if (c.tp() == 0 && c.pp() == 0) {
                s.dpSources[c.dp()] = r;
            }
        }
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
        // the DP communicator orders its ranks by world rank (the split's key)
        int[] dpMembers = dpGroup.stream().mapToInt(Integer::intValue).sorted().toArray();
        int[][] dpRows = new int[dpMembers.length][];
        for (int q = 0; q < dpMembers.length; q++) {
            dpRows[q] = s.rowsByRank[dpMembers[q]];
        }
        Communicator dpGather = s.dpComm;
        s.shard = BatchShard.of(s.shape.samples(), dpRows, dpGather.rank(),
                mine -> WorldRows.doubles(dpGather, s.root, mine));
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

    /** The class loader a config's task is loaded with: the thread's context loader, else this module's. */
    static ClassLoader loader() {
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
     * The colocated rollout of step {@code step} (verl's generate_sequences, then the batch shared): this rank
     * draws the step's prompts from the sampler position {@code (samplerEpoch, samplerPosition)} (where the
     * controller's sampler stood before the step's draw), the actor's weights go into the generation layout
     * ({@code toGeneration}), this rank's generation replica samples its rows (replica {@code g} of {@code G}: rows
     * {@code [g*S/G, (g+1)*S/G)}, seeds {@link RlhfLoop#sampleSeed}), the engine returns to training, and every rank
     * gets the rows its training DP rank trains on from the replicas that made them (their generation TP rank 0,
     * {@link RowExchange}) and every sample's length. For ReMax the greedy baseline is generated the same way (one
     * response per prompt, each controller's prompts padded to its replicas by repeating its first) and stays on the
     * replica's TP rank 0 until {@link #computeScores} scores it. The step's batch stays on the ranks; the controller
     * gets only this rank's timings: {@code gen_s}, {@code reshard_s}, {@code reshard_bytes}, and {@code first} = 1
     * on the generation TP rank 0 of its controller's first replica (whose numbers the step reports), else 0.
     * Collective over the world.
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public Map<String, Double> generateStep(long step, long samplerEpoch, int samplerPosition) {
        State s = state();
        s.batch = null;
        RlhfLoop.Shape sh = s.shape;
        int[] promptIdx = StepBatch.prompts(sh, s.task, s.cfg.data().seed(),
                new PromptSampler.State(samplerEpoch, samplerPosition));
        int replicas = s.replicaSources.length;
        int replica = s.layout.groups(GroupKind.GEN_TP).indexOf(s.layout.group(GroupKind.GEN_TP, rank));
        int per = sh.samples() / replicas;
        int[] replicaRows = new int[per];
        java.util.Arrays.setAll(replicaRows, k -> replica * per + k);
        List<int[]> ids = StepBatch.promptIds(sh, s.task, promptIdx, replicaRows);
        long[] seeds = new long[per];
        for (int k = 0; k < per; k++) {
            seeds[k] = RlhfLoop.sampleSeed(s.cfg.trainer().seed(), step, replica * per + k);
        }
        Generated g = generateRows(s, ids, seeds, false);
        StepBatch b = g.exchanged(s, world, step, promptIdx, per);
        if (s.cfg.algorithm().advEstimator() == AdvantageEstimator.REMAX) {
            baselineRollout(s, b, replica);
        }
        s.batch = b;
        int controllers = s.cfg.trainer().controllers();
        boolean first = replica % (replicas / controllers) == 0 && s.replicaSources[replica] == rank;
        return Map.of("gen_s", g.genS, "reshard_s", g.reshardS, "reshard_bytes", (double) g.reshardBytes,
                "first", first ? 1.0 : 0.0);
    }

    /**
     * ReMax's baseline rollout: one greedy response per prompt. Controller {@code c}'s prompts (a contiguous
     * {@code batchPrompts / C}) are padded to a multiple of its replicas by repeating its first, and each of its
     * replicas generates an equal share, as a dispatch of that padded batch over the controller's replicas would. The
     * rows stay on the replica's generation TP rank 0, which scores them in {@link #computeScores}.
     */
    private void baselineRollout(State s, StepBatch b, int replica) {
        RlhfLoop.Shape sh = s.shape;
        int controllers = s.cfg.trainer().controllers();
        int replicasPer = s.replicaSources.length / controllers;
        int mine = sh.batchPrompts() / controllers;
        int rows = (mine + replicasPer - 1) / replicasPer * replicasPer;
        int per = rows / replicasPer;
        int p0 = replica / replicasPer * mine;
        int[] prompts = new int[per];
        int[] promptRows = new int[per];
        for (int k = 0; k < per; k++) {
            prompts[k] = p0 + (replica % replicasPer * per + k) % mine;
            promptRows[k] = prompts[k] * sh.n();
        }
        Generated g = generateRows(s, StepBatch.promptIds(sh, s.task, b.promptIdx, promptRows), new long[per], true);
        if (s.replicaSources[replica] == rank) {
            b.baselineRows(prompts, g.responses, g.lengths);
        } else {
            int[] none = new int[per];
            java.util.Arrays.fill(none, -1);
            b.baselineRows(none, new int[per * sh.responseLen()], new int[per]);
        }
    }

    /**
     * Split placement (and auto placement's split steps): step {@code step}'s rollout, generated on the rollout
     * ranks and passed on by the controller, becomes this rank's batch, as {@link #generateStep} makes it
     * colocated. The controller gives the TP rank 0 of training DP rank {@code d} the rows
     * {@code [d*S/D, (d+1)*S/D)} ({@code block}: {@code responses} and {@code rollout_log_probs}; a slice of the
     * rollout, so a rank pulls only those rows of a rollout kept by reference) and the other ranks {@code null}; the
     * ranks then move each row to the ranks that hold it ({@link RowExchange}). {@code lengths} holds every sample's
     * {@code response_length}, and {@code baseline} (ReMax, else {@code null}) this rank's equal share of the greedy
     * rollout's prompts (rows {@code [rank*k, rank*k + k)} of the prompts in order, {@code k = ceil(prompts / W)};
     * {@code null} for a rank past the last prompt), which it scores.
     * Collective over the world.
     *
     * @return true
     * @throws IllegalArgumentException if the rollout does not fit the step's batch, or ReMax has no baseline
     */
    @WorkerMethod(dispatch = "ALL_TO_ALL")
    public boolean receiveRollout(long step, long samplerEpoch, int samplerPosition, DataBatch block,
                                  DataBatch lengths, DataBatch baseline) {
        State s = state();
        s.batch = null;
        RlhfLoop.Shape sh = s.shape;
        int[] promptIdx = StepBatch.prompts(sh, s.task, s.cfg.data().seed(),
                new PromptSampler.State(samplerEpoch, samplerPosition));
        int resp = sh.responseLen();
        int per = sh.samples() / s.layout.train().d();
        boolean source = s.dpSources[s.coords.dp()] == rank;
        if (source != (block != null) || (block != null && block.length() != per)) {
            throw new IllegalArgumentException("rollout block does not fit this rank: rank=" + rank + ", rows="
                    + (block == null ? "null" : block.length()) + ", expected=" + (source ? per : "null"));
        }
        StepBatch b = localBatch(s, world, step, promptIdx, source ? Rows.ints(block, "responses") : new int[0],
                source ? Rows.floats(block, "rollout_log_probs") : new float[0], s.dpSources, per,
                Rows.ints(lengths, "response_length"));
        if (s.cfg.algorithm().advEstimator() == AdvantageEstimator.REMAX) {
            // every rank scores an equal share of the prompts' baselines (rank-major, -1 pads the last share)
            int bp = sh.batchPrompts();
            int share = (bp + world.size() - 1) / world.size();
            int count = Math.max(0, Math.min(share, bp - rank * share));
            if ((baseline == null) != (count == 0) || (baseline != null && baseline.length() != count)) {
                throw new IllegalArgumentException("ReMax needs this rank's share of the greedy baseline rollout: "
                        + "step=" + step + ", rank=" + rank + ", rows=" + (baseline == null ? "null"
                        : baseline.length()) + ", expected=" + (count == 0 ? "null" : count));
            }
            int[] baseResponses = count == 0 ? new int[0] : Rows.ints(baseline, "responses");
            int[] baseLengths = count == 0 ? new int[0] : Rows.ints(baseline, "response_length");
            int[] prompts = new int[share];
            int[] heldResponses = new int[share * resp];
            int[] heldLengths = new int[share];
            for (int k = 0; k < share; k++) {
                prompts[k] = k < count ? rank * share + k : -1;
                if (k < count) {
                    System.arraycopy(baseResponses, k * resp, heldResponses, k * resp, resp);
                    heldLengths[k] = baseLengths[k];
                }
            }
            b.baselineRows(prompts, heldResponses, heldLengths);
        }
        s.batch = b;
        return true;
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

    /** A replica's generated rows ({@code [n, R]}, 0 after each length) and its stage numbers. */
    private record Generated(int[] responses, int[] lengths, float[] logProbs, double genS, double reshardS,
                             long reshardBytes) {
        /**
         * Step {@code step}'s batch on this rank: its rows of every replica's block ({@code per} rows each, held by
         * the replicas' generation TP rank 0) moved to it ({@link RowExchange}), and every sample's length.
         */
        StepBatch exchanged(State s, Communicator world, long step, int[] promptIdx, int per) {
            int[] all = WorldRows.pick(WorldRows.ints(world, s.root, lengths), per, s.replicaSources);
            return localBatch(s, world, step, promptIdx, responses, logProbs, s.replicaSources, per, all);
        }
    }

    /**
     * Step {@code step}'s batch on this rank: the batch's rows come in blocks of {@code per} rows, block {@code g}
     * held by world rank {@code sources[g]} (this rank's {@code responses} and {@code logProbs} when it is one), and
     * this rank gets the rows it holds from them ({@link RowExchange}); {@code lengths} is every sample's length.
     * Collective over the world.
     */
    private static StepBatch localBatch(State s, Communicator world, long step, int[] promptIdx, int[] responses,
                                        float[] logProbs, int[] sources, int per, int[] lengths) {
        int resp = s.responseLen;
        int[] packed = new int[per * 2 * resp];
        for (int k = 0; k < responses.length / resp && k < per; k++) {
            for (int j = 0; j < resp; j++) {
                packed[k * 2 * resp + j] = responses[k * resp + j];
                packed[k * 2 * resp + resp + j] = Float.floatToRawIntBits(logProbs[k * resp + j]);
            }
        }
        int[] rows = RowExchange.exchange(world, s.root, packed, 2 * resp, sources, per, s.rowsByRank);
        int local = rows.length / (2 * resp);
        int[] mineResponses = new int[local * resp];
        float[] mineLogProbs = new float[local * resp];
        for (int k = 0; k < local; k++) {
            for (int j = 0; j < resp; j++) {
                mineResponses[k * resp + j] = rows[k * 2 * resp + j];
                mineLogProbs[k * resp + j] = Float.intBitsToFloat(rows[k * 2 * resp + resp + j]);
            }
        }
        int[] mine = s.rowsByRank[world.rank()];
        return StepBatch.of(step, s.shape, s.shard, promptIdx, StepBatch.promptTokens(s.task, promptIdx),
                StepBatch.promptIds(s.shape, s.task, promptIdx, mine), mineResponses, lengths, mineLogProbs);
    }

    /** This replica's generation: training weights to the generation layout, sampling, and back to training. */
    private static Generated generateRows(State s, List<int[]> promptIds, long[] seeds, boolean greedy) {
        int n = promptIds.size();
        long r0 = System.nanoTime();
        s.actor.copyTo(s.engine.trainingWeights());
        Map<String, Tensor> genWeights = s.engine.toGeneration();
        long bytes = s.engine.lastTransition().bytesReceived();
        double reshardS = (System.nanoTime() - r0) / 1e9;
        long g0 = System.nanoTime();
        List<Generator.Sample> out;
        try (LlamaModel gen = LlamaModel.fromTensors(s.model, Head.LANGUAGE_MODEL, genWeights,
                s.layout.gen().tg() == 1 ? null : s.genTp, s.pad)) {
            Generator.Sampling sampling = sampling(s.cfg.actorRolloutRef().rollout(), s.responseLen, greedy);
            // passes of at most max_num_seqs sequences bound the KV cache and the activations
            Generator generator = Generator.create(gen,
                    Math.min(n, s.cfg.actorRolloutRef().rollout().maxNumSeqs()), s.promptLen + s.responseLen);
            out = generator.generateAll(promptIds, sampling, seeds);
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
        return new Generated(responses, lengths, logProbs, genS, reshardS, bytes);
    }

    /**
     * The actor's log-probs of this rank's rows of the step (training layout: the rows its DP rank trains on, in the
     * updates' micro-batches), which stay on the rank. Collective over the rank's TP group.
     *
     * @return true
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean computeLogProbs() {
        State s = state();
        StepBatch b = batch(s);
        b.oldLogProbs = logProbs(s, s.actor, b);
        return true;
    }

    /** The frozen reference's log-probs of the step's responses, as {@link #computeLogProbs}. */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean computeRefLogProbs() {
        State s = state();
        StepBatch b = batch(s);
        b.refLogProbs = logProbs(s, s.ref, b);
        return true;
    }

    /** The critic's values at the positions that predict each response token, as {@link #computeLogProbs}. */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean computeValues() {
        State s = state();
        StepBatch b = batch(s);
        b.values = values(s, requireValueModel(s.critic, CRITIC), b);
        return true;
    }

    /** Safe-RLHF's cost critic's values, as {@link #computeValues}. */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean computeCostValues() {
        State s = state();
        StepBatch b = batch(s);
        b.costValues = values(s, requireValueModel(s.costCritic, COST_CRITIC), b);
        return true;
    }

    /**
     * Bytes of the activation buffers of role {@code role}'s model on this rank ({@link LlamaModel#activationBytes}:
     * they grow to the largest forward it ran); 0 for a role this rank does not hold or before init.
     */
    long activationBytes(String role) {
        if (st == null) {
            return 0;
        }
        LlamaModel m = switch (role) {
            case ACTOR -> st.actor;
            case "ref" -> st.ref;
            case CRITIC -> st.critic;
            case COST_CRITIC -> st.costCritic;
            default -> null;
        };
        return m == null ? 0 : m.activationBytes();
    }

    /** The current step's batch on this rank ({@code null} before init, between steps and after the update). */
    StepBatch stepBatch() {
        return st == null ? null : st.batch;
    }

    private StepBatch batch(State s) {
        if (s.batch == null) {
            throw new IllegalStateException("no step batch on this rank: rank=" + rank
                    + ", call generateStep or receiveRollout first");
        }
        return s.batch;
    }

    private static LlamaModel requireValueModel(LlamaModel model, String role) {
        if (model == null) {
            throw new IllegalStateException("no " + role + " for this estimator: role=" + role);
        }
        return model;
    }

    private static float[] values(State s, LlamaModel model, StepBatch b) {
        return inMicroBatches(s, b, (rows, out) -> model.values(rows, out));
    }

    private static float[] logProbs(State s, LlamaModel model, StepBatch b) {
        return inMicroBatches(s, b, (rows, out) -> model.logProbs(rows, 1f, out, null));
    }

    /** Rows of one micro-batch on a rank: {@code ppo_micro_batch_size} over the training DP ranks. */
    private static int microRows(State s) {
        return s.cfg.actorRolloutRef().actor().ppoMicroBatchSize() / s.layout.train().d();
    }

    /**
     * A per-token forward ({@code [rows, P + R]} out) over this rank's rows, in the updates' micro-batches
     * ({@code ppo_micro_batch_size / D} rows each, so a model's activations never grow past what its update needs),
     * as {@code [rows, R]} at the positions that predict each response token.
     */
    private static float[] inMicroBatches(State s, StepBatch b,
                                          java.util.function.BiConsumer<Batch, float[]> forward) {
        int rows = b.rows.length;
        int tt = s.shape.tt();
        int resp = s.responseLen;
        int micro = Math.min(rows, microRows(s));
        float[] out = new float[rows * resp];
        float[] full = new float[micro * tt];
        for (int at = 0; at < rows; at += micro) {
            int n = Math.min(micro, rows - at);
            float[] part = n == micro ? full : new float[n * tt];
            forward.accept(RlhfLoop.slice(b.tokens, b.mask, at, n, tt), part);
            System.arraycopy(RlhfLoop.respView(part, n, tt, resp).toArray(), 0, out, at * resp, n * resp);
        }
        return out;
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

    /**
     * The rule-based reward role: the task's reward and cost of each of the step's responses (and, for ReMax, of
     * each prompt's greedy baseline). The ranks of a training DP rank hold the same rows; each scores an equal share
     * of them ({@code ceil(S / D / (W / D))} rows), the baselines are scored where they are held, and every rank gets
     * every sample's score and cost (per-sample scalars, not rows) over the world. Collective.
     *
     * @return true
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public boolean computeScores() {
        State s = state();
        StepBatch b = batch(s);
        int samples = s.shape.samples();
        int local = b.rows.length;
        int sharers = world.size() / s.layout.train().d();
        int me = 0;
        for (int r = 0; r < rank; r++) {
            me += s.layout.coordinates(r).dp() == s.coords.dp() ? 1 : 0;
        }
        int share = (local + sharers - 1) / sharers;
        // (sample, score, cost) triples; sample -1 pads a short share
        double[] mine = new double[3 * share];
        for (int k = 0; k < share; k++) {
            int at = me * share + k;
            mine[3 * k] = -1;
            if (at < local) {
                Task.Scored sc = b.scored(s.task, at);
                mine[3 * k] = b.rows[at];
                mine[3 * k + 1] = sc.reward();
                mine[3 * k + 2] = sc.cost();
            }
        }
        double[][] scored = firstByIndex(WorldRows.doubles(world, s.root, mine), 3, samples, "sample", b.step);
        b.score = scored[0];
        b.cost = scored[1];
        int[] held = b.baselinePrompts();
        if (held != null) {
            // (prompt, score) pairs of the baseline rows each rank holds; the first row of a prompt counts
            double[] base = new double[2 * held.length];
            for (int k = 0; k < held.length; k++) {
                base[2 * k] = held[k];
                base[2 * k + 1] = held[k] >= 0 ? b.baselineScored(s.task, k).reward() : 0.0;
            }
            b.baselineScores = firstByIndex(WorldRows.doubles(world, s.root, base), 2, s.shape.batchPrompts(),
                    "prompt's baseline", b.step)[0];
        }
        return true;
    }

    /**
     * Each index's values from gathered tuples {@code (index, v_1, ..., v_{width-1})} (index -1 pads a share): those
     * of the index's first tuple, as {@code [width - 1][count]}.
     *
     * @throws IllegalStateException if no tuple names an index of {@code [0, count)}
     */
    private static double[][] firstByIndex(double[] tuples, int width, int count, String what, long step) {
        double[][] out = new double[width - 1][count];
        boolean[] seen = new boolean[count];
        for (int k = 0; k < tuples.length; k += width) {
            int at = (int) tuples[k];
            if (at >= 0 && !seen[at]) {
                seen[at] = true;
                for (int c = 1; c < width; c++) {
                    out[c - 1][at] = tuples[k + c];
                }
            }
        }
        for (int at = 0; at < count; at++) {
            if (!seen[at]) {
                throw new IllegalStateException("no rank scored a " + what + ": step=" + step + ", index=" + at);
            }
        }
        return out;
    }

    /**
     * The step's rewards and advantages of this rank's rows ({@link StepBatch}; batch-wide sums from per-row values
     * gathered over the rank's DP group): the KL penalty at coefficient {@code klCoef} when the algorithm puts it in
     * the reward, the estimator's advantages and returns, Safe-RLHF's cost advantages and multiplier update from
     * {@code logLambda}. Returns the scalars the controller needs (the same on every rank): {@code current_kl},
     * {@code log_lambda}, {@code lambda} where they apply, and the batch metrics by name. Collective over the world
     * (each DP group gathers).
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public Map<String, Double> computeAdvantages(double klCoef, double logLambda) {
        State s = state();
        return batch(s).computeAdvantages(s.cfg, klCoef, logLambda);
    }

    /**
     * PPO epochs of the critic over this DP rank's rows of the step (for each mini-batch {@code u}, rows
     * {@code [u*mini + d*mini/D, u*mini + (d+1)*mini/D)}): micro-batches accumulate gradients, then the DP mean,
     * TP-wide clipping and AdamW. Returns {@code vf_loss}: the sum over micro-batches of their share.
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public Map<String, Double> updateCritic() {
        State s = state();
        StepBatch b = batch(s);
        return valueUpdate(s, requireValueModel(s.critic, CRITIC), s.criticOpt, b, b.values, b.returns);
    }

    /**
     * Safe-RLHF's cost critic: PPO epochs on the cost returns, as {@link #updateCritic} (the critic's optimiser
     * settings and value clipping); returns {@code vf_loss}.
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public Map<String, Double> updateCostCritic() {
        State s = state();
        StepBatch b = batch(s);
        return valueUpdate(s, requireValueModel(s.costCritic, COST_CRITIC), s.costCriticOpt, b, b.costValues,
                b.costReturns);
    }

    private static Map<String, Double> valueUpdate(State s, LlamaModel critic, AdamW opt, StepBatch b,
                                                   float[] valuesAll, float[] returnsAll) {
        Update up = new Update(s, b);
        BatchTensor rmask = up.rows(b.responseMask);
        BatchTensor values = up.rows(valuesAll);
        BatchTensor returns = up.rows(returnsAll);
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
        return Map.of("vf_loss", vfLoss);
    }

    /**
     * PPO epochs of the actor (vanilla clipped policy loss, entropy bonus and KL loss as configured) over this DP
     * rank's rows of the step, as {@link #updateCritic}; the step's batch is dropped after it (the step's last
     * use). Returns the sums over micro-batches ({@code pg_loss}, {@code pg_clipfrac}, {@code ppo_kl},
     * {@code entropy}, {@code kl_loss}), the summed {@code grad_norm} of the updates and the last {@code lr}.
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    public Map<String, Double> updateActor() {
        State s = state();
        StepBatch b = batch(s);
        Update up = new Update(s, b);
        TrainConfig.Actor actorCfg = s.cfg.actorRolloutRef().actor();
        BatchTensor rmask = up.rows(b.responseMask);
        BatchTensor old = up.rows(b.oldLogProbs);
        BatchTensor advantages = up.rows(b.advantages);
        BatchTensor refLp = up.rows(b.refLogProbs);
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
        s.batch = null;
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        out.put("pg_loss", pgLoss);
        out.put("pg_clipfrac", clipfrac);
        out.put("ppo_kl", ppoKl);
        out.put("entropy", entropy);
        out.put("grad_norm", gradNorm);
        out.put("kl_loss", klLoss);
        out.put("lr", lr);
        return out;
    }

    /**
     * The shape of one PPO update call: this DP rank's rows of the step in update order (for each mini-batch
     * {@code u}, rows {@code [u*mini + d*mini/D, u*mini + (d+1)*mini/D)}), mini and micro batch sizes, optimiser
     * step numbering.
     */
    private static final class Update {
        final int tt;
        final int rows;
        final int[] tokens;
        final int[] mask;
        final int micro;
        final int mcount;
        final int updatesPerEpoch;
        final int epochs;
        final int totalUpdates;
        final long step;
        final LossAggMode agg;

        Update(State s, StepBatch b) {
            TrainConfig.Actor actorCfg = s.cfg.actorRolloutRef().actor();
            RlhfLoop.Shape sh = s.shape;
            int d = sh.d();
            this.tt = sh.tt();
            this.rows = b.rows.length;
            // the step batch holds this DP rank's rows in update order already
            this.tokens = b.tokens;
            this.mask = b.mask;
            this.micro = microRows(s);
            this.mcount = sh.miniSamples() / d;
            this.updatesPerEpoch = sh.samples() / sh.miniSamples();
            this.epochs = actorCfg.ppoEpochs();
            this.totalUpdates = s.cfg.trainer().totalTrainingSteps() * updatesPerEpoch * epochs;
            this.step = b.step;
            this.agg = AlgorithmRegistry.lossAggMode(actorCfg.lossAggMode().configName());
        }

        long optStep(int epoch, int u) {
            return (step - 1) * updatesPerEpoch * epochs + (long) epoch * updatesPerEpoch + u;
        }

        /** A {@code [rows, cols]} array of this rank's rows (in update order) as a tensor. */
        BatchTensor rows(float[] local) {
            return BatchTensor.of(rows, local.length / rows, local);
        }
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
