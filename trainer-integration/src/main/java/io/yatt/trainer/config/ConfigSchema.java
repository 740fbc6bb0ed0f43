package io.yatt.trainer.config;

import static io.yatt.trainer.config.ConfigDefaults.*;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Every config key in file order, with its type, default and accessor: the one table that loading, overriding,
 * validation messages and serialising share. Built once; no reflection.
 */
final class ConfigSchema {

    /**
     * One leaf key.
     *
     * @param name dotted name, e.g. {@code algorithm.kl_ctrl.kl_coef}
     * @param type its type
     * @param defaultValue normalised default
     * @param getter reads the key from a config
     * @param meaning one line for the docs
     */
    record Key(String name, ValueType type, Object defaultValue, Function<TrainConfig, Object> getter,
            String meaning) {
    }

    private static final ValueType INT = new ValueType.IntegerType();
    private static final ValueType NUM = new ValueType.NumberType();
    private static final ValueType BOOL = new ValueType.BooleanType();
    private static final ValueType STR = new ValueType.StringType();

    private static final List<Key> KEYS;
    private static final Map<String, Key> BY_NAME;
    private static final List<String> SECTIONS;

    static {
        List<Key> k = new ArrayList<>();
        // data
        k.add(choice("data.task", TaskKind.values(), TASK, c -> c.data().task(),
                "bundled generated task (addition, sort) or custom (prompts JSONL + reward class)"));
        k.add(new Key("data.train_files", STR, TRAIN_FILES, c -> c.data().trainFiles(),
                "prompts JSONL file of a custom task"));
        k.add(new Key("data.reward_class", STR, REWARD_CLASS, c -> c.data().rewardClass(),
                "RewardFunction class of a custom task"));
        k.add(new Key("data.cost_class", STR, COST_CLASS, c -> c.data().costClass(),
                "CostFunction class of a custom task (safe_rlhf)"));
        k.add(new Key("data.train_size", INT, TRAIN_SIZE, c -> c.data().trainSize(), "training prompts"));
        k.add(new Key("data.val_size", INT, VAL_SIZE, c -> c.data().valSize(), "held-out prompts"));
        k.add(new Key("data.train_batch_size", INT, TRAIN_BATCH_SIZE, c -> c.data().trainBatchSize(),
                "prompts per step"));
        k.add(new Key("data.max_prompt_length", INT, MAX_PROMPT_LENGTH, c -> c.data().maxPromptLength(),
                "prompt tokens at most, BOS included"));
        k.add(new Key("data.seed", INT, DATA_SEED, c -> c.data().seed(),
                "seed of prompt generation, split and sampling order"));
        // actor_rollout_ref.model
        k.add(new Key("actor_rollout_ref.model.hidden_size", INT, HIDDEN_SIZE,
                c -> c.actorRolloutRef().model().hiddenSize(), "model width"));
        k.add(new Key("actor_rollout_ref.model.num_hidden_layers", INT, NUM_HIDDEN_LAYERS,
                c -> c.actorRolloutRef().model().numHiddenLayers(), "decoder layers"));
        k.add(new Key("actor_rollout_ref.model.num_attention_heads", INT, NUM_ATTENTION_HEADS,
                c -> c.actorRolloutRef().model().numAttentionHeads(), "query heads"));
        k.add(new Key("actor_rollout_ref.model.num_key_value_heads", INT, NUM_KEY_VALUE_HEADS,
                c -> c.actorRolloutRef().model().numKeyValueHeads(), "key/value heads"));
        k.add(new Key("actor_rollout_ref.model.intermediate_size", INT, INTERMEDIATE_SIZE,
                c -> c.actorRolloutRef().model().intermediateSize(), "MLP width"));
        // actor_rollout_ref.actor
        optim(k, "actor_rollout_ref.actor.optim", ACTOR_LR, c -> c.actorRolloutRef().actor().optim());
        k.add(new Key("actor_rollout_ref.actor.grad_clip", NUM, GRAD_CLIP,
                c -> c.actorRolloutRef().actor().gradClip(), "global gradient-norm clip"));
        k.add(new Key("actor_rollout_ref.actor.ppo_epochs", INT, PPO_EPOCHS,
                c -> c.actorRolloutRef().actor().ppoEpochs(), "passes over each batch"));
        k.add(new Key("actor_rollout_ref.actor.ppo_mini_batch_size", INT, PPO_MINI_BATCH_SIZE,
                c -> c.actorRolloutRef().actor().ppoMiniBatchSize(), "prompts per optimiser step"));
        k.add(new Key("actor_rollout_ref.actor.ppo_micro_batch_size", INT, PPO_MICRO_BATCH_SIZE,
                c -> c.actorRolloutRef().actor().ppoMicroBatchSize(),
                "samples per forward/backward over all data-parallel ranks"));
        k.add(new Key("actor_rollout_ref.actor.clip_ratio_low", NUM, CLIP_RATIO_LOW,
                c -> c.actorRolloutRef().actor().clipRatioLow(), "lower PPO clip (1 - low)"));
        k.add(new Key("actor_rollout_ref.actor.clip_ratio_high", NUM, CLIP_RATIO_HIGH,
                c -> c.actorRolloutRef().actor().clipRatioHigh(), "upper PPO clip (1 + high)"));
        k.add(new Key("actor_rollout_ref.actor.clip_ratio_c", NUM, CLIP_RATIO_C,
                c -> c.actorRolloutRef().actor().clipRatioC(), "dual-clip bound for negative advantages"));
        k.add(new Key("actor_rollout_ref.actor.entropy_coeff", NUM, ENTROPY_COEFF,
                c -> c.actorRolloutRef().actor().entropyCoeff(), "entropy bonus"));
        k.add(choice("actor_rollout_ref.actor.loss_agg_mode", LossAggMode.values(), LOSS_AGG_MODE,
                c -> c.actorRolloutRef().actor().lossAggMode(), "token loss aggregation"));
        k.add(new Key("actor_rollout_ref.actor.use_kl_loss", BOOL, USE_KL_LOSS,
                c -> c.actorRolloutRef().actor().useKlLoss(), "KL to the reference as a loss term"));
        k.add(new Key("actor_rollout_ref.actor.kl_loss_coef", NUM, KL_LOSS_COEF,
                c -> c.actorRolloutRef().actor().klLossCoef(), "KL loss coefficient"));
        k.add(choice("actor_rollout_ref.actor.kl_loss_type", KlPenalty.values(), KL_LOSS_TYPE,
                c -> c.actorRolloutRef().actor().klLossType(), "KL loss estimator"));
        // actor_rollout_ref.rollout
        k.add(new Key("actor_rollout_ref.rollout.n", INT, ROLLOUT_N, c -> c.actorRolloutRef().rollout().n(),
                "samples per prompt"));
        k.add(new Key("actor_rollout_ref.rollout.temperature", NUM, TEMPERATURE,
                c -> c.actorRolloutRef().rollout().temperature(), "sampling temperature"));
        k.add(new Key("actor_rollout_ref.rollout.top_k", INT, TOP_K_DISABLED,
                c -> c.actorRolloutRef().rollout().topK(), "keep the k most likely tokens, -1 for all"));
        k.add(new Key("actor_rollout_ref.rollout.top_p", NUM, TOP_P, c -> c.actorRolloutRef().rollout().topP(),
                "nucleus mass"));
        k.add(new Key("actor_rollout_ref.rollout.response_length", INT, RESPONSE_LENGTH,
                c -> c.actorRolloutRef().rollout().responseLength(), "response tokens at most, EOS included"));
        k.add(new Key("actor_rollout_ref.rollout.max_num_seqs", INT, MAX_NUM_SEQS,
                c -> c.actorRolloutRef().rollout().maxNumSeqs(), "sequences one generation pass holds (KV cache)"));
        // critic
        optim(k, "critic.optim", CRITIC_LR, c -> c.critic().optim());
        k.add(new Key("critic.grad_clip", NUM, GRAD_CLIP, c -> c.critic().gradClip(), "global gradient-norm clip"));
        k.add(new Key("critic.cliprange_value", NUM, CLIPRANGE_VALUE, c -> c.critic().cliprangeValue(),
                "value clipping around the old values"));
        // algorithm
        k.add(choice("algorithm.adv_estimator", AdvantageEstimator.values(), ADV_ESTIMATOR,
                c -> c.algorithm().advEstimator(), "advantage estimator: the algorithm"));
        k.add(new Key("algorithm.gamma", NUM, GAMMA, c -> c.algorithm().gamma(), "discount"));
        k.add(new Key("algorithm.lam", NUM, LAM, c -> c.algorithm().lam(), "GAE lambda"));
        k.add(new Key("algorithm.norm_adv_by_std_in_grpo", BOOL, NORM_ADV_BY_STD_IN_GRPO,
                c -> c.algorithm().normAdvByStdInGrpo(), "divide GRPO advantages by the group std"));
        k.add(new Key("algorithm.use_kl_in_reward", BOOL, USE_KL_IN_REWARD, c -> c.algorithm().useKlInReward(),
                "subtract a KL penalty from the token rewards"));
        k.add(choice("algorithm.kl_penalty", KlPenalty.values(), KL_PENALTY, c -> c.algorithm().klPenalty(),
                "KL-in-reward estimator"));
        k.add(choice("algorithm.kl_ctrl.type", KlControlType.values(), KL_CTRL_TYPE,
                c -> c.algorithm().klCtrl().type(), "KL coefficient controller"));
        k.add(new Key("algorithm.kl_ctrl.kl_coef", NUM, KL_COEF, c -> c.algorithm().klCtrl().klCoef(),
                "(initial) KL coefficient"));
        k.add(new Key("algorithm.kl_ctrl.target_kl", NUM, TARGET_KL, c -> c.algorithm().klCtrl().targetKl(),
                "adaptive controller's target KL"));
        k.add(new Key("algorithm.kl_ctrl.horizon", INT, KL_HORIZON_STEPS, c -> c.algorithm().klCtrl().horizon(),
                "adaptive controller's horizon"));
        k.add(new Key("algorithm.safe_rlhf.lagrange_init", NUM, LAGRANGE_INIT,
                c -> c.algorithm().safeRlhf().lagrangeInit(), "initial Lagrange multiplier"));
        k.add(new Key("algorithm.safe_rlhf.lagrange_lr", NUM, LAGRANGE_LR,
                c -> c.algorithm().safeRlhf().lagrangeLr(), "Lagrange multiplier step size"));
        k.add(new Key("algorithm.safe_rlhf.cost_limit", NUM, COST_LIMIT, c -> c.algorithm().safeRlhf().costLimit(),
                "cost budget per response"));
        // trainer
        k.add(new Key("trainer.total_training_steps", INT, TOTAL_TRAINING_STEPS,
                c -> c.trainer().totalTrainingSteps(), "RL steps"));
        k.add(new Key("trainer.save_freq", INT, SAVE_FREQ_STEPS, c -> c.trainer().saveFreq(),
                "checkpoint every k steps and at the end, -1 for the end only"));
        k.add(new Key("trainer.test_freq", INT, TEST_FREQ_STEPS, c -> c.trainer().testFreq(),
                "held-out evaluation every k steps, -1 for none"));
        k.add(new Key("trainer.plot_freq", INT, PLOT_FREQ_STEPS, c -> c.trainer().plotFreq(),
                "rewrite the PNG plots every k steps and at the end"));
        k.add(new Key("trainer.experiment_name", STR, EXPERIMENT_NAME, c -> c.trainer().experimentName(),
                "the run's folder name"));
        k.add(new Key("trainer.runs_dir", STR, RUNS_DIR, c -> c.trainer().runsDir(), "folder of all runs"));
        k.add(new Key("trainer.seed", INT, TRAINER_SEED, c -> c.trainer().seed(),
                "seed of initialisation and sampling"));
        k.add(choice("trainer.resume_mode", ResumeMode.values(), RESUME_MODE, c -> c.trainer().resumeMode(),
                "auto (latest valid checkpoint of the run), resume_path or disable"));
        k.add(new Key("trainer.resume_from_path", STR, RESUME_FROM_PATH, c -> c.trainer().resumeFromPath(),
                "checkpoint folder for resume_path"));
        k.add(new Key("trainer.controllers", INT, CONTROLLERS, c -> c.trainer().controllers(),
                "parallel controllers C"));
        k.add(choice("trainer.backend", Backend.values(), BACKEND, c -> c.trainer().backend(),
                "in-process threads or one process per rank over shm"));
        k.add(new Key("trainer.inline_limit_bytes", INT, INLINE_LIMIT_BYTES, c -> c.trainer().inlineLimitBytes(),
                "largest tensor a worker result or controller argument carries inline; larger ones travel by "
                        + "reference"));
        k.add(choice("trainer.launch", Launch.values(), LAUNCH, c -> c.trainer().launch(),
                "shm worker JVMs started by yatt train (local) or by torchrun/Slurm/Open MPI (external)"));
        k.add(new Key("trainer.control_host", STR, CONTROL_HOST, c -> c.trainer().controlHost(),
                "address the controller binds with launch=external (non-loopback: YATT_CONTROLLER_SECRET)"));
        k.add(new Key("trainer.jvm_options", STR, JVM_OPTIONS, c -> c.trainer().jvmOptions(),
                "extra options of the worker and controller JVMs yatt train starts (launch=local), e.g. -Xmx8g"));
        // parallel and placement
        k.add(new Key("parallel.world_size", INT, WORLD_SIZE, c -> c.parallel().worldSize(), "ranks in all"));
        k.add(new Key("parallel.training", STR, TRAINING_LAYOUT, c -> c.parallel().training(),
                "training layout p-t-d"));
        k.add(new Key("parallel.generation", STR, GENERATION_LAYOUT, c -> c.parallel().generation(),
                "generation layout p_g-t_g-d_g-d"));
        k.add(choice("placement.mode", PlacementMode.values(), PLACEMENT_MODE, c -> c.placement().mode(),
                "colocate or split"));
        k.add(new Key("placement.rollout_world_size", INT, ROLLOUT_WORLD_SIZE, c -> c.placement().rolloutWorldSize(),
                "ranks of the rollout alone in split and auto mode"));
        k.add(new Key("placement.async", BOOL, PLACEMENT_ASYNC, c -> c.placement().async(),
                "split rollout one step off-policy: step k generates with the weights after update k-2"));
        k.add(new Key("placement.auto.window_iterations", INT, AUTO_WINDOW_ITERATIONS,
                c -> c.placement().auto().windowIterations(), "auto: measured iterations averaged per decision"));
        k.add(new Key("placement.auto.patience", INT, AUTO_PATIENCE, c -> c.placement().auto().patience(),
                "auto: favourable decisions in a row before a switch"));
        k.add(new Key("placement.auto.min_relative_gain", NUM, AUTO_MIN_RELATIVE_GAIN,
                c -> c.placement().auto().minRelativeGain(),
                "auto: predicted gain required, fraction of an iteration"));
        k.add(new Key("placement.auto.horizon_iterations", INT, AUTO_HORIZON_ITERATIONS,
                c -> c.placement().auto().horizonIterations(), "auto: iterations over which a switch must pay off"));

        KEYS = List.copyOf(k);
        Map<String, Key> byName = new LinkedHashMap<>();
        List<String> sections = new ArrayList<>();
        for (Key key : KEYS) {
            byName.put(key.name(), key);
            String name = key.name();
            for (int dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
                String section = name.substring(0, dot);
                if (!sections.contains(section)) {
                    sections.add(section);
                }
            }
        }
        BY_NAME = Collections.unmodifiableMap(byName);
        SECTIONS = List.copyOf(sections);
    }

