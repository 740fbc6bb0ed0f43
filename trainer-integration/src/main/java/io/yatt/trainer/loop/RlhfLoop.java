package io.yatt.trainer.loop;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.hybrid.GroupKind;
import io.yatt.hybrid.HybridEngine;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.RankCoordinates;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.trainer.algo.AdvantageConfig;
import io.yatt.trainer.algo.AdvantageInput;
import io.yatt.trainer.algo.AdvantageResult;
import io.yatt.trainer.algo.AggOptions;
import io.yatt.trainer.algo.AggregatedLoss;
import io.yatt.trainer.algo.AlgorithmRegistry;
import io.yatt.trainer.algo.BatchTensor;
import io.yatt.trainer.algo.KlController;
import io.yatt.trainer.algo.KlPenalty;
import io.yatt.trainer.algo.KlRewardResult;
import io.yatt.trainer.algo.KlRewards;
import io.yatt.trainer.algo.LagrangeMultiplier;
import io.yatt.trainer.algo.LossAggMode;
import io.yatt.trainer.algo.Losses;
import io.yatt.trainer.algo.PolicyLossConfig;
import io.yatt.trainer.algo.PolicyLossInput;
import io.yatt.trainer.algo.PolicyLossResult;
import io.yatt.trainer.algo.SafeRlhf;
import io.yatt.trainer.algo.ValueLossResult;
import io.yatt.trainer.config.AdvantageEstimator;
import io.yatt.trainer.config.KlControlType;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.AdamW;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.Gradients;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.run.Checkpoint;
import io.yatt.trainer.run.CheckpointStore;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.TrainerState;
import io.yatt.trainer.run.MetricsTracker;
import io.yatt.trainer.run.StepMetrics;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.CharTokenizer;
import io.yatt.trainer.task.Prompt;
import io.yatt.trainer.task.PromptSampler;
import io.yatt.trainer.task.Task;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The RLHF loop on ranks as threads: every rank holds its training shard of the actor, the frozen reference and (for
 * {@code gae} and {@code safe_rlhf}) the critic, all colocated. Each step the actor's weights go into the
 * generation layout through the {@link HybridEngine}, every generation replica samples its chunk of the batch, the
 * engine returns to training, and then old and reference log-probs, values, rewards, advantages and PPO epochs of
 * actor and critic updates run with tensor parallelism inside each training replica and data parallelism across.
 */
public final class RlhfLoop {

    /** Safe-RLHF's multiplier lives in log space, so a start of 0 begins at this smallest positive value. */
    static final double MIN_LAMBDA = 1e-6;

    private RlhfLoop() {
    }

    /**
     * What a finished run reports.
     *
     * @param rows the metrics of every step
     * @param initialValReward held-out greedy mean reward of the starting policy
     * @param finalValReward held-out greedy mean reward after the last step
     * @param actorWeights the final actor's whole weights (vocabulary padded to the training TP degree)
     * @param lastStep the last step completed (less than the total when stopped)
     */
    public record Result(List<StepMetrics> rows, double initialValReward, double finalValReward,
                         Map<String, float[]> actorWeights, long lastStep) {
    }

    /**
     * Where checkpoints go and where a run resumes from.
     *
     * @param store the run's checkpoint store, or null to write none
     * @param meta the compatibility meta written with every checkpoint
     * @param resumeFrom a verified checkpoint to continue from, or null to start at step 0
     * @param stopRequested polled after every step; when true the loop checkpoints and returns early
     */
    public record Options(CheckpointStore store, Map<String, String> meta, Checkpoint resumeFrom,
                          BooleanSupplier stopRequested) {

        /** No checkpoints, no resume, never stopped. */
        public static final Options NONE = new Options(null, Map.of(), null, () -> false);
    }

    /** Checkpoint layout: the actor's and critic's HF folders and each rank's optimiser file. */
    /** verl's name for the largest rollout-vs-training log-prob gap of a step. */
    public static final String ROLLOUT_PROBS_DIFF_MAX = "training/rollout_probs_diff_max";

    static final String ACTOR = "actor";
    static final String CRITIC = "critic";
    static final String INITIAL_VAL = "val_score_initial_bits";
    static final String LAST_VAL = "val_score_last_bits";

    static String optimFile(int rank) {
        return "optim_rank_" + rank + ".safetensors";
    }

    /** Runs without checkpoints; see {@link #run(TrainConfig, Task, LlamaConfig, Map, Options, Consumer)}. */
    public static Result run(TrainConfig config, Task task, LlamaConfig model, Map<String, float[]> policy,
                             Consumer<StepMetrics> onStep) {
        return run(config, task, model, policy, Options.NONE, onStep);
    }

