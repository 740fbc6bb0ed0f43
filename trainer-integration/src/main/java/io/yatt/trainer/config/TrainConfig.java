package io.yatt.trainer.config;

import io.yatt.hybrid.HybridLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The resolved configuration of {@code yatt train}, one record per section of the YAML file; key names follow verl's
 * {@code ppo_trainer.yaml} where verl has the key. Every instance is validated on construction (ranges and
 * cross-field rules), so holding one means it can be used. Immutable and thread-safe.
 *
 * @param data prompts: the task, its sizes and seed
 * @param actorRolloutRef the policy model, its PPO update and its rollout
 * @param critic the value model's optimiser and value clipping
 * @param algorithm the advantage estimator and KL / Lagrange settings
 * @param trainer steps, frequencies, the run's name and folder, resume, controllers and backend
 * @param parallel the world size and the training and generation layouts
 * @param placement colocated or split roles
 */
public record TrainConfig(
        Data data,
        ActorRolloutRef actorRolloutRef,
        Critic critic,
        Algorithm algorithm,
        Trainer trainer,
        Parallel parallel,
        Placement placement) {

    /**
     * @throws ConfigException if a value is out of range or two values do not fit together, naming the keys and
     *         values
     */
    public TrainConfig {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(actorRolloutRef, "actorRolloutRef");
        Objects.requireNonNull(critic, "critic");
        Objects.requireNonNull(algorithm, "algorithm");
        Objects.requireNonNull(trainer, "trainer");
        Objects.requireNonNull(parallel, "parallel");
        Objects.requireNonNull(placement, "placement");
        ConfigValidation.validate(data, actorRolloutRef, critic, algorithm, trainer, parallel, placement);
    }

    /** The embedded default: every key at its {@link ConfigDefaults} value. */
    public static TrainConfig defaults() {
        return ConfigSchema.build(ConfigSchema.defaultValues());
    }

    /**
     * Loads a YAML text and then applies dotted {@code key=value} overrides in order.
     *
     * @param yaml the YAML document (empty for the defaults); keys not given keep their defaults
     * @param overrides e.g. {@code algorithm.adv_estimator=grpo}
     * @throws ConfigException on malformed YAML, an unknown key (naming the closest valid key), an ill-typed value
     *         (naming key, value and the expected type) or a failed validation rule
     */
    public static TrainConfig load(String yaml, List<String> overrides) {
        return ConfigLoader.load(yaml, overrides);
    }

    /**
     * Reads a YAML file and applies overrides, see {@link #load(String, List)}.
     *
     * @throws ConfigException as {@link #load(String, List)}, or if the file cannot be read (naming the path)
     */
    public static TrainConfig load(Path yamlFile, List<String> overrides) {
        String text;
        try {
            text = Files.readString(yamlFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException("cannot read config file: path=" + yamlFile + ", error=" + e.getMessage(), e);
        }
        return ConfigLoader.load(text, overrides);
    }

    /** Applies overrides to this config, see {@link #load(String, List)}. */
    public TrainConfig withOverrides(List<String> overrides) {
        return ConfigLoader.apply(ConfigSchema.values(this), overrides);
    }

    /** The full resolved config as YAML, every key written; {@link #load(String, List)} reads it back equal. */
    public String toYaml() {
        return ConfigLoader.dump(this);
    }

    /** Value of one dotted key, e.g. {@code value("algorithm.gamma")} is a {@code Double}; choices are strings. */
    public Object value(String key) {
        return ConfigSchema.values(this).get(ConfigSchema.requireKey(key).name());
    }

    /**
     * @param task {@code addition}, {@code sort} or {@code custom}
     * @param trainFiles the prompts JSONL file of a custom task, empty otherwise
     * @param rewardClass the reward class of a custom task, empty otherwise
     * @param costClass the cost class of a custom task under Safe-RLHF, empty otherwise
     * @param trainSize training prompts generated (or kept from the file)
     * @param valSize held-out prompts
     * @param trainBatchSize prompts per step
     * @param maxPromptLength prompt tokens at most, BOS included
     * @param seed seed of prompt generation, the split and the sampler's order
     */
    public record Data(TaskKind task, String trainFiles, String rewardClass, String costClass, int trainSize,
            int valSize, int trainBatchSize, int maxPromptLength, int seed) {
    }

    /**
     * Sizes of the decoder (Llama config names); the critic uses the same sizes.
     *
     * @param hiddenSize model width
     * @param numHiddenLayers decoder layers
     * @param numAttentionHeads query heads
     * @param numKeyValueHeads key/value heads (grouped-query attention)
     * @param intermediateSize MLP width
     */
    public record Model(int hiddenSize, int numHiddenLayers, int numAttentionHeads, int numKeyValueHeads,
            int intermediateSize) {
    }

    /**
     * AdamW and its schedule.
     *
     * @param lr peak learning rate
     * @param weightDecay decoupled weight decay
     * @param lrWarmupSteps linear warm-up steps from 0 to {@code lr}
     * @param warmupStyle the schedule after warm-up
     * @param minLrRatio the floor of the cosine schedule as a fraction of {@code lr}
     */
    public record Optim(double lr, double weightDecay, int lrWarmupSteps, WarmupStyle warmupStyle,
            double minLrRatio) {

        /**
         * The learning rate of optimiser step {@code step} (0-based) of {@code totalSteps}, with verl's schedules:
         * {@code constant} rises linearly from 0 over the warm-up ({@code lr * step / warmup}) and then stays at
         * {@code lr}; {@code cosine} rises linearly from {@code min_lr_ratio * lr} to {@code lr} over the warm-up, then
         * follows {@code lr * max(0, (1 - m)/2 * cos(pi * p) + (1 + m)/2)} with {@code p} the fraction of the
         * remaining steps done and {@code m = min_lr_ratio}.
         *
         * @throws IllegalArgumentException if {@code step < 0} or {@code totalSteps < 1}
         */
        public double lrAt(long step, long totalSteps) {
            if (step < 0 || totalSteps < 1) {
                throw new IllegalArgumentException("learning-rate step outside the schedule: step=" + step
                        + ", totalSteps=" + totalSteps);
            }
            double warmup = Math.max(1, lrWarmupSteps);
            return switch (warmupStyle) {
                case CONSTANT -> step < lrWarmupSteps ? lr * step / warmup : lr;
                case COSINE -> {
                    if (step < lrWarmupSteps) {
                        yield lr * (minLrRatio + (1.0 - minLrRatio) * step / warmup);
                    }
                    double progress = (double) (step - lrWarmupSteps) / Math.max(1, totalSteps - lrWarmupSteps);
                    double x = Math.cos(Math.PI * progress);
                    yield lr * Math.max(0.0, x * (1.0 - minLrRatio) * 0.5 + (1.0 + minLrRatio) * 0.5);
                }
            };
        }
    }

    /**
     * The policy update.
     *
     * @param optim optimiser
     * @param gradClip global gradient-norm clip
     * @param ppoEpochs passes over each batch
     * @param ppoMiniBatchSize prompts per optimiser step (multiplied by {@code rollout.n} samples)
     * @param ppoMicroBatchSize samples per forward/backward over all data-parallel ranks (gradient accumulation)
     * @param clipRatioLow lower PPO clip {@code 1 - low}
     * @param clipRatioHigh upper PPO clip {@code 1 + high}
     * @param clipRatioC dual-clip bound for negative advantages
     * @param entropyCoeff entropy bonus
     * @param lossAggMode token loss aggregation
     * @param useKlLoss KL to the reference as a loss term (GRPO style)
     * @param klLossCoef its coefficient
     * @param klLossType its estimator
     */
    public record Actor(Optim optim, double gradClip, int ppoEpochs, int ppoMiniBatchSize, int ppoMicroBatchSize,
            double clipRatioLow, double clipRatioHigh, double clipRatioC, double entropyCoeff,
            LossAggMode lossAggMode, boolean useKlLoss, double klLossCoef, KlPenalty klLossType) {
    }

    /**
     * Sampling.
     *
     * @param n samples per prompt
     * @param temperature softmax temperature
     * @param topK keep the k most likely tokens, -1 for all
     * @param topP nucleus mass
     * @param responseLength response tokens at most, EOS included
     * @param maxNumSeqs sequences one generation pass holds: a replica generates its rows in passes of at most this
     *        many, so its KV cache and activations are bounded by it
     */
    public record Rollout(int n, double temperature, int topK, double topP, int responseLength, int maxNumSeqs) {
    }

    /**
     * The actor, its rollout and the reference (verl's {@code actor_rollout_ref}).
     *
     * @param model model sizes
     * @param actor policy update
     * @param rollout sampling
     */
    public record ActorRolloutRef(Model model, Actor actor, Rollout rollout) {
    }

    /**
     * The value model.
     *
     * @param optim optimiser
     * @param gradClip global gradient-norm clip
     * @param cliprangeValue value clipping around the old values
     */
    public record Critic(Optim optim, double gradClip, double cliprangeValue) {
    }

    /**
     * The KL coefficient controller for KL in the reward.
     *
     * @param type fixed or adaptive
     * @param klCoef the (initial) coefficient
     * @param targetKl the adaptive controller's target
     * @param horizon the adaptive controller's horizon in samples
     */
    public record KlCtrl(KlControlType type, double klCoef, double targetKl, int horizon) {
    }

    /**
     * Safe-RLHF's Lagrange multiplier for the cost constraint {@code E[cost] <= costLimit}.
     *
     * @param lagrangeInit initial multiplier, at least 0
     * @param lagrangeLr multiplier step size
     * @param costLimit the cost budget per response
     */
    public record SafeRlhf(double lagrangeInit, double lagrangeLr, double costLimit) {
    }

    /**
     * Advantage estimation and rewards.
     *
     * @param advEstimator the algorithm
     * @param gamma discount
     * @param lam GAE lambda
     * @param normAdvByStdInGrpo divide GRPO advantages by the group's standard deviation
     * @param useKlInReward subtract a KL penalty from the token rewards
     * @param klPenalty its estimator
     * @param klCtrl its coefficient controller
     * @param safeRlhf the Lagrange multiplier settings
     */
    public record Algorithm(AdvantageEstimator advEstimator, double gamma, double lam, boolean normAdvByStdInGrpo,
            boolean useKlInReward, KlPenalty klPenalty, KlCtrl klCtrl, SafeRlhf safeRlhf) {
    }

    /**
     * The run.
     *
     * @param totalTrainingSteps RL steps
     * @param saveFreq checkpoint every this many steps (and at the end), -1 for only at the end
     * @param testFreq held-out evaluation every this many steps, -1 for none
     * @param plotFreq rewrite the PNG plots every this many steps (and at the end)
     * @param experimentName the run's folder name under {@code runsDir}
     * @param runsDir folder of all runs
     * @param seed seed of model initialisation and sampling
     * @param resumeMode auto, resume_path or disable
     * @param resumeFromPath the checkpoint folder for {@code resume_path}
     * @param controllers parallel controllers C, each owning a slice of the prompts
     * @param backend in-process threads or one process per rank over shm
     * @param inlineLimitBytes largest tensor a worker result or controller argument carries inline; larger ones travel
     *        as references
     * @param launch who starts the worker JVMs of the shm backend: {@code yatt train} or the cluster's launcher
     * @param controlHost the address the controller's control plane binds with {@code launch=external}
     * @param jvmOptions extra options (whitespace-separated) of every JVM {@code yatt train} starts with {@code
     *        backend=shm launch=local}: the worker JVMs and the other controllers' JVMs
     */
    public record Trainer(int totalTrainingSteps, int saveFreq, int testFreq, int plotFreq, String experimentName,
            String runsDir, int seed, ResumeMode resumeMode, String resumeFromPath, int controllers,
            Backend backend, int inlineLimitBytes, Launch launch, String controlHost, String jvmOptions) {

        /** {@link #jvmOptions()} split on whitespace; empty for none. */
        public List<String> jvmOptionList() {
            return jvmOptions.isBlank() ? List.of() : List.of(jvmOptions.strip().split("\\s+"));
        }
    }

    /**
     * Ranks and layouts.
     *
     * @param worldSize ranks in all
     * @param training training layout {@code p-t-d}
     * @param generation generation layout {@code p_g-t_g-d_g-d} (or {@code p_g-t_g-d_g})
     */
    public record Parallel(int worldSize, String training, String generation) {

        /** The validated pair of layouts. */
        public HybridLayout layout() {
            return HybridLayout.parse(training, generation);
        }
    }

    /**
     * Role placement.
     *
     * @param mode colocate, split or auto
     * @param rolloutWorldSize ranks of the rollout alone in split and auto mode, 0 when colocated
     * @param async whether a split rollout runs one step off-policy, overlapping training
     * @param auto the dynamic placement decision of auto mode
     */
    public record Placement(PlacementMode mode, int rolloutWorldSize, boolean async, Auto auto) {

        /** Colocated or split, synchronous, with the default auto settings. */
        public Placement(PlacementMode mode, int rolloutWorldSize) {
            this(mode, rolloutWorldSize, ConfigDefaults.PLACEMENT_ASYNC, Auto.DEFAULTS);
        }
    }

    /**
     * Settings of {@code placement.mode=auto} ({@code io.yatt.controller.placement.DynamicPlacement.Settings}).
     *
     * @param windowIterations measured iterations averaged per decision
     * @param patience favourable decisions in a row before a switch
     * @param minRelativeGain predicted improvement required, as a fraction of the current iteration
     * @param horizonIterations iterations over which a switch must pay for its cost
     */
    public record Auto(int windowIterations, int patience, double minRelativeGain, int horizonIterations) {

        /** The defaults of {@link ConfigDefaults}. */
        public static final Auto DEFAULTS = new Auto(ConfigDefaults.AUTO_WINDOW_ITERATIONS,
                ConfigDefaults.AUTO_PATIENCE, ConfigDefaults.AUTO_MIN_RELATIVE_GAIN,
                ConfigDefaults.AUTO_HORIZON_ITERATIONS);
    }
}
