package io.yatt.trainer.loop;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.DataBatch;
import io.yatt.controller.WorkerCallException;
import io.yatt.controller.WorkerGroup;
import io.yatt.controller.WorkerLostException;
import io.yatt.controller.placement.DynamicPlacement;
import io.yatt.controller.placement.RuntimePlacement;
import io.yatt.controller.placement.StageTimes;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.RankCoordinates;
import io.yatt.tensor.Allocator;
import io.yatt.trainer.algo.BatchTensor;
import io.yatt.trainer.algo.KlController;
import io.yatt.trainer.algo.LagrangeMultiplier;
import io.yatt.trainer.config.AdvantageEstimator;
import io.yatt.trainer.config.Backend;
import io.yatt.trainer.config.Launch;
import io.yatt.trainer.config.KlControlType;
import io.yatt.trainer.config.PlacementMode;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.launch.WorkerJvms;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.run.Checkpoint;
import io.yatt.trainer.run.CheckpointStore;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.MetricsTracker;
import io.yatt.trainer.run.StepMetrics;
import io.yatt.trainer.run.TrainerState;
import io.yatt.trainer.task.PromptSampler;
import io.yatt.trainer.task.Task;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The RLHF loop as HybridFlow's hybrid programming model: this thread is the single controller and drives the roles
 * as worker groups ({@link RlhfWorker} on every rank, colocated: actor with its rollout through the hybrid engine,
 * reference, critic, reward). Each step it samples prompts, has the rollout generate (MESH over the generation
 * replicas), the actor, reference and critic score the rollout (MESH over training DP, queued at once), the reward
 * role score the responses, computes rewards and advantages itself, and has the critic and the actor run their PPO
 * epochs (MESH over training DP); metrics carry verl's names.
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
     * @param controllerPayloadBytes payload bytes controller 0's control plane encoded and decoded in the run
     * @param stepPayloadBytes of those, the bytes of each step run (its calls from the rollout to the evaluation and
     *        checkpoint), in step order
     */
    public record Result(List<StepMetrics> rows, double initialValReward, double finalValReward,
                         Map<String, float[]> actorWeights, long lastStep,
                         long controllerPayloadBytes, List<Long> stepPayloadBytes) {
        public Result {
            stepPayloadBytes = List.copyOf(stepPayloadBytes);
        }
    }

    /**
     * Where checkpoints go and where a run resumes from.
     *
     * @param store the run's checkpoint store, or null to write none
     * @param meta the compatibility meta written with every checkpoint
     * @param resumeFrom a verified checkpoint to continue from, or null to start at step 0
     * @param stopRequested polled after every step; when true the loop checkpoints and returns early
     * @param log receives the run's log lines (auto placement's decisions), on the calling thread
     */
    public record Options(CheckpointStore store, Map<String, String> meta, Checkpoint resumeFrom,
                          BooleanSupplier stopRequested, Consumer<String> log, ExternalLaunch external) {

        /** No checkpoints, no resume, never stopped, no log. */
        public static final Options NONE = new Options(null, Map.of(), null, () -> false);

        /** As the canonical constructor, without an external launch. */
        public Options(CheckpointStore store, Map<String, String> meta, Checkpoint resumeFrom,
                       BooleanSupplier stopRequested, Consumer<String> log) {
            this(store, meta, resumeFrom, stopRequested, log, null);
        }

        /** A copy with {@code launch} for {@code trainer.launch=external}. */
        public Options withExternal(ExternalLaunch launch) {
            return new Options(store, meta, resumeFrom, stopRequested, log, launch);
        }

        /** As the canonical constructor, with the log lines dropped. */
        public Options(CheckpointStore store, Map<String, String> meta, Checkpoint resumeFrom,
                       BooleanSupplier stopRequested) {
            this(store, meta, resumeFrom, stopRequested, line -> { });
        }
    }

    /**
     * What {@code trainer.launch=external} needs from the launcher's environment: this process's place in the
     * rendezvous (torchrun, Slurm or Open MPI variables; rank 0, the workers ranks 1 to world size - 1) and the
     * control plane's shared secret ({@value #ENV_SECRET}, null for none; required for a non-loopback {@code
     * trainer.control_host}).
     *
     * @param rendezvous the rendezvous of the controller and its workers
     * @param secret the controller's shared secret, or null
     */
    public record ExternalLaunch(RendezvousConfig rendezvous, String secret) {

        /** Environment variable with the controller's shared secret, as {@code yatt worker} reads it. */
        public static final String ENV_SECRET = WorkerJvms.ENV_CONTROLLER_SECRET;

        /**
         * From a launcher's environment ({@link RendezvousConfig#fromEnvironment}, {@value #ENV_SECRET}).
         *
         * @throws IllegalArgumentException as {@link RendezvousConfig#fromEnvironment}
         */
        public static ExternalLaunch fromEnvironment(Map<String, String> env) {
            String secret = env.get(ENV_SECRET);
            return new ExternalLaunch(RendezvousConfig.fromEnvironment(env),
                    secret == null || secret.isEmpty() ? null : secret);
        }
    }

    /**
     * Asynchronous split placement only: how many actor updates the step's rollout weights lag behind the weights it
     * trains, {@code (k - 1) - version} at step {@code k}.
     */
    public static final String ROLLOUT_VERSION_LAG = "training/rollout_version_lag";
    /** verl's name for the largest rollout-vs-training log-prob gap of a step. */
    public static final String ROLLOUT_PROBS_DIFF_MAX = "training/rollout_probs_diff_max";
    /** Safe-RLHF's cost critic: its value loss, mean values and mean returns (names after the critic's). */
    public static final String COST_VF_LOSS = "critic/cost_vf_loss";
    /** Mean cost critic value over response tokens. */
    public static final String COST_VALUES_MEAN = "critic/cost_values/mean";
    /** Mean cost return over response tokens. */
    public static final String COST_RETURNS_MEAN = "critic/cost_returns/mean";

    static final String INITIAL_VAL = "val_score_initial_bits";
    static final String LAST_VAL = "val_score_last_bits";
    /** Safe-RLHF's {@code log_lambda} as raw bits: restoring from lambda would not round-trip bit for bit. */
    static final String LOG_LAMBDA = "lagrange_log_lambda_bits";

    /** Checkpoint layout: each rank's optimiser file inside the actor's (and critic's) HF folder. */
    static String optimFile(int rank) {
        return "optim_rank_" + rank + ".safetensors";
    }

    /** Runs without checkpoints; see {@link #run(TrainConfig, Task, LlamaConfig, Map, Options, Consumer)}. */
    public static Result run(TrainConfig config, Task task, LlamaConfig model, Map<String, float[]> policy,
                             Consumer<StepMetrics> onStep) {
        return run(config, task, model, policy, Options.NONE, onStep);
    }

    /**
     * Runs {@code trainer.total_training_steps} steps from the given starting policy: this thread is controller 0
     * and drives the roles (worker groups of {@link RlhfWorker}s on embedded workers, one per rank) step by step;
     * with {@code trainer.controllers} C > 1, C - 1 more controller threads drive the other DP slices.
     *
     * @param policy whole weights of the starting policy (the SFT checkpoint), vocabulary unpadded or padded to a
     *        multiple of the training TP degree
     * @param onStep receives each step's metrics on the calling thread (record, progress)
     * @throws IllegalArgumentException if the layouts do not fit the model or the batch sizes
     * @throws IllegalStateException if the checkpoint to resume from lacks a counter (other defects: CheckpointException)
     */
    public static Result run(TrainConfig config, Task task, LlamaConfig model, Map<String, float[]> policy,
                             Options options, Consumer<StepMetrics> onStep) {
        return run(config, task, model, policy, options, onStep, null);
    }

    /**
     * As {@link #run(TrainConfig, Task, LlamaConfig, Map, Options, Consumer)}; with {@code placement.mode=auto},
     * {@code decider} (when not null) gives the run's {@link DynamicPlacement} instead of the one built from the
     * config and the cost model's predictions.
     */
    static Result run(TrainConfig config, Task task, LlamaConfig model, Map<String, float[]> policy,
                      Options options, Consumer<StepMetrics> onStep, Supplier<DynamicPlacement> decider) {
        HybridLayout layout = config.parallel().layout();
        int pad = layout.train().t();
        model.requireTensorParallel(pad);
        TrainConfig.Placement placement = config.placement();
        boolean auto = placement.mode() == PlacementMode.AUTO;
        int rolloutSize = placement.mode() != PlacementMode.COLOCATE ? placement.rolloutWorldSize() : 0;
        Shape shape = Shape.of(config, layout);
        Path tmp;
        try {
            tmp = Files.createTempDirectory("yatt-rlhf-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the loop's scratch folder: " + e.getMessage(), e);
        }
        try {
            Path policyDir = tmp.resolve("policy");
            int policyPad = policy.get("embed_tokens.weight").length == model.vocabSize() * model.hiddenSize()
                    ? 1 : pad;
            LlamaCheckpoint.save(policyDir, model, Head.LANGUAGE_MODEL, policy, policyPad);
            int controllers = config.trainer().controllers();
            if (config.trainer().backend() == Backend.SHM) {
                if (rolloutSize > 0 || auto) {
                    throw new IllegalArgumentException("split placement runs on the in-process backend only: "
                            + "trainer.backend=shm, placement.mode=" + config.placement().mode().configName());
                }
                if (config.trainer().launch() == Launch.EXTERNAL && options.external() == null) {
                    throw new IllegalArgumentException("trainer.launch=external needs the launcher's rendezvous "
                            + "(RlhfLoop.Options.withExternal; yatt train reads it from the environment)");
                }
                try (ProcessWorkers workers = config.trainer().launch() == Launch.EXTERNAL
                        ? ProcessWorkers.external(layout, options.external().rendezvous(), controllers,
                                config.trainer().controlHost(), options.external().secret(),
                                config.trainer().inlineLimitBytes())
                        : ProcessWorkers.local(config, policyDir, tmp)) {
                    try {
                        return runControllers(config, task, model, shape, workers.controllers(), workers::abort,
                                options, onStep, policyDir, tmp, decider);
                    } catch (RuntimeException | Error e) {
                        // a JVM of the run exited first: report that, not the aborted call it left behind
                        RuntimeException cause = workers.jobFailure();
                        if (cause != null) {
                            Thread.interrupted();
                            cause.addSuppressed(e);
                            throw cause;
                        }
                        throw e;
                    }
                }
            }
            try (EmbeddedWorkers workers = EmbeddedWorkers.start(layout, task, controllers, rolloutSize, auto,
                    config.trainer().inlineLimitBytes())) {
                return runControllers(config, task, model, shape, workers.controllers(), workers::abort, options,
                        onStep, policyDir, tmp, decider);
            }
        } finally {
            deleteTree(tmp);
        }
    }

    /**
     * Runs one driver per controller: controller 0 on the calling thread (it reports the steps and the result), the
     * others on threads of their own; all issue the same calls to their workers. The first controller to fail
     * (itself or through its workers) stops all: its cause is kept, every worker communicator is aborted and every
     * other controller is interrupted, so none waits out the mesh timeout; all controller threads have ended when
     * this returns or throws.
     *
     * @throws IllegalStateException with C > 1, naming the first failed controller's index, role and method (the
     *     worker group and method of a worker failure, {@code driver} and {@code -} otherwise), caused by its failure;
     *     one controller's failure is thrown as it was
     */
    private static Result runControllers(TrainConfig config, Task task, LlamaConfig model, Shape shape,
                                         List<EmbeddedWorkers.Controller> controllers, Runnable abortWorkers,
                                         Options options, Consumer<StepMetrics> onStep, Path policyDir,
                                         Path scratch, Supplier<DynamicPlacement> decider) {
        Stopper stopper = new Stopper(abortWorkers, Thread.currentThread());
        for (int i = 1; i < controllers.size(); i++) {
            EmbeddedWorkers.Controller c = controllers.get(i);
            int index = i;
            Thread t = new Thread(() -> {
                try {
                    drive(config, task, model, shape, c, options, m -> { }, policyDir, scratch, decider);
                } catch (Throwable e) {
                    stopper.fail(index, e);
                }
            }, "yatt-controller-" + i);
            t.setDaemon(true);
            stopper.others.add(t);
        }
        stopper.others.forEach(Thread::start);
        Result result = null;
        try {
            result = drive(config, task, model, shape, controllers.getFirst(), options, onStep, policyDir, scratch,
                    decider);
        } catch (Throwable e) {
            stopper.fail(0, e);
        } finally {
            stopper.firstDone();
        }
        stopper.joinOthers();
        stopper.rethrow();
        return result;
    }

    private static Result drive(TrainConfig config, Task task, LlamaConfig model, Shape shape,
                                EmbeddedWorkers.Controller c, Options options, Consumer<StepMetrics> onStep,
                                Path policyDir, Path scratch, Supplier<DynamicPlacement> decider) {
        try (Allocator allocator = Allocator.root("rlhf-driver-" + c.exchange().index())) {
            return new Driver(config, task, model, shape, c, allocator, options, onStep, c.exchange(), decider)
                    .run(policyDir, scratch.resolve("final"));
        }
    }

    /** The C controllers' shared fate: the first failure, and stopping everything when it happens. */
    private static final class Stopper {
        private final Runnable abortWorkers;
        private final Thread first;
        private final List<Thread> others = new ArrayList<>();
        private int failedIndex = -1;
        private Throwable failure;
        private boolean firstRunning = true;

        Stopper(Runnable abortWorkers, Thread first) {
            this.abortWorkers = abortWorkers;
            this.first = first;
        }

        /** Records controller {@code index}'s failure; the first one aborts the workers and the other controllers. */
        void fail(int index, Throwable e) {
            synchronized (this) {
                if (failure != null) {
                    return;
                }
                failure = e;
                failedIndex = index;
                if (firstRunning && index != 0) {
                    first.interrupt();
                }
            }
            abortWorkers.run();
            for (Thread t : others) {
                if (t != Thread.currentThread()) {
                    t.interrupt();
                }
            }
        }

        /** Controller 0 left its driver: from now on a failure does not interrupt the calling thread. */
        synchronized void firstDone() {
            firstRunning = false;
            if (failure != null && failedIndex != 0) {
                Thread.interrupted(); // the interrupt was ours, to stop controller 0
            }
        }

        void joinOthers() {
            boolean interrupted = false;
            for (Thread t : others) {
                while (t.isAlive()) {
                    try {
                        t.join();
                    } catch (InterruptedException e) {
                        interrupted = true;
                        fail(0, new IllegalStateException("interrupted while the controllers finished", e));
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        synchronized void rethrow() {
            if (failure == null) {
                return;
            }
            if (others.isEmpty()) { // one controller: its failure as it was thrown
                if (failure instanceof RuntimeException re) {
                    throw re;
                }
                if (failure instanceof Error err) {
                    throw err;
                }
            }
            String role = "driver";
            String method = "-";
            if (failure instanceof WorkerCallException w) {
                role = w.group();
                method = w.method();
            } else if (failure instanceof WorkerLostException w) {
                role = String.join(",", w.roles());
            }
            throw new IllegalStateException("controller failed: controller=" + failedIndex + ", role=" + role
                    + ", method=" + method + ": " + failure.getMessage(), failure);
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (var paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    static void deleteTree(Path root) {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the loop's scratch folder: path=" + root, e);
        }
    }

    /** Seed of sample {@code i} of step {@code step}: SplitMix64 of the trainer seed, step and index. */
    static long sampleSeed(long seed, long step, int i) {
        long z = seed * 0x9E3779B97F4A7C15L + step * 0xBF58476D1CE4E5B9L + i * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The batch shape of a step, checked against the layouts before any worker starts. */
    record Shape(int batchPrompts, int n, int samples, int promptLen, int responseLen, int replicas, int d,
                 int miniSamples, boolean critic, boolean costCritic) {

        static Shape of(TrainConfig config, HybridLayout layout) {
            int batchPrompts = config.data().trainBatchSize();
            int n = config.actorRolloutRef().rollout().n();
            int samples = batchPrompts * n;
            // split placement: the rollout ranks' replicas of p_g*t_g ranks generate
            int replicas = config.placement().mode() == PlacementMode.SPLIT
                    ? config.placement().rolloutWorldSize() / (layout.gen().tg() * layout.gen().pg())
                    : layout.worldSize() / layout.gen().tg();
            if (samples % replicas != 0) {
                throw new IllegalArgumentException("samples per step must divide over the generation replicas: "
                        + "samples=" + samples + ", replicas=" + replicas);
            }
            int controllers = config.trainer().controllers();
            if (controllers < 1 || layout.train().d() % controllers != 0) {
                throw new IllegalArgumentException("trainer.controllers must divide the training DP size: "
                        + "trainer.controllers=" + controllers + ", dp=" + layout.train().d());
            }
            if (batchPrompts % controllers != 0) {
                throw new IllegalArgumentException("data.train_batch_size must divide over the controllers: "
                        + "data.train_batch_size=" + batchPrompts + ", trainer.controllers=" + controllers);
            }
            int miniSamples = config.actorRolloutRef().actor().ppoMiniBatchSize() * n;
            int micro = config.actorRolloutRef().actor().ppoMicroBatchSize();
            if (miniSamples % micro != 0) {
                throw new IllegalArgumentException("ppo_micro_batch_size must divide ppo_mini_batch_size * rollout.n: "
                        + "ppo_micro_batch_size=" + micro + ", samples=" + miniSamples);
            }
            return new Shape(batchPrompts, n, samples, config.data().maxPromptLength(),
                    config.actorRolloutRef().rollout().responseLength(), replicas, layout.train().d(), miniSamples,
                    RlhfWorker.hasCritic(config.algorithm().advEstimator()),
                    config.algorithm().advEstimator() == AdvantageEstimator.SAFE_RLHF);
        }

        int tt() {
            return promptLen + responseLen;
        }

        /**
         * The rows training DP rank {@code dp} holds and trains on, in update order: for each mini-batch {@code u},
         * rows {@code [u*mini + dp*mini/d, u*mini + (dp+1)*mini/d)}.
         */
        int[] rowsOf(int dp) {
            int per = samples / d;
            return java.util.Arrays.copyOfRange(updateOrder(), dp * per, (dp + 1) * per);
        }

        /**
         * The order of the rows the updates train on, DP rank by DP rank: DP rank r's chunk holds, for each
         * mini-batch u, rows {@code [u*mini + r*mini/d, u*mini + (r+1)*mini/d)} ({@code RlhfWorker}'s updates take
         * their DP rank's chunk of it).
         */
        int[] updateOrder() {
            int per = miniSamples / d;
            int updates = samples / miniSamples;
            int[] order = new int[samples];
            int k = 0;
            for (int r = 0; r < d; r++) {
                for (int u = 0; u < updates; u++) {
                    for (int j = 0; j < per; j++) {
                        order[k++] = u * miniSamples + r * per + j;
                    }
                }
            }
            return order;
        }
    }

    /** The controller's side of a run: prompts, calls on the role groups, rewards, advantages, metrics. */
    private static final class Driver {
        private final TrainConfig cfg;
        private final Task task;
        private final LlamaConfig model;
        private final Shape sh;
        private final Allocator allocator;
        private final Options options;
        private final Consumer<StepMetrics> onStep;
        private final WorkerGroup actor;
        private final WorkerGroup ref;
        private final WorkerGroup critic;
        private final WorkerGroup costCritic;
        private final WorkerGroup reward;
        private final WorkerGroup rolloutGroup;
        private final boolean split;
        /** Auto placement: the trainers' colocated rollout (null otherwise), the decider and its source. */
        private final Rollout colocatedRollout;
        private final Supplier<DynamicPlacement> deciderSource;
        private DynamicPlacement decider;
        private Rollout rollout;
        /**
         * Asynchronous split: step {@code k + 1}'s generation runs on the rollout ranks while step {@code k} trains;
         * the sampler position its prompts are drawn from and the pending result, and the sampler state after the
         * current step's prompts (what a checkpoint records, since the next step's prompts are drawn ahead).
         */
        private final boolean async;
        private int firstStep;
        private PromptSampler.State aheadFrom;
        private CompletableFuture<Object> pending;
        private PromptSampler.State samplerState;
        private final int worldSize;
        private final ControlPlane plane;
        /** Safe-RLHF's multiplier (null otherwise), as the workers left it after the last step. */
        private LagrangeMultiplier lagrange;
        private final Exchange ex;

        Driver(TrainConfig cfg, Task task, LlamaConfig model, Shape sh, EmbeddedWorkers.Controller workers,
               Allocator allocator, Options options, Consumer<StepMetrics> onStep, Exchange ex,
               Supplier<DynamicPlacement> deciderSource) {
            this.ex = ex;
            this.plane = workers.plane;
            this.cfg = cfg;
            this.task = task;
            this.model = model;
            this.sh = sh;
            this.allocator = allocator;
            this.options = options;
            this.onStep = onStep;
            this.actor = workers.group("actor");
            this.ref = workers.group("ref");
            this.critic = workers.group("critic");
            this.costCritic = workers.group("cost_critic");
            this.reward = workers.group("reward");
            this.rolloutGroup = workers.group("rollout");
            this.split = cfg.placement().mode() != PlacementMode.COLOCATE;
            this.rollout = split ? null : Rollout.colocated(rolloutGroup);
            this.colocatedRollout = cfg.placement().mode() == PlacementMode.AUTO
                    ? Rollout.colocated(workers.group(EmbeddedWorkers.ROLLOUT_COLOCATED)) : null;
            this.deciderSource = deciderSource;
            this.async = cfg.placement().async();
            this.worldSize = cfg.parallel().layout().worldSize();
        }

        Result run(Path policyDir, Path finalDir) {
            // run-level choices are controller 0's, also for controllers in other processes (external launch):
            // whether to checkpoint and the checkpoint to resume from (and, per checkpoint, its staging folder)
            boolean checkpoints = ex.fromFirst(new double[] {options.store() != null ? 1 : 0})[0] != 0;
            String resumePath = ex.fromFirst(options.resumeFrom() == null ? ""
                    : options.resumeFrom().path().toAbsolutePath().toString());
            Checkpoint resume = ex.index() == 0 || resumePath.isEmpty() ? options.resumeFrom()
                    : CheckpointStore.open(Path.of(resumePath));
            TrainerState state = resume == null ? null : TrainerState.read(resume);
            actor.call("init", cfg.toYaml(), policyDir.toString(), resume == null ? "" : resume.path().toString());
            if (split) {
                // one collective over trainers and rollout ranks: both groups at once
                CompletableFuture<Object> trainers = actor.callAsync("initWeightSync");
                CompletableFuture<Object> rollouts = rolloutGroup.callAsync("init", cfg.toYaml(),
                        policyDir.toString());
                await(trainers);
                await(rollouts);
            }
            TrainConfig.Algorithm alg = cfg.algorithm();
            double klInit = state != null ? state.klCoef() : alg.klCtrl().klCoef();
            KlController kl = alg.klCtrl().type() == KlControlType.ADAPTIVE
                    ? KlController.adaptive(klInit, alg.klCtrl().targetKl(), alg.klCtrl().horizon())
                    : KlController.fixed(klInit);
            TrainConfig.SafeRlhf safe = alg.safeRlhf();
            lagrange = alg.advEstimator() != AdvantageEstimator.SAFE_RLHF ? null
                    : state != null
                    ? LagrangeMultiplier.restore(Double.longBitsToDouble(counter(state, LOG_LAMBDA, resume)),
                            safe.lagrangeLr(), safe.costLimit(), Double.MAX_VALUE)
                    : LagrangeMultiplier.create(Math.max(safe.lagrangeInit(), MIN_LAMBDA), safe.lagrangeLr(),
                            safe.costLimit(), Double.MAX_VALUE);
            PromptSampler sampler;
            double initial;
            double last;
            int first;
            if (state != null) {
                sampler = PromptSampler.restore(task.trainPrompts().size(), cfg.data().seed(), state.sampler());
                initial = Double.longBitsToDouble(counter(state, INITIAL_VAL, resume));
                last = Double.longBitsToDouble(counter(state, LAST_VAL, resume));
                first = Math.toIntExact(state.step()) + 1;
            } else {
                sampler = PromptSampler.of(task.trainPrompts().size(), cfg.data().seed());
                initial = evaluate();
                last = initial;
                first = 1;
            }
            if (colocatedRollout != null) {
                decider = deciderSource != null ? deciderSource.get() : AutoPlacement.decider(cfg, model, sh.samples(),
                        sh.critic());
                rollout = decider.current() == RuntimePlacement.SPLIT ? new SplitRollout(actor, rolloutGroup, first)
                        : colocatedRollout;
            } else if (split) {
                rollout = new SplitRollout(actor, rolloutGroup, first);
            }
            boolean switched = false;
            firstStep = first;
            int total = cfg.trainer().totalTrainingSteps();
            List<StepMetrics> rows = new ArrayList<>();
            long lastStep = first - 1;
            List<Long> stepBytes = new ArrayList<>();
            for (int step = first; step <= total; step++) {
                MetricsTracker m = MetricsTracker.create();
                long t0 = System.nanoTime();
                long bytesBefore = plane.payloadStats().totalBytes();
                plane.step(step);
                last = step(step, sampler, kl, m, last, t0);
                endStep(step);
                boolean stopAsked = ex.fromFirst(new double[] {
                    ex.index() == 0 && options.stopRequested().getAsBoolean() ? 1 : 0})[0] != 0;
                boolean stopNow = stopAsked && step < total;
                int saveFreq = cfg.trainer().saveFreq();
                if (checkpoints && ((saveFreq > 0 && step % saveFreq == 0) || step == total || stopNow)) {
                    long k0 = System.nanoTime();
                    TrainerState st = new TrainerState(step, samplerState, kl.value(),
                            lagrange == null ? 0.0 : lagrange.lambda(),
                            Map.of(INITIAL_VAL, Double.doubleToRawLongBits(initial),
                                    LAST_VAL, Double.doubleToRawLongBits(last),
                                    LOG_LAMBDA, Double.doubleToRawLongBits(
                                            lagrange == null ? 0.0 : lagrange.logLambda())));
                    // every rank writes into a staging folder beside the checkpoints (controller 0's, named to every
                    // controller), controller 0 then publishes it atomically through the store
                    Path stepStaging = Path.of(ex.fromFirst(ex.index() == 0
                            ? options.store().stagingFolder(step).toAbsolutePath().toString() : ""));
                    actor.call("saveCheckpoint", stepStaging.toString());
                    ex.barrier();
                    if (ex.index() == 0) {
                        options.store().write(step, options.meta(), folder -> {
                            copyTree(stepStaging, folder);
                            st.writeTo(folder);
                        });
                        deleteTree(stepStaging);
                    }
                    ex.barrier();
                    m.addTiming(stage(MetricNames.TIMING_SAVE_CHECKPOINT), (System.nanoTime() - k0) / 1e9);
                }
                m.addTiming(stage(MetricNames.TIMING_STEP), (System.nanoTime() - t0) / 1e9);
                stepBytes.add(plane.payloadStats().totalBytes() - bytesBefore);
                StepMetrics sm = m.commit(step);
                if (ex.index() == 0) {
                    rows.add(sm);
                    onStep.accept(sm);
                }
                if (decider != null) {
                    switched = decide(step, sm, switched);
                }
                lastStep = step;
                if (stopNow) {
                    break;
                }
            }
            if (pending != null) {
                // a stopped asynchronous run: the next step's rollout is not used
                SplitRollout.collect(await(pending)).close();
                pending = null;
            }
            if (split) {
                rolloutGroup.endStep(Long.MAX_VALUE); // a stopped asynchronous run's unused rollout
            }
            actor.call("saveActor", finalDir.toString());
            ex.barrier();
            if (ex.index() != 0) {
                return null;
            }
            Map<String, float[]> whole = LlamaCheckpoint.load(finalDir, cfg.parallel().layout().train().t())
                    .weights();
            return new Result(rows, initial, last, whole, lastStep,
                    plane.payloadStats().totalBytes(), stepBytes);
        }

        /**
         * Ends step {@code step} on the workers: each frees the references it published at or before the step that
         * no consumer pulled (the rollout ranks of an asynchronous split: the step before, as the next step's rollout
         * is already out).
         *
         * @throws IllegalStateException naming them if the step left live references: a result nobody read
         */
        private void endStep(int step) {
            List<String> left = new ArrayList<>(actor.endStep(step));
            if (split) {
                left.addAll(rolloutGroup.endStep(async ? step - 1L : step));
            }
            if (!left.isEmpty()) {
                throw new IllegalStateException("step left live references: step=" + step + ", controller="
                        + ex.index() + ", references=" + left);
            }
        }

        /**
         * Auto placement, after step {@code step}: the step's first transition after a switch to split (the new
         * endpoint's first sync) becomes the measured switch cost; the decider takes the step's stage times, its
         * decision is logged, and on a switch the next step's rollout changes (a new {@link SplitRollout} that starts
         * at the next step, or the trainers' colocated rollout). Returns whether the placement switched.
         */
        private boolean decide(int step, StepMetrics sm, boolean switchedBefore) {
            Map<String, Double> v = sm.values();
            StageTimes measured = AutoPlacement.stageTimes(v);
            if (switchedBefore && decider.current() == RuntimePlacement.SPLIT) {
                decider.recordSwitchCost(RuntimePlacement.SPLIT, measured.transitionS());
            }
            DynamicPlacement.Decision d = decider.observe(step, measured);
            options.log().accept(d.logLine());
            if (d.action() != DynamicPlacement.Action.SWITCH) {
                return false;
            }
            rollout = d.next() == RuntimePlacement.SPLIT ? new SplitRollout(actor, rolloutGroup, step + 1L)
                    : colocatedRollout;
            return true;
        }

        /**
         * This step's rollout: the one generated ahead (asynchronous split) or one generated now, drawn by the
         * rollout ranks from the sampler position {@code drawnFrom}; the caller closes it.
         */
        private DataBatch rolloutOf(int step, PromptSampler.State drawnFrom) {
            if (pending != null) {
                try {
                    return SplitRollout.collect(await(pending));
                } finally {
                    pending = null;
                }
            }
            return ((SplitRollout) rollout).generate(step, drawnFrom.epoch(), drawnFrom.position(), false);
        }

        /**
         * Split placement: step {@code step}'s rollout goes on to the trainers: the TP rank 0 of training DP rank
         * {@code d} gets rows {@code [d*S/D, (d+1)*S/D)} (a slice: for rows kept by reference, a few runs of the
         * producers' regions, so it pulls those rows and nothing else, and the controller's bytes do not grow with
         * the batch), which the trainers then pass to the ranks that hold them; every trainer gets every sample's
         * length and an equal share of ReMax's baseline rollout (one row per prompt) to score.
         */
        private void receiveRollout(int step, PromptSampler.State drawnFrom, DataBatch out, DataBatch baseline) {
            int workers = actor.size();
            HybridLayout layout = cfg.parallel().layout();
            int per = sh.samples() / sh.d();
            int prompts = sh.batchPrompts();
            int share = (prompts + workers - 1) / workers;
            List<DataBatch> views = new ArrayList<>(2 * workers);
            List<DataBatch> blocks = new ArrayList<>(workers);
            List<DataBatch> baselines = new ArrayList<>(workers);
            try (DataBatch lengths = out.select(List.of("response_length"))) {
                for (int w = 0; w < workers; w++) {
                    RankCoordinates c = layout.coordinates(w);
                    blocks.add(c.tp() == 0 && c.pp() == 0 ? out.slice(c.dp() * per, per) : null);
                    views.add(blocks.getLast());
                    int count = Math.min(share, prompts - w * share);
                    baselines.add(baseline != null && count > 0 ? baseline.slice(w * share, count) : null);
                    views.add(baselines.getLast());
                }
                actor.call("receiveRollout", java.util.Collections.nCopies(workers, (long) step),
                        java.util.Collections.nCopies(workers, drawnFrom.epoch()),
                        java.util.Collections.nCopies(workers, drawnFrom.position()), blocks,
                        java.util.Collections.nCopies(workers, lengths), baselines);
            } finally {
                for (DataBatch b : views) {
                    if (b != null) {
                        b.close();
                    }
                }
            }
        }

        /**
         * Asynchronous split, after step {@code step}'s rollout is collected and before its updates: from the
         * second step of the run on, the trainers publish version {@code step - 1} (the current actor) and the
         * rollout ranks receive it; then step {@code step + 1}'s prompts are drawn and its generation starts on the
         * rollout ranks, overlapping this step's training. Step {@code k} thus generates with version
         * {@code max(first - 1, k - 2)}.
         */
        private void generateAhead(int step, PromptSampler sampler) {
            if (step > firstStep) {
                CompletableFuture<Object> send = actor.callAsync("publishWeights", (long) step - 1);
                CompletableFuture<Object> receive = rolloutGroup.callAsync("receiveWeights", (long) step - 1);
                await(send);
                await(receive);
            }
            aheadFrom = sampler.state();
            sampler.next(sh.batchPrompts());
            // the rollout ranks draw the same prompts from the sampler position
            pending = rolloutGroup.callAsync("generateStep", (long) step + 1, aheadFrom.epoch(), aheadFrom.position(),
                    false);
        }

        /** One PPO iteration; returns the held-out reward after it (the previous one when not evaluated). */
        private double step(int step, PromptSampler sampler, KlController kl, MetricsTracker m, double lastVal,
                            long t0) {
            TrainConfig.Algorithm alg = cfg.algorithm();
            // the workers draw the step's prompts from drawnFrom; the driver's sampler only moves past them
            PromptSampler.State drawnFrom = aheadFrom != null ? aheadFrom : sampler.state();
            if (aheadFrom == null) {
                sampler.next(sh.batchPrompts());
            }
            aheadFrom = null;
            samplerState = sampler.state();
            // 1. rollout of this controller's samples in the generation layout (toGeneration -> generate ->
            // toTraining on the workers); the step's batch then stays on the trainer ranks, each holding all of it
            if (rollout instanceof Rollout.Colocated colocated) {
                Map<?, ?> first = firstReplica(colocated.group().call("generateStep", (long) step,
                        drawnFrom.epoch(), drawnFrom.position()));
                m.addTiming(stage(MetricNames.TIMING_GEN), value(first, "gen_s"));
                m.addTiming(stage(MetricNames.TIMING_RESHARD), value(first, "reshard_s"));
                m.record(MetricNames.RESHARD_BYTES, value(first, "reshard_bytes"));
            } else {
                // the rollout ranks draw the step's prompts from the sampler position, and the rows go on to the
                // trainers as they came (by reference above the inline limit): the driver reads only the first
                // replica's numbers, from the metadata
                try (DataBatch out = rolloutOf(step, drawnFrom);
                     DataBatch baseline = alg.advEstimator() == AdvantageEstimator.REMAX
                             ? ((SplitRollout) rollout).generate(step, drawnFrom.epoch(), drawnFrom.position(), true)
                             : null) {
                    m.addTiming(stage(MetricNames.TIMING_GEN), firstReplica(out, "gen_s"));
                    m.addTiming(stage(MetricNames.TIMING_RESHARD), firstReplica(out, "reshard_s"));
                    m.record(MetricNames.RESHARD_BYTES, firstReplica(out, "reshard_bytes"));
                    if (async) {
                        m.record(ROLLOUT_VERSION_LAG, (step - 1) - firstReplica(out, "weight_version"));
                    }
                    receiveRollout(step, drawnFrom, out, baseline);
                }
                if (async && step < cfg.trainer().totalTrainingSteps()) {
                    generateAhead(step, sampler);
                }
            }

            // 2. old log-probs, reference log-probs, values: each DP rank its rows, one call per role, queued at once
            long q0 = System.nanoTime();
            CompletableFuture<Object> oldF = actor.callAsync("computeLogProbs");
            CompletableFuture<Object> refF = ref.callAsync("computeRefLogProbs");
            CompletableFuture<Object> valF = sh.critic() ? critic.callAsync("computeValues") : null;
            CompletableFuture<Object> costF = sh.costCritic() ? costCritic.callAsync("computeCostValues") : null;
            await(oldF);
            await(refF);
            long q1 = System.nanoTime();
            m.addTiming(stage(MetricNames.TIMING_REF), (q1 - q0) / 1e9);
            if (valF != null) {
                await(valF);
                if (costF != null) {
                    await(costF);
                }
                m.addTiming(stage(MetricNames.TIMING_VALUES), (System.nanoTime() - q1) / 1e9);
            }

            // 3. scores (reward role), then rewards and advantages on every trainer rank
            long a0 = System.nanoTime();
            reward.call("computeScores");
            Map<?, ?> adv = (Map<?, ?>) ((List<?>) actor.call("computeAdvantages", kl.value(),
                    lagrange == null ? 0.0 : lagrange.logLambda())).getFirst();
            if (alg.useKlInReward()) {
                double currentKl = value(adv, "current_kl");
                // one update a step with the batch's responses as its steps, as verl's apply_kl_penalty (the
                // workers penalised with a fixed copy of the coefficient)
                m.record(MetricNames.REWARD_KL_PENALTY, currentKl);
                m.record(MetricNames.REWARD_KL_PENALTY_COEFF, kl.value());
                kl.update(currentKl, sh.samples());
            }
            if (lagrange != null) {
                TrainConfig.SafeRlhf safe = alg.safeRlhf();
                lagrange = LagrangeMultiplier.restore(value(adv, "log_lambda"), safe.lagrangeLr(), safe.costLimit(),
                        Double.MAX_VALUE);
                m.record(MetricNames.LAGRANGE_MULTIPLIER, value(adv, "lambda"));
            }
            m.addTiming(stage(MetricNames.TIMING_ADV), (System.nanoTime() - a0) / 1e9);

            // 4. critic and actor updates: each DP rank trains on its rows of every mini-batch
            TrainConfig.Actor actorCfg = cfg.actorRolloutRef().actor();
            int updates = (sh.samples() / sh.miniSamples()) * actorCfg.ppoEpochs();
            double vfLoss = 0;
            double costVfLoss = 0;
            if (sh.critic()) {
                long c0 = System.nanoTime();
                vfLoss = value(firstResult(critic.call("updateCritic")), "vf_loss");
                if (sh.costCritic()) {
                    costVfLoss = value(firstResult(costCritic.call("updateCostCritic")), "vf_loss");
                }
                m.addTiming(stage(MetricNames.TIMING_UPDATE_CRITIC), (System.nanoTime() - c0) / 1e9);
            }
            long u0 = System.nanoTime();
            Map<?, ?> am = firstResult(actor.call("updateActor"));
            m.addTiming(stage(MetricNames.TIMING_UPDATE_ACTOR), (System.nanoTime() - u0) / 1e9);
            for (String suffix : new String[] {"mean", "max", "min"}) {
                m.record("critic/score/" + suffix, value(adv, "critic/score/" + suffix));
            }
            m.record(MetricNames.REWARDS_MEAN, value(adv, MetricNames.REWARDS_MEAN));
            m.record(MetricNames.ADVANTAGES_MEAN, value(adv, MetricNames.ADVANTAGES_MEAN));
            m.record(MetricNames.STEP_BATCH_BYTES, value(adv, MetricNames.STEP_BATCH_BYTES));
            m.record(MetricNames.PG_LOSS, value(am, "pg_loss") / updates);
            m.record(MetricNames.PG_CLIPFRAC, value(am, "pg_clipfrac") / updates);
            m.record(MetricNames.PPO_KL, value(am, "ppo_kl") / updates);
            m.record(MetricNames.ENTROPY, value(am, "entropy") / updates);
            m.record(MetricNames.GRAD_NORM, value(am, "grad_norm") / updates);
            m.record(MetricNames.LR, value(am, "lr"));
            if (actorCfg.useKlLoss()) {
                m.record(MetricNames.KL_LOSS, value(am, "kl_loss") / updates);
                m.record(MetricNames.KL_COEF, actorCfg.klLossCoef());
            }
            if (sh.critic()) {
                m.record(MetricNames.VF_LOSS, vfLoss / updates);
                m.record(MetricNames.VALUES_MEAN, value(adv, MetricNames.VALUES_MEAN));
                m.record(MetricNames.RETURNS_MEAN, value(adv, MetricNames.RETURNS_MEAN));
            }
            if (sh.costCritic()) {
                m.record(COST_VF_LOSS, costVfLoss / updates);
                m.record(COST_VALUES_MEAN, value(adv, COST_VALUES_MEAN));
                m.record(COST_RETURNS_MEAN, value(adv, COST_RETURNS_MEAN));
            }
            if (task.hasCost()) {
                m.record(MetricNames.COST_MEAN, value(adv, MetricNames.COST_MEAN));
            }
            for (String suffix : new String[] {"mean", "max", "min"}) {
                m.record("response_length/" + suffix, value(adv, "response_length/" + suffix));
            }
            m.record(ROLLOUT_PROBS_DIFF_MAX, value(adv, ROLLOUT_PROBS_DIFF_MAX));
            double tokensTotal = value(adv, MetricNames.TOTAL_NUM_TOKENS);
            m.record(MetricNames.TOTAL_NUM_TOKENS, tokensTotal);
            double stepS = (System.nanoTime() - t0) / 1e9;
            m.record(MetricNames.THROUGHPUT, tokensTotal / stepS / worldSize);
            int testFreq = cfg.trainer().testFreq();
            double last = lastVal;
            if ((testFreq > 0 && step % testFreq == 0) || step == cfg.trainer().totalTrainingSteps()) {
                long e0 = System.nanoTime();
                last = evaluate();
                m.record(MetricNames.VAL_SCORE_MEAN, last);
                m.addTiming(stage(MetricNames.TIMING_TESTING), (System.nanoTime() - e0) / 1e9);
            }
            return last;
        }

        /** The timings of {@code generateStep} from the controller's first replica's generation TP rank 0. */
        private static Map<?, ?> firstReplica(Object results) {
            for (Object r : (List<?>) results) {
                if (r instanceof Map<?, ?> map && value(map, "first") == 1.0) {
                    return map;
                }
            }
            throw new IllegalStateException("no worker reported the first replica's timings: results=" + results);
        }

        /** Split: the first generation replica's number {@code name} of a rollout result (its metadata). */
        private static double firstReplica(DataBatch rollout, String name) {
            if (!(rollout.metadata().get(SplitRolloutRank.timingKey(name, 0)) instanceof Double v)) {
                throw new IllegalStateException("rollout result lacks the first replica's number: key="
                        + SplitRolloutRank.timingKey(name, 0) + ", metadata=" + rollout.metadata().keySet());
            }
            return v;
        }

        /** The result of the controller's first worker (its first DP rank's collect rank) of a ONE_TO_ALL call. */
        private static Map<?, ?> firstResult(Object results) {
            return (Map<?, ?>) ((List<?>) results).getFirst();
        }

        private static double value(Map<?, ?> result, String key) {
            if (!(result.get(key) instanceof Double v)) {
                throw new IllegalStateException("worker result lacks a value: key=" + key + ", keys="
                        + result.keySet());
            }
            return v;
        }

        /** Held-out reward from rank 0 (controller 0's first worker), the same on every controller. */
        private double evaluate() {
            double v = (Double) ((List<?>) actor.call("evaluate")).getFirst();
            return ex.fromFirst(new double[] {v})[0];
        }

        /** The result of a queued call; interruptible, so a failed controller elsewhere stops this one. */
        private static Object await(CompletableFuture<Object> f) {
            try {
                return f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for a queued call", e);
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                throw new IllegalStateException("queued call failed: " + e.getCause(), e.getCause());
            }
        }

        private static long counter(TrainerState state, String name, Checkpoint from) {
            Long v = state.counters().get(name);
            if (v == null) {
                throw new IllegalStateException("trainer state lacks a counter: path=" + from.path() + ", counter="
                        + name);
            }
            return v;
        }
    }

    static int[] permute(int[] rows, int[] order, int cols) {
        int[] out = new int[order.length * cols];
        for (int k = 0; k < order.length; k++) {
            System.arraycopy(rows, order[k] * cols, out, k * cols, cols);
        }
        return out;
    }

    static float[] permute(float[] rows, int[] order, int cols) {
        float[] out = new float[order.length * cols];
        for (int k = 0; k < order.length; k++) {
            System.arraycopy(rows, order[k] * cols, out, k * cols, cols);
        }
        return out;
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
    static BatchTensor respView(float[] full, int count, int tt, int resp) {
        int p = tt - resp;
        float[] out = new float[count * resp];
        for (int i = 0; i < count; i++) {
            for (int j = 0; j < resp; j++) {
                out[i * resp + j] = full[i * tt + p + j - 1];
            }
        }
        return BatchTensor.of(count, resp, out);
    }

    static float[] toFull(BatchTensor grad, int count, int tt, double scale) {
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

    static BatchTensor rows(BatchTensor x, int from, int count) {
        float[] out = new float[count * x.seq()];
        float[] all = x.toArray();
        System.arraycopy(all, from * x.seq(), out, 0, count * x.seq());
        return BatchTensor.of(count, x.seq(), out);
    }

    static double maskedMean(BatchTensor x, BatchTensor mask) {
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
}