    /**
     * Runs {@code trainer.total_training_steps} steps from the given starting policy.
     *
     * @param policy whole weights of the starting policy (the SFT checkpoint), vocabulary padded to a multiple of
     *        the training TP degree
     * @param onStep receives each step's metrics on the calling rank 0 thread (record, progress)
     * @throws IllegalArgumentException if the layouts do not fit the model or the batch sizes
     * @throws IllegalStateException if the checkpoint to resume from lacks a counter (other defects: CheckpointException)
     */
    public static Result run(TrainConfig config, Task task, LlamaConfig model, Map<String, float[]> policy,
                             Options options, Consumer<StepMetrics> onStep) {
        HybridLayout layout = config.parallel().layout();
        int world = layout.worldSize();
        Shared shared = new Shared(config, task, model, layout, policy);
        shared.options = options;
        shared.actorOpts = new AdamW[world];
        shared.criticOpts = new AdamW[world];
        try (InProcessWorld w = InProcessWorld.create(world)) {
            return RankThreads.run(w, comm -> new Rank(shared, comm, onStep).run()).getFirst();
        }
    }

    /** Seed of sample {@code i} of step {@code step}: SplitMix64 of the trainer seed, step and index. */
    static long sampleSeed(long seed, long step, int i) {
        long z = seed * 0x9E3779B97F4A7C15L + step * 0xBF58476D1CE4E5B9L + i * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** State every rank reads and writes at disjoint indices between barriers. */
    static final class Shared {
        final TrainConfig config;
        final Task task;
        final LlamaConfig model;
        final HybridLayout layout;
        final Map<String, float[]> policy;
        final ReshardPlan plan;
        final int pad;
        final int batchPrompts;
        final int n;
        final int samples;
        final int promptLen;
        final int responseLen;
        final boolean critic;
        /** Per step: generated tokens and their log-probs, per sample. */
        final int[][] responses;
        final float[][] oldLogProbs;
        final float[][] genLogProbs;
        final float[][] refLogProbs;
        final float[][] values;
        final int[][] baselineResponses;
        volatile double valReward;
        volatile boolean stop;
        Options options;
        AdamW[] actorOpts;
        AdamW[] criticOpts;
        Map<String, float[]> actorWhole;
        Map<String, float[]> criticWhole;

        Shared(TrainConfig config, Task task, LlamaConfig model, HybridLayout layout, Map<String, float[]> policy) {
            this.config = config;
            this.task = task;
            this.model = model;
            this.layout = layout;
            this.policy = policy;
            this.pad = layout.train().t();
            model.requireTensorParallel(layout.train().t());
            this.plan = ReshardPlanner.shared().plan(layout, model.modelSpec(DType.F32, pad), ReshardScheme.HYBRIDFLOW);
            this.batchPrompts = config.data().trainBatchSize();
            this.n = config.actorRolloutRef().rollout().n();
            this.samples = batchPrompts * n;
            this.promptLen = config.data().maxPromptLength();
            this.responseLen = config.actorRolloutRef().rollout().responseLength();
            AdvantageEstimator est = config.algorithm().advEstimator();
            this.critic = est == AdvantageEstimator.GAE || est == AdvantageEstimator.SAFE_RLHF;
            this.responses = new int[samples][];
            this.oldLogProbs = new float[samples][];
            this.genLogProbs = new float[samples][];
            this.refLogProbs = new float[samples][];
            this.values = new float[samples][];
            this.baselineResponses = new int[batchPrompts][];
            int replicas = layout.worldSize() / layout.gen().tg();
            if (samples % replicas != 0) {
                throw new IllegalArgumentException("samples per step must divide over the generation replicas: "
                        + "samples=" + samples + ", replicas=" + replicas);
            }
            int miniSamples = config.actorRolloutRef().actor().ppoMiniBatchSize() * n;
            int micro = config.actorRolloutRef().actor().ppoMicroBatchSize();
            if (miniSamples % micro != 0) {
                throw new IllegalArgumentException("ppo_micro_batch_size must divide ppo_mini_batch_size * rollout.n: "
                        + "ppo_micro_batch_size=" + micro + ", samples=" + miniSamples);
            }
        }
    }

    /** One rank's loop. */
    private static final class Rank {
        private final Shared s;
        private final Communicator world;
        private final Consumer<StepMetrics> onStep;
        private final TrainConfig cfg;
        private final RankCoordinates coords;

        Rank(Shared s, Communicator world, Consumer<StepMetrics> onStep) {
            this.s = s;
            this.world = world;
            this.onStep = onStep;
            this.cfg = s.config;
            this.coords = s.layout.coordinates(world.rank());
        }

        Result run() {
            int rank = world.rank();
            HybridLayout layout = s.layout;
            int t = layout.train().t();
            int d = layout.train().d();
            List<Integer> genGroup = layout.group(GroupKind.GEN_TP, rank);
            int replica = layout.groups(GroupKind.GEN_TP).indexOf(genGroup);
            int replicas = layout.groups(GroupKind.GEN_TP).size();
            Communicator genTp = world.split(replica, rank).orElseThrow();
            List<Integer> dpGroup = layout.group(GroupKind.DP, rank);
            Communicator dpComm = world.split(layout.groups(GroupKind.DP).indexOf(dpGroup), rank).orElseThrow();
            Map<String, float[]> criticInit = null;
            if (s.critic) {
                criticInit = LlamaWeights.random(s.model, Head.VALUE, cfg.trainer().seed() + 1, s.pad);
                for (Map.Entry<String, float[]> e : s.policy.entrySet()) {
                    if (criticInit.containsKey(e.getKey())) {
                        criticInit.put(e.getKey(), e.getValue());
                    }
                }
            }
            Checkpoint resume = s.options.resumeFrom();
            Map<String, float[]> actorInit = s.policy;
            TrainerState state = null;
            if (resume != null) {
                state = TrainerState.read(resume);
                actorInit = LlamaCheckpoint.load(resume.path().resolve(ACTOR), s.pad).weights();
                if (s.critic) {
                    criticInit = LlamaCheckpoint.load(resume.path().resolve(CRITIC), s.pad).weights();
                }
            }
            try (Allocator root = Allocator.root("rank" + rank);
                 HybridEngine engine = HybridEngine.create(s.plan, rank, world, root);
                 LlamaModel actor = LlamaModel.create(s.model, Head.LANGUAGE_MODEL,
                         LlamaWeights.shard(s.model, Head.LANGUAGE_MODEL, actorInit, t, coords.tp(), s.pad),
                         engine.communicator(GroupKind.TP), s.pad);
                 LlamaModel ref = LlamaModel.create(s.model, Head.LANGUAGE_MODEL,
                         LlamaWeights.shard(s.model, Head.LANGUAGE_MODEL, s.policy, t, coords.tp(), s.pad),
                         engine.communicator(GroupKind.TP), s.pad);
                 LlamaModel critic = s.critic ? LlamaModel.create(s.model, Head.VALUE,
                         LlamaWeights.shard(s.model, Head.VALUE, criticInit, t, coords.tp(), s.pad),
                         engine.communicator(GroupKind.TP), s.pad) : null) {
                Communicator tp = t == 1 ? null : engine.communicator(GroupKind.TP);
                Communicator dp = d == 1 ? null : dpComm;
                AdamW actorOpt = AdamW.create(actor.parameters(),
                        new AdamW.Settings(0.9, 0.999, 1e-8, cfg.actorRolloutRef().actor().optim().weightDecay()));
                AdamW criticOpt = critic == null ? null : AdamW.create(critic.parameters(),
                        new AdamW.Settings(0.9, 0.999, 1e-8, cfg.critic().optim().weightDecay()));
                s.actorOpts[rank] = actorOpt;
                s.criticOpts[rank] = criticOpt;
                TrainConfig.Algorithm alg = cfg.algorithm();
                double klInit = state != null ? state.klCoef() : alg.klCtrl().klCoef();
                KlController kl = alg.klCtrl().type() == KlControlType.ADAPTIVE
                        ? KlController.adaptive(klInit, alg.klCtrl().targetKl(), alg.klCtrl().horizon())
                        : KlController.fixed(klInit);
                double lambdaInit = state != null ? state.lagrangeMultiplier()
                        : Math.max(alg.safeRlhf().lagrangeInit(), MIN_LAMBDA);
                LagrangeMultiplier lagrange = alg.advEstimator() != AdvantageEstimator.SAFE_RLHF ? null
                        : LagrangeMultiplier.create(lambdaInit, alg.safeRlhf().lagrangeLr(),
                        alg.safeRlhf().costLimit(), Double.MAX_VALUE);
                PromptSampler sampler;
                double initial;
                double last;
                int first;
                if (state != null) {
                    actorOpt.load(resume.path().resolve(ACTOR).resolve(optimFile(rank)));
                    if (criticOpt != null) {
                        criticOpt.load(resume.path().resolve(CRITIC).resolve(optimFile(rank)));
                    }
                    sampler = PromptSampler.restore(s.task.trainPrompts().size(), cfg.data().seed(), state.sampler());
                    initial = Double.longBitsToDouble(counter(state, INITIAL_VAL, resume));
                    last = Double.longBitsToDouble(counter(state, LAST_VAL, resume));
                    first = Math.toIntExact(state.step()) + 1;
                } else {
                    sampler = PromptSampler.of(s.task.trainPrompts().size(), cfg.data().seed());
                    initial = evaluate(actor);
                    last = initial;
                    first = 1;
                }
                int total = cfg.trainer().totalTrainingSteps();
                List<StepMetrics> rows = new ArrayList<>();
                long lastStep = first - 1;
                for (int step = first; step <= total; step++) {
                    MetricsTracker m = MetricsTracker.create();
                    long t0 = System.nanoTime();
                    int[] promptIdx = sampler.next(s.batchPrompts);
                    List<Prompt> prompts = new ArrayList<>(s.samples);
                    List<int[]> promptIds = new ArrayList<>(s.samples);
                    for (int i = 0; i < s.samples; i++) {
                        Prompt p = s.task.trainPrompts().get(promptIdx[i / s.n]);
                        prompts.add(p);
                        promptIds.add(s.task.tokenizer().encodePrompt(p.text()));
                    }
                    // 1. rollout in the generation layout
                    long r0 = System.nanoTime();
                    actor.copyTo(engine.trainingWeights());
                    Map<String, io.yatt.tensor.Tensor> genWeights = engine.toGeneration();
                    long bytes = engine.lastTransition().bytesReceived();
                    double reshardS = (System.nanoTime() - r0) / 1e9;
                    long g0 = System.nanoTime();
                    try (LlamaModel gen = LlamaModel.fromTensors(s.model, Head.LANGUAGE_MODEL, genWeights,
                            layout.gen().tg() == 1 ? null : genTp, s.pad)) {
                        int chunk = s.samples / replicas;
                        int from = replica * chunk;
                        TrainConfig.Rollout ro = cfg.actorRolloutRef().rollout();
                        Generator.Sampling sampling = new Generator.Sampling(s.responseLen, (float) ro.temperature(),
                                Math.max(0, ro.topK()), (float) ro.topP(), new int[] {CharTokenizer.EOS_ID});
                        long[] seeds = new long[chunk];
                        for (int i = 0; i < chunk; i++) {
                            seeds[i] = sampleSeed(cfg.trainer().seed(), step, from + i);
                        }
                        Generator generator = Generator.create(gen, chunk, s.promptLen + s.responseLen);
                        List<Generator.Sample> out = generator.generate(promptIds.subList(from, from + chunk),
                                sampling, seeds);
                        if (genTp == null || genTp.rank() == 0 || layout.gen().tg() == 1) {
                            for (int i = 0; i < chunk; i++) {
                                s.responses[from + i] = out.get(i).tokens();
                                s.genLogProbs[from + i] = out.get(i).logProbs();
                            }
                        }
                        if (alg.advEstimator() == AdvantageEstimator.REMAX) {
                            // greedy baseline rollouts of each prompt, split over replicas by prompt
                            int pc = (s.batchPrompts + replicas - 1) / replicas;
                            int pf = Math.min(s.batchPrompts, replica * pc);
                            int pt = Math.min(s.batchPrompts, pf + pc);
                            if (pt > pf) {
                                List<int[]> bp = new ArrayList<>();
                                for (int j = pf; j < pt; j++) {
                                    bp.add(promptIds.get(j * s.n));
                                }
                                Generator g2 = Generator.create(gen, pt - pf, s.promptLen + s.responseLen);
                                List<Generator.Sample> gout = g2.generate(bp, new Generator.Sampling(s.responseLen,
                                        0f, 0, 1f, new int[] {CharTokenizer.EOS_ID}), new long[pt - pf]);
                                for (int j = pf; j < pt; j++) {
                                    s.baselineResponses[j] = gout.get(j - pf).tokens();
                                }
                            }
                        }
                    }
                    double genS = (System.nanoTime() - g0) / 1e9;
                    long b0 = System.nanoTime();
                    engine.toTraining();
                    reshardS += (System.nanoTime() - b0) / 1e9;
                    world.barrier();
                    m.addTiming(stage(MetricNames.TIMING_GEN), genS);
                    m.addTiming(stage(MetricNames.TIMING_RESHARD), reshardS);
                    m.record(MetricNames.RESHARD_BYTES, bytes);

                    // 2. the batch as [samples, P + R] tokens: prompt left-padded, response right-padded
                    int tt = s.promptLen + s.responseLen;
                    int[] tokens = new int[s.samples * tt];
                    int[] mask = new int[s.samples * tt];
                    float[] respMask = new float[s.samples * s.responseLen];
                    double[] lengths = new double[s.samples];
                    for (int i = 0; i < s.samples; i++) {
                        int[] p = promptIds.get(i);
                        for (int j = 0; j < p.length; j++) {
                            tokens[i * tt + s.promptLen - p.length + j] = p[j];
                            mask[i * tt + s.promptLen - p.length + j] = 1;
                        }
                        int[] r = s.responses[i];
                        for (int j = 0; j < r.length; j++) {
                            tokens[i * tt + s.promptLen + j] = r[j];
                            mask[i * tt + s.promptLen + j] = 1;
                            respMask[i * s.responseLen + j] = 1f;
                        }
                        lengths[i] = r.length;
                    }
                    // 3. old log-probs, reference log-probs, values: each DP replica its slice
                    int per = s.samples / d;
                    int lo = coords.dp() * per;
                    Batch mine = slice(tokens, mask, lo, per, tt);
                    try (MetricsTracker.Timer ignored = m.time(stage(MetricNames.TIMING_REF))) {
                        float[] lp = new float[per * tt];
                        actor.logProbs(mine, 1f, lp, null);
                        scatter(lp, s.oldLogProbs, lo, per, tt, s.responseLen);
                        ref.logProbs(mine, 1f, lp, null);
                        scatter(lp, s.refLogProbs, lo, per, tt, s.responseLen);
                    }
                    if (critic != null) {
                        try (MetricsTracker.Timer ignored = m.time(stage(MetricNames.TIMING_VALUES))) {
                            float[] v = new float[per * tt];
                            critic.values(mine, v);
                            scatter(v, s.values, lo, per, tt, s.responseLen);
                        }
                    }
                    world.barrier();

                    // 4. rewards and advantages, identical on every rank
                    long a0 = System.nanoTime();
                    BatchTensor rmask = BatchTensor.of(s.samples, s.responseLen, respMask);
                    float[] scores = new float[s.samples * s.responseLen];
                    float[] costs = new float[s.samples * s.responseLen];
                    double[] score = new double[s.samples];
                    double[] cost = new double[s.samples];
                    for (int i = 0; i < s.samples; i++) {
                        int[] r = s.responses[i];
                        Task.Scored sc = s.task.score(prompts.get(i), r, 0, r.length);
                        score[i] = sc.reward();
                        cost[i] = sc.cost();
                        int lastTok = Math.max(0, r.length - 1);
                        scores[i * s.responseLen + lastTok] = (float) sc.reward();
                        costs[i * s.responseLen + lastTok] = (float) sc.cost();
                    }
                    BatchTensor old = BatchTensor.of(s.oldLogProbs);
                    BatchTensor refLp = BatchTensor.of(s.refLogProbs);
                    BatchTensor tokenScores = BatchTensor.of(s.samples, s.responseLen, scores);
                    BatchTensor tokenRewards = tokenScores;
                    if (alg.useKlInReward()) {
                        KlRewardResult kr = KlRewards.applyKlPenalty(tokenScores, old, refLp, rmask, kl,
                                KlPenalty.fromName(alg.klPenalty().configName()));
                        tokenRewards = kr.tokenLevelRewards();
                        kl.update(kr.currentKl(), s.batchPrompts);
                        m.record(MetricNames.REWARD_KL_PENALTY, kr.currentKl());
                    }
                    AdvantageConfig ac = AdvantageConfig.DEFAULTS.withGammaLam(alg.gamma(), alg.lam())
                            .withNormAdvByStd(alg.normAdvByStdInGrpo());
                    AdvantageInput.Builder in = AdvantageInput.builder(tokenRewards, rmask);
                    BatchTensor valuesT = critic == null ? null : BatchTensor.of(s.values);
                    if (valuesT != null) {
                        in.values(valuesT);
                    }
                    int[] groups = new int[s.samples];
                    for (int i = 0; i < s.samples; i++) {
                        groups[i] = i / s.n;
                    }
                    in.groupIds(groups);
                    if (alg.advEstimator() == AdvantageEstimator.REMAX) {
                        float[] base = new float[s.samples];
                        for (int i = 0; i < s.samples; i++) {
                            int[] br = s.baselineResponses[i / s.n];
                            base[i] = (float) s.task.score(prompts.get(i), br, 0, br.length).reward();
                        }
                        in.rewardBaselines(base);
                    }
                    AdvantageResult adv;
                    BatchTensor advantages;
                    if (alg.advEstimator() == AdvantageEstimator.SAFE_RLHF) {
                        adv = AlgorithmRegistry.advantageEstimator("gae").estimate(in.build(), ac);
                        // no cost critic yet: cost advantages are whitened cost-to-go (values 0)
                        AdvantageResult cadv = SafeRlhf.costAdvantages(BatchTensor.of(s.samples, s.responseLen,
                                costs), BatchTensor.zeros(s.samples, s.responseLen), rmask, alg.gamma(), alg.lam(),
                                true);
                        double lambda = lagrange.update(cost);
                        advantages = SafeRlhf.combinedAdvantages(adv.advantages(), cadv.advantages(), lambda);
                        m.record(MetricNames.LAGRANGE_MULTIPLIER, lambda);
                    } else {
                        adv = AlgorithmRegistry.advantageEstimator(alg.advEstimator().configName())
                                .estimate(in.build(), ac);
                        advantages = adv.advantages();
                    }
                    m.addTiming(stage(MetricNames.TIMING_ADV), (System.nanoTime() - a0) / 1e9);

                    // 5. critic and actor updates
                    TrainConfig.Actor actorCfg = cfg.actorRolloutRef().actor();
                    int miniSamples = actorCfg.ppoMiniBatchSize() * s.n;
                    int microPerRank = actorCfg.ppoMicroBatchSize() / d;
                    int updatesPerEpoch = s.samples / miniSamples;
                    int totalUpdates = total * updatesPerEpoch * actorCfg.ppoEpochs();
                    LossAggMode agg = AlgorithmRegistry.lossAggMode(actorCfg.lossAggMode().configName());
                    double pgLoss = 0;
                    double clipfrac = 0;
                    double ppoKl = 0;
                    double entropy = 0;
                    double vfLoss = 0;
                    double gradNorm = 0;
                    int micros = 0;
                    if (critic != null) {
                        long c0 = System.nanoTime();
                        for (int epoch = 0; epoch < actorCfg.ppoEpochs(); epoch++) {
                            for (int u = 0; u < updatesPerEpoch; u++) {
                                critic.zeroGrad();
                                int mlo = u * miniSamples + coords.dp() * (miniSamples / d);
                                int mcount = miniSamples / d;
                                for (int mb = 0; mb < mcount; mb += microPerRank) {
                                    int at = mlo + mb;
                                    float[] v = new float[microPerRank * tt];
                                    critic.values(slice(tokens, mask, at, microPerRank, tt), v);
                                    BatchTensor vp = respView(v, microPerRank, tt, s.responseLen);
                                    ValueLossResult vl = Losses.valueLoss(vp, rows(adv.returns(), at, microPerRank),
                                            rows(valuesT, at, microPerRank), rows(rmask, at, microPerRank),
                                            cfg.critic().cliprangeValue(), agg, AggOptions.LOCAL);
                                    double scale = (double) microPerRank / mcount;
                                    critic.backwardValues(toFull(vl.gradValuePreds(), microPerRank, tt, scale));
                                    vfLoss += vl.vfLoss() * scale;
                                }
                                Gradients.allReduceMean(critic.parameters(), dp);
                                Gradients.clipGlobalNorm(critic.parameters(), cfg.critic().gradClip(), tp);
                                long opt = (long) (step - 1) * updatesPerEpoch * actorCfg.ppoEpochs()
                                        + (long) epoch * updatesPerEpoch + u;
                                criticOpt.step(cfg.critic().optim().lrAt(opt, totalUpdates));
                            }
                        }
                        m.addTiming(stage(MetricNames.TIMING_UPDATE_CRITIC), (System.nanoTime() - c0) / 1e9);
                    }
                    long u0 = System.nanoTime();
                    PolicyLossConfig plc = PolicyLossConfig.DEFAULTS.withClipRatios(actorCfg.clipRatioLow(),
                                    actorCfg.clipRatioHigh()).withClipRatioC(actorCfg.clipRatioC());
                    double lr = 0;
                    double klLoss = 0;
                    KlPenalty klLossType = KlPenalty.fromName(actorCfg.klLossType().configName());
                    for (int epoch = 0; epoch < actorCfg.ppoEpochs(); epoch++) {
                        for (int u = 0; u < updatesPerEpoch; u++) {
                            actor.zeroGrad();
                            int mlo = u * miniSamples + coords.dp() * (miniSamples / d);
                            int mcount = miniSamples / d;
                            for (int mb = 0; mb < mcount; mb += microPerRank) {
                                int at = mlo + mb;
                                float[] lp = new float[microPerRank * tt];
                                float[] ent = new float[microPerRank * tt];
                                actor.logProbs(slice(tokens, mask, at, microPerRank, tt), 1f, lp, ent);
                                BatchTensor mm = rows(rmask, at, microPerRank);
                                PolicyLossResult pl = AlgorithmRegistry.policyLoss("vanilla").compute(
                                        PolicyLossInput.of(rows(old, at, microPerRank),
                                                respView(lp, microPerRank, tt, s.responseLen), rows(advantages, at, microPerRank),
                                                mm), agg, plc);
                                double scale = (double) microPerRank / mcount;
                                float[] dLp = toFull(pl.gradLogProb(), microPerRank, tt, scale);
                                float[] dEnt = null;
                                BatchTensor entT = respView(ent, microPerRank, tt, s.responseLen);
                                double entMean = maskedMean(entT, mm);
                                if (actorCfg.entropyCoeff() != 0) {
                                    var el = Losses.entropyLoss(entT, mm, agg, AggOptions.LOCAL);
                                    dEnt = toFull(el.gradient(), microPerRank, tt, -actorCfg.entropyCoeff() * scale);
                                }
                                if (actorCfg.useKlLoss()) {
                                    AggregatedLoss kll = Losses.klLoss(respView(lp, microPerRank, tt, s.responseLen),
                                            rows(refLp, at, microPerRank), mm, klLossType, agg, plc.aggOptions());
                                    float[] dKl = toFull(kll.gradient(), microPerRank, tt,
                                            actorCfg.klLossCoef() * scale);
                                    for (int i = 0; i < dLp.length; i++) {
                                        dLp[i] += dKl[i];
                                    }
                                    klLoss += kll.value() * scale;
                                }
                                actor.backwardLogProbs(dLp, dEnt);
                                pgLoss += pl.pgLoss() * scale;
                                clipfrac += pl.pgClipfrac() * scale;
                                ppoKl += pl.ppoKl() * scale;
                                entropy += entMean * scale;
                                micros++;
                            }
                            Gradients.allReduceMean(actor.parameters(), dp);
                            gradNorm += Gradients.clipGlobalNorm(actor.parameters(), actorCfg.gradClip(), tp);
                            long opt = (long) (step - 1) * updatesPerEpoch * actorCfg.ppoEpochs()
                                    + (long) epoch * updatesPerEpoch + u;
                            lr = actorCfg.optim().lrAt(opt, totalUpdates);
                            actorOpt.step(lr);
                        }
                    }
                    m.addTiming(stage(MetricNames.TIMING_UPDATE_ACTOR), (System.nanoTime() - u0) / 1e9);
                    int updates = updatesPerEpoch * actorCfg.ppoEpochs();
                    if (rank == 0) {
                        m.recordStats("critic/score", score);
                        m.record(MetricNames.REWARDS_MEAN, sumPerRow(tokenRewards));
                        m.record(MetricNames.ADVANTAGES_MEAN, maskedMean(advantages, rmask));
                        m.record(MetricNames.PG_LOSS, pgLoss / updates);
                        m.record(MetricNames.PG_CLIPFRAC, clipfrac / updates);
                        m.record(MetricNames.PPO_KL, ppoKl / updates);
                        m.record(MetricNames.ENTROPY, entropy / updates);
                        m.record(MetricNames.GRAD_NORM, gradNorm / updates);
                        m.record(MetricNames.LR, lr);
                        if (actorCfg.useKlLoss()) {
                            m.record(MetricNames.KL_LOSS, klLoss / updates);
                            m.record(MetricNames.KL_COEF, actorCfg.klLossCoef());
                        }
                        if (critic != null) {
                            m.record(MetricNames.VF_LOSS, vfLoss / updates);
                            m.record(MetricNames.VALUES_MEAN, maskedMean(valuesT, rmask));
                            m.record(MetricNames.RETURNS_MEAN, maskedMean(adv.returns(), rmask));
                        }
                        if (s.task.hasCost()) {
                            m.record(MetricNames.COST_MEAN, mean(cost));
                        }
                        m.recordStats("response_length", lengths);
                        m.record(ROLLOUT_PROBS_DIFF_MAX, rolloutDiffMax(s));
                        double tokensTotal = 0;
                        for (int i = 0; i < s.samples; i++) {
                            tokensTotal += promptIds.get(i).length + lengths[i];
                        }
                        m.record(MetricNames.TOTAL_NUM_TOKENS, tokensTotal);
                        double stepS = (System.nanoTime() - t0) / 1e9;
                        m.record(MetricNames.THROUGHPUT, tokensTotal / stepS / world.size());
                    }
                    int testFreq = cfg.trainer().testFreq();
                    if ((testFreq > 0 && step % testFreq == 0) || step == total) {
                        long e0 = System.nanoTime();
                        last = evaluate(actor);
                        m.record(MetricNames.VAL_SCORE_MEAN, last);
                        m.addTiming(stage(MetricNames.TIMING_TESTING), (System.nanoTime() - e0) / 1e9);
                    }
                    if (rank == 0) {
                        s.stop = s.options.stopRequested().getAsBoolean();
                    }
                    world.barrier();
                    boolean stopNow = s.stop && step < total;
                    int saveFreq = cfg.trainer().saveFreq();
                    if (s.options.store() != null
                            && ((saveFreq > 0 && step % saveFreq == 0) || step == total || stopNow)) {
                        long k0 = System.nanoTime();
                        Map<String, float[]> aw = actor.wholeWeights();
                        Map<String, float[]> cw = critic == null ? null : critic.wholeWeights();
                        if (rank == 0) {
                            s.actorWhole = aw;
                            s.criticWhole = cw;
                        }
                        world.barrier();
                        if (rank == 0) {
                            TrainerState st = new TrainerState(step, sampler.state(), kl.value(),
                                    lagrange == null ? 0.0 : lagrange.lambda(),
                                    Map.of(INITIAL_VAL, Double.doubleToRawLongBits(initial),
                                            LAST_VAL, Double.doubleToRawLongBits(last)));
                            s.options.store().write(step, s.options.meta(), folder -> writeCheckpoint(folder, st));
                        }
                        world.barrier();
                        m.addTiming(stage(MetricNames.TIMING_SAVE_CHECKPOINT), (System.nanoTime() - k0) / 1e9);
                    }
                    m.addTiming(stage(MetricNames.TIMING_STEP), (System.nanoTime() - t0) / 1e9);
                    if (rank == 0) {
                        StepMetrics sm = m.commit(step);
                        rows.add(sm);
                        onStep.accept(sm);
                    }
                    world.barrier();
                    lastStep = step;
                    if (stopNow) {
                        break;
                    }
                }
                Map<String, float[]> whole = actor.wholeWeights();
                return new Result(rows, initial, last, whole, lastStep);
            } finally {
                genTp.close();
                dpComm.close();
            }
        }

        /** Rank 0 writes every rank's state while the others wait at the barrier. */
        private void writeCheckpoint(Path folder, TrainerState st) throws java.io.IOException {
            LlamaCheckpoint.save(folder.resolve(ACTOR), s.model, Head.LANGUAGE_MODEL, s.actorWhole, s.pad);
            for (int r = 0; r < s.actorOpts.length; r++) {
                s.actorOpts[r].save(folder.resolve(ACTOR).resolve(optimFile(r)));
            }
            if (s.critic) {
                LlamaCheckpoint.save(folder.resolve(CRITIC), s.model, Head.VALUE, s.criticWhole, s.pad);
                for (int r = 0; r < s.criticOpts.length; r++) {
                    s.criticOpts[r].save(folder.resolve(CRITIC).resolve(optimFile(r)));
                }
            }
            st.writeTo(folder);
        }

        private static long counter(TrainerState state, String name, Checkpoint from) {
            Long v = state.counters().get(name);
            if (v == null) {
                throw new IllegalStateException("trainer state lacks a counter: path=" + from.path() + ", counter="
                        + name);
            }
            return v;
        }

        /** Held-out greedy mean reward of the actor, gathered over TP and evaluated once, shared with every rank. */
        private double evaluate(LlamaModel actor) {
            Map<String, float[]> whole = actor.wholeWeights();
            if (world.rank() == 0) {
                s.valReward = Sft.evaluate(s.model, whole, s.pad, s.task, s.task.heldOutPrompts(), s.responseLen);
            }
            world.barrier();
            double v = s.valReward;
            world.barrier();
            return v;
        }
    }

    /** A stage's name as {@link MetricsTracker#addTiming} takes it: the metric name without {@code timing_s/}. */
    static String stage(String metric) {
        return metric.substring(MetricNames.TIMING_PREFIX.length());
    }

    static Batch slice(int[] tokens, int[] mask, int from, int count, int tt) {
        int[] tk = new int[count * tt];
        int[] mk = new int[count * tt];
        System.arraycopy(tokens, from * tt, tk, 0, count * tt);
        System.arraycopy(mask, from * tt, mk, 0, count * tt);
        return new Batch(count, tt, tk, mk);
    }

    /**
     * Response quantities of rows {@code [from, from+count)}: response token j of a sample sits at position
     * {@code P + j}, so its log-prob (and the critic's value, read at the position that predicts it) is at
     * {@code P + j - 1}.
     */
    private static void scatter(float[] full, float[][] out, int from, int count, int tt, int resp) {
        BatchTensor v = respView(full, count, tt, resp);
        for (int i = 0; i < count; i++) {
            out[from + i] = v.row(i);
        }
    }

    private static BatchTensor respView(float[] full, int count, int tt, int resp) {
        int p = tt - resp;
        float[] out = new float[count * resp];
        for (int i = 0; i < count; i++) {
            for (int j = 0; j < resp; j++) {
                out[i * resp + j] = full[i * tt + p + j - 1];
            }
        }
        return BatchTensor.of(count, resp, out);
    }

    private static float[] toFull(BatchTensor grad, int count, int tt, double scale) {
        int resp = grad.seq();
        int p = tt - resp;
        float[] out = new float[count * tt];
        for (int i = 0; i < count; i++) {
            for (int j = 0; j < resp; j++) {
                out[i * tt + p + j - 1] = (float) (grad.get(i, j) * scale);
            }
        }
        return out;
    }

    private static BatchTensor rows(BatchTensor x, int from, int count) {
        float[] out = new float[count * x.seq()];
        float[] all = x.toArray();
        System.arraycopy(all, from * x.seq(), out, 0, count * x.seq());
        return BatchTensor.of(count, x.seq(), out);
    }

    private static double maskedMean(BatchTensor x, BatchTensor mask) {
        double sum = 0;
        double cnt = 0;
        for (int b = 0; b < x.batch(); b++) {
            for (int j = 0; j < x.seq(); j++) {
                float mk = mask.get(b, j);
                sum += mk * x.get(b, j);
                cnt += mk;
            }
        }
        return cnt == 0 ? 0 : sum / cnt;
    }

    /**
     * The largest {@code |log p_gen - log p_train|} over all response tokens: the generation-layout model (through
     * the hybrid engine) against the training-layout actor on the same weights; rounding only.
     */
    static double rolloutDiffMax(Shared s) {
        double max = 0;
        for (int i = 0; i < s.samples; i++) {
            float[] g = s.genLogProbs[i];
            for (int j = 0; j < g.length; j++) {
                max = Math.max(max, Math.abs((double) g[j] - s.oldLogProbs[i][j]));
            }
        }
        return max;
    }

    private static double sumPerRow(BatchTensor x) {
        double sum = 0;
        for (float v : x.toArray()) {
            sum += v;
        }
        return sum / x.batch();
    }

    private static double mean(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return x.length == 0 ? 0 : s / x.length;
    }
}