    private ConfigSchema() {
    }

    private static <E extends Enum<E> & ConfigChoice> Key choice(String name, E[] values, E def,
            Function<TrainConfig, E> getter, String meaning) {
        return new Key(name, new ValueType.ChoiceType(ConfigChoice.names(values)), def.configName(),
                c -> getter.apply(c).configName(), meaning);
    }

    private static void optim(List<Key> k, String prefix, double lr, Function<TrainConfig, TrainConfig.Optim> o) {
        k.add(new Key(prefix + ".lr", NUM, lr, c -> o.apply(c).lr(), "peak learning rate"));
        k.add(new Key(prefix + ".weight_decay", NUM, WEIGHT_DECAY, c -> o.apply(c).weightDecay(),
                "decoupled weight decay"));
        k.add(new Key(prefix + ".lr_warmup_steps", INT, LR_WARMUP_STEPS, c -> o.apply(c).lrWarmupSteps(),
                "linear warm-up steps"));
        k.add(choice(prefix + ".warmup_style", WarmupStyle.values(), WARMUP_STYLE, c -> o.apply(c).warmupStyle(),
                "schedule after warm-up"));
        k.add(new Key(prefix + ".min_lr_ratio", NUM, MIN_LR_RATIO, c -> o.apply(c).minLrRatio(),
                "cosine floor as a fraction of lr"));
    }

    /** All keys in file order. */
    static List<Key> keys() {
        return KEYS;
    }

    /** True if {@code name} is a leaf key. */
    static boolean isKey(String name) {
        return BY_NAME.containsKey(name);
    }

    /** True if {@code name} is a section (a prefix of keys), e.g. {@code algorithm.kl_ctrl}. */
    static boolean isSection(String name) {
        return SECTIONS.contains(name);
    }

    /**
     * The key named {@code name}.
     *
     * @throws ConfigException naming the key and the closest valid key if there is none
     */
    static Key requireKey(String name) {
        Key key = BY_NAME.get(name);
        if (key == null) {
            if (isSection(name)) {
                throw new ConfigException("config key is a section, not a value: key=" + name);
            }
            throw new ConfigException("unknown config key: key=" + name + ", closest=" + closest(name));
        }
        return key;
    }

    /**
     * The valid key with the least edit distance to {@code name} relative to the longer of the two names, so that a
     * short name is not preferred for being short ({@code trainer.total_steps} finds
     * {@code trainer.total_training_steps}, not {@code trainer.test_freq}); the first in file order on ties.
     */
    static String closest(String name) {
        String best = null;
        long bestDistance = 1;
        long bestLength = 0;
        for (Key key : KEYS) {
            long distance = editDistance(name, key.name());
            long length = Math.max(name.length(), key.name().length());
            // distance/length < bestDistance/bestLength, in integers
            if (best == null || distance * bestLength < bestDistance * length) {
                best = key.name();
                bestDistance = distance;
                bestLength = length;
            }
        }
        return best;
    }

    /** Levenshtein distance: insertions, deletions and substitutions of one character each cost 1. */
    static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j] + 1, current[j - 1] + 1));
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    /** Every key at its default, in file order (mutable copy). */
    static Map<String, Object> defaultValues() {
        Map<String, Object> values = new LinkedHashMap<>();
        for (Key key : KEYS) {
            values.put(key.name(), key.defaultValue());
        }
        return values;
    }

    /** Every key of {@code config}, normalised, in file order (mutable copy). */
    static Map<String, Object> values(TrainConfig config) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (Key key : KEYS) {
            values.put(key.name(), key.getter().apply(config));
        }
        return values;
    }

    /**
     * Builds (and so validates) a config from normalised values of every key.
     *
     * @throws ConfigException if a validation rule fails
     */
    static TrainConfig build(Map<String, Object> v) {
        TrainConfig.Data data = new TrainConfig.Data(
                ConfigChoice.of(TaskKind.values(), "data.task", str(v, "data.task")),
                str(v, "data.train_files"), str(v, "data.reward_class"), str(v, "data.cost_class"),
                integer(v, "data.train_size"), integer(v, "data.val_size"), integer(v, "data.train_batch_size"),
                integer(v, "data.max_prompt_length"), integer(v, "data.seed"));
        String m = "actor_rollout_ref.model.";
        TrainConfig.Model model = new TrainConfig.Model(integer(v, m + "hidden_size"),
                integer(v, m + "num_hidden_layers"), integer(v, m + "num_attention_heads"),
                integer(v, m + "num_key_value_heads"), integer(v, m + "intermediate_size"));
        String a = "actor_rollout_ref.actor.";
        TrainConfig.Actor actor = new TrainConfig.Actor(optim(v, a + "optim."), number(v, a + "grad_clip"),
                integer(v, a + "ppo_epochs"), integer(v, a + "ppo_mini_batch_size"),
                integer(v, a + "ppo_micro_batch_size"), number(v, a + "clip_ratio_low"),
                number(v, a + "clip_ratio_high"), number(v, a + "clip_ratio_c"), number(v, a + "entropy_coeff"),
                ConfigChoice.of(LossAggMode.values(), a + "loss_agg_mode", str(v, a + "loss_agg_mode")),
                bool(v, a + "use_kl_loss"), number(v, a + "kl_loss_coef"),
                ConfigChoice.of(KlPenalty.values(), a + "kl_loss_type", str(v, a + "kl_loss_type")));
        String r = "actor_rollout_ref.rollout.";
        TrainConfig.Rollout rollout = new TrainConfig.Rollout(integer(v, r + "n"), number(v, r + "temperature"),
                integer(v, r + "top_k"), number(v, r + "top_p"), integer(v, r + "response_length"),
                integer(v, r + "max_num_seqs"));
        TrainConfig.Critic critic = new TrainConfig.Critic(optim(v, "critic.optim."), number(v, "critic.grad_clip"),
                number(v, "critic.cliprange_value"));
        TrainConfig.Algorithm algorithm = new TrainConfig.Algorithm(
                ConfigChoice.of(AdvantageEstimator.values(), "algorithm.adv_estimator",
                        str(v, "algorithm.adv_estimator")),
                number(v, "algorithm.gamma"), number(v, "algorithm.lam"),
                bool(v, "algorithm.norm_adv_by_std_in_grpo"), bool(v, "algorithm.use_kl_in_reward"),
                ConfigChoice.of(KlPenalty.values(), "algorithm.kl_penalty", str(v, "algorithm.kl_penalty")),
                new TrainConfig.KlCtrl(
                        ConfigChoice.of(KlControlType.values(), "algorithm.kl_ctrl.type",
                                str(v, "algorithm.kl_ctrl.type")),
                        number(v, "algorithm.kl_ctrl.kl_coef"), number(v, "algorithm.kl_ctrl.target_kl"),
                        integer(v, "algorithm.kl_ctrl.horizon")),
                new TrainConfig.SafeRlhf(number(v, "algorithm.safe_rlhf.lagrange_init"),
                        number(v, "algorithm.safe_rlhf.lagrange_lr"), number(v, "algorithm.safe_rlhf.cost_limit")));
        TrainConfig.Trainer trainer = new TrainConfig.Trainer(integer(v, "trainer.total_training_steps"),
                integer(v, "trainer.save_freq"), integer(v, "trainer.test_freq"), integer(v, "trainer.plot_freq"),
                str(v, "trainer.experiment_name"), str(v, "trainer.runs_dir"), integer(v, "trainer.seed"),
                ConfigChoice.of(ResumeMode.values(), "trainer.resume_mode", str(v, "trainer.resume_mode")),
                str(v, "trainer.resume_from_path"), integer(v, "trainer.controllers"),
                ConfigChoice.of(Backend.values(), "trainer.backend", str(v, "trainer.backend")),
                integer(v, "trainer.inline_limit_bytes"),
                ConfigChoice.of(Launch.values(), "trainer.launch", str(v, "trainer.launch")),
                str(v, "trainer.control_host"), str(v, "trainer.jvm_options"));
        TrainConfig.Parallel parallel = new TrainConfig.Parallel(integer(v, "parallel.world_size"),
                str(v, "parallel.training"), str(v, "parallel.generation"));
        TrainConfig.Placement placement = new TrainConfig.Placement(
                ConfigChoice.of(PlacementMode.values(), "placement.mode", str(v, "placement.mode")),
                integer(v, "placement.rollout_world_size"), bool(v, "placement.async"),
                new TrainConfig.Auto(integer(v, "placement.auto.window_iterations"),
                        integer(v, "placement.auto.patience"), number(v, "placement.auto.min_relative_gain"),
                        integer(v, "placement.auto.horizon_iterations")));
        return new TrainConfig(data, new TrainConfig.ActorRolloutRef(model, actor, rollout), critic, algorithm,
                trainer, parallel, placement);
    }

    private static TrainConfig.Optim optim(Map<String, Object> v, String prefix) {
        return new TrainConfig.Optim(number(v, prefix + "lr"), number(v, prefix + "weight_decay"),
                integer(v, prefix + "lr_warmup_steps"),
                ConfigChoice.of(WarmupStyle.values(), prefix + "warmup_style", str(v, prefix + "warmup_style")),
                number(v, prefix + "min_lr_ratio"));
    }

    private static int integer(Map<String, Object> v, String key) {
        return (Integer) v.get(key);
    }

    private static double number(Map<String, Object> v, String key) {
        return (Double) v.get(key);
    }

    private static boolean bool(Map<String, Object> v, String key) {
        return (Boolean) v.get(key);
    }

    private static String str(Map<String, Object> v, String key) {
        return (String) v.get(key);
    }
}
