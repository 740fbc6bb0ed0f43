package io.yatt.trainer.config;

import io.yatt.hybrid.HybridLayout;

/** Range and cross-field rules of {@link TrainConfig}; the first violation is thrown, naming keys and values. */
final class ConfigValidation {

    private ConfigValidation() {
    }

    static void validate(TrainConfig.Data data, TrainConfig.ActorRolloutRef arr, TrainConfig.Critic critic,
            TrainConfig.Algorithm algorithm, TrainConfig.Trainer trainer, TrainConfig.Parallel parallel,
            TrainConfig.Placement placement) {
        // data
        atLeast("data.train_size", data.trainSize(), 1);
        atLeast("data.val_size", data.valSize(), 0);
        atLeast("data.train_batch_size", data.trainBatchSize(), 1);
        atLeast("data.max_prompt_length", data.maxPromptLength(), 2);
        if (data.task() == TaskKind.CUSTOM) {
            if (data.trainFiles().isBlank()) {
                throw new ConfigException("data.task=custom needs data.train_files: data.train_files=''");
            }
            if (data.rewardClass().isBlank()) {
                throw new ConfigException("data.task=custom needs data.reward_class: data.reward_class=''");
            }
        } else {
            onlyForCustom("data.train_files", data.trainFiles(), data.task());
            onlyForCustom("data.reward_class", data.rewardClass(), data.task());
            onlyForCustom("data.cost_class", data.costClass(), data.task());
        }
        // model
        TrainConfig.Model model = arr.model();
        atLeast("actor_rollout_ref.model.hidden_size", model.hiddenSize(), 1);
        atLeast("actor_rollout_ref.model.num_hidden_layers", model.numHiddenLayers(), 1);
        atLeast("actor_rollout_ref.model.num_attention_heads", model.numAttentionHeads(), 1);
        atLeast("actor_rollout_ref.model.num_key_value_heads", model.numKeyValueHeads(), 1);
        atLeast("actor_rollout_ref.model.intermediate_size", model.intermediateSize(), 1);
        divides("actor_rollout_ref.model.num_attention_heads", model.numAttentionHeads(),
                "actor_rollout_ref.model.hidden_size", model.hiddenSize());
        divides("actor_rollout_ref.model.num_key_value_heads", model.numKeyValueHeads(),
                "actor_rollout_ref.model.num_attention_heads", model.numAttentionHeads());
        // actor
        TrainConfig.Actor actor = arr.actor();
        optim("actor_rollout_ref.actor.optim", actor.optim());
        positive("actor_rollout_ref.actor.grad_clip", actor.gradClip());
        atLeast("actor_rollout_ref.actor.ppo_epochs", actor.ppoEpochs(), 1);
        atLeast("actor_rollout_ref.actor.ppo_mini_batch_size", actor.ppoMiniBatchSize(), 1);
        atLeast("actor_rollout_ref.actor.ppo_micro_batch_size", actor.ppoMicroBatchSize(), 1);
        between("actor_rollout_ref.actor.clip_ratio_low", actor.clipRatioLow(), 0.0, 1.0);
        positive("actor_rollout_ref.actor.clip_ratio_high", actor.clipRatioHigh());
        if (!(actor.clipRatioC() > 1.0)) {
            outOfRange("actor_rollout_ref.actor.clip_ratio_c", actor.clipRatioC(), "> 1.0");
        }
        notNegative("actor_rollout_ref.actor.entropy_coeff", actor.entropyCoeff());
        notNegative("actor_rollout_ref.actor.kl_loss_coef", actor.klLossCoef());
        // rollout
        TrainConfig.Rollout rollout = arr.rollout();
        atLeast("actor_rollout_ref.rollout.n", rollout.n(), 1);
        positive("actor_rollout_ref.rollout.temperature", rollout.temperature());
        if (rollout.topK() != ConfigDefaults.TOP_K_DISABLED && rollout.topK() < 1) {
            outOfRange("actor_rollout_ref.rollout.top_k", rollout.topK(), "-1 or >= 1");
        }
        if (!(rollout.topP() > 0.0 && rollout.topP() <= 1.0)) {
            outOfRange("actor_rollout_ref.rollout.top_p", rollout.topP(), "in (0.0, 1.0]");
        }
        atLeast("actor_rollout_ref.rollout.response_length", rollout.responseLength(), 1);
        atLeast("actor_rollout_ref.rollout.max_num_seqs", rollout.maxNumSeqs(), 1);
        // critic
        optim("critic.optim", critic.optim());
        positive("critic.grad_clip", critic.gradClip());
        positive("critic.cliprange_value", critic.cliprangeValue());
        // algorithm
        between("algorithm.gamma", algorithm.gamma(), 0.0, 1.0);
        between("algorithm.lam", algorithm.lam(), 0.0, 1.0);
        notNegative("algorithm.kl_ctrl.kl_coef", algorithm.klCtrl().klCoef());
        if (algorithm.klCtrl().type() == KlControlType.ADAPTIVE) {
            positive("algorithm.kl_ctrl.target_kl", algorithm.klCtrl().targetKl());
            atLeast("algorithm.kl_ctrl.horizon", algorithm.klCtrl().horizon(), 1);
        }
        notNegative("algorithm.safe_rlhf.lagrange_init", algorithm.safeRlhf().lagrangeInit());
        positive("algorithm.safe_rlhf.lagrange_lr", algorithm.safeRlhf().lagrangeLr());
        notNegative("algorithm.safe_rlhf.cost_limit", algorithm.safeRlhf().costLimit());
        AdvantageEstimator estimator = algorithm.advEstimator();
        if ((estimator == AdvantageEstimator.GRPO || estimator == AdvantageEstimator.RLOO
                || estimator == AdvantageEstimator.REINFORCE_PLUS_PLUS_BASELINE) && rollout.n() < 2) {
            throw new ConfigException("algorithm.adv_estimator=" + estimator.configName()
                    + " needs actor_rollout_ref.rollout.n >= 2: actor_rollout_ref.rollout.n=" + rollout.n());
        }
        // trainer
        atLeast("trainer.total_training_steps", trainer.totalTrainingSteps(), 1);
        frequency("trainer.save_freq", trainer.saveFreq());
        frequency("trainer.test_freq", trainer.testFreq());
        atLeast("trainer.plot_freq", trainer.plotFreq(), 1);
        String name = trainer.experimentName();
        if (name.isBlank() || name.equals(".") || name.equals("..") || name.contains("/") || name.contains("\\")) {
            throw new ConfigException("trainer.experiment_name must be a plain folder name: trainer.experiment_name="
                    + name);
        }
        if (trainer.runsDir().isBlank()) {
            throw new ConfigException("trainer.runs_dir must not be empty: trainer.runs_dir=''");
        }
        if (trainer.resumeMode() == ResumeMode.RESUME_PATH && trainer.resumeFromPath().isBlank()) {
            throw new ConfigException(
                    "trainer.resume_mode=resume_path needs trainer.resume_from_path: trainer.resume_from_path=''");
        }
        atLeast("trainer.controllers", trainer.controllers(), 1);
        atLeast("trainer.inline_limit_bytes", trainer.inlineLimitBytes(), 0);
        if (trainer.launch() == Launch.EXTERNAL && trainer.backend() != Backend.SHM) {
            throw new ConfigException("trainer.launch=external needs trainer.backend=shm: trainer.backend="
                    + trainer.backend().configName());
        }
        if (trainer.controlHost().isBlank()) {
            throw new ConfigException("trainer.control_host must not be empty: trainer.control_host=''");
        }
        for (String option : trainer.jvmOptionList()) {
            if (!option.startsWith("-")) {
                throw new ConfigException("trainer.jvm_options takes JVM options, each starting with '-': option="
                        + option + ", trainer.jvm_options=" + trainer.jvmOptions());
            }
        }
        // parallel and placement
        atLeast("parallel.world_size", parallel.worldSize(), 1);
        HybridLayout layout;
        try {
            layout = parallel.layout();
        } catch (IllegalArgumentException e) {
            throw new ConfigException("invalid parallel layouts: parallel.training=" + parallel.training()
                    + ", parallel.generation=" + parallel.generation() + ": " + e.getMessage(), e);
        }
        int trainingRanks = layout.train().worldSize();
        if (placement.mode() == PlacementMode.COLOCATE) {
            if (placement.rolloutWorldSize() != 0) {
                throw new ConfigException("placement.rollout_world_size is only used with placement.mode=split: "
                        + "placement.rollout_world_size=" + placement.rolloutWorldSize());
            }
            if (trainingRanks != parallel.worldSize()) {
                throw new ConfigException("parallel.world_size must equal p*t*d of parallel.training: "
                        + "parallel.world_size=" + parallel.worldSize() + ", parallel.training="
                        + parallel.training() + ", p*t*d=" + trainingRanks);
            }
            if (placement.async()) {
                throw new ConfigException("placement.async needs placement.mode=split: placement.mode="
                        + placement.mode().configName());
            }
        } else {
            String mode = placement.mode().configName();
            if (placement.async() && placement.mode() == PlacementMode.AUTO) {
                throw new ConfigException("placement.async needs placement.mode=split: an asynchronous rollout "
                        + "cannot switch placement, placement.mode=auto");
            }
            atLeast("placement.rollout_world_size", placement.rolloutWorldSize(), 1);
            if (trainingRanks + placement.rolloutWorldSize() != parallel.worldSize()) {
                throw new ConfigException("parallel.world_size must equal p*t*d of parallel.training plus "
                        + "placement.rollout_world_size with placement.mode=" + mode + ": parallel.world_size="
                        + parallel.worldSize() + ", p*t*d=" + trainingRanks + ", placement.rollout_world_size="
                        + placement.rolloutWorldSize());
            }
            int replicaRanks = layout.gen().pg() * layout.gen().tg();
            if (placement.rolloutWorldSize() % replicaRanks != 0) {
                throw new ConfigException("placement.rollout_world_size must be a multiple of p_g*t_g of "
                        + "parallel.generation: placement.rollout_world_size=" + placement.rolloutWorldSize()
                        + ", p_g*t_g=" + replicaRanks);
            }
            int replicas = placement.rolloutWorldSize() / replicaRanks;
            int samples = data.trainBatchSize() * arr.rollout().n();
            if (samples % replicas != 0) {
                throw new ConfigException("rollout replicas must divide data.train_batch_size * "
                        + "actor_rollout_ref.rollout.n with placement.mode=" + mode + ": rollout replicas=" + replicas
                        + ", samples=" + samples);
            }
        }
        TrainConfig.Auto auto = placement.auto();
        atLeast("placement.auto.window_iterations", auto.windowIterations(), 1);
        atLeast("placement.auto.patience", auto.patience(), 1);
        atLeast("placement.auto.horizon_iterations", auto.horizonIterations(), 1);
        if (!(auto.minRelativeGain() >= 0 && auto.minRelativeGain() < 1)) {
            outOfRange("placement.auto.min_relative_gain", auto.minRelativeGain(), "in [0.0, 1.0)");
        }
        int t = layout.train().t();
        // t dividing the KV heads, or the KV heads dividing t (each KV head then replicated on t/kv ranks)
        if (model.numKeyValueHeads() % t != 0 && t % model.numKeyValueHeads() != 0) {
            throw new ConfigException("tensor-parallel size t and actor_rollout_ref.model.num_key_value_heads must "
                    + "divide one another: tensor-parallel size t=" + t
                    + ", actor_rollout_ref.model.num_key_value_heads=" + model.numKeyValueHeads());
        }
        divides("tensor-parallel size t", t, "actor_rollout_ref.model.num_attention_heads",
                model.numAttentionHeads());
        divides("tensor-parallel size t", t, "actor_rollout_ref.model.intermediate_size", model.intermediateSize());
        // batches: verl's rules with our names
        int d = layout.train().d();
        divides("actor_rollout_ref.actor.ppo_mini_batch_size", actor.ppoMiniBatchSize(), "data.train_batch_size",
                data.trainBatchSize());
        divides("trainer.controllers", trainer.controllers(), "data.train_batch_size", data.trainBatchSize());
        int miniSamples = actor.ppoMiniBatchSize() * rollout.n();
        if (miniSamples % actor.ppoMicroBatchSize() != 0) {
            throw new ConfigException("actor_rollout_ref.actor.ppo_micro_batch_size must divide "
                    + "ppo_mini_batch_size * rollout.n: actor_rollout_ref.actor.ppo_micro_batch_size="
                    + actor.ppoMicroBatchSize() + ", actor_rollout_ref.actor.ppo_mini_batch_size="
                    + actor.ppoMiniBatchSize() + ", actor_rollout_ref.rollout.n=" + rollout.n());
        }
        if (actor.ppoMicroBatchSize() % d != 0) {
            throw new ConfigException("data-parallel size d must divide actor_rollout_ref.actor.ppo_micro_batch_size: "
                    + "d=" + d + ", actor_rollout_ref.actor.ppo_micro_batch_size=" + actor.ppoMicroBatchSize());
        }
    }

    private static void onlyForCustom(String key, String value, TaskKind task) {
        if (!value.isBlank()) {
            throw new ConfigException(key + " is only read with data.task=custom: data.task=" + task.configName()
                    + ", " + key + "=" + value);
        }
    }

    private static void optim(String prefix, TrainConfig.Optim optim) {
        positive(prefix + ".lr", optim.lr());
        notNegative(prefix + ".weight_decay", optim.weightDecay());
        atLeast(prefix + ".lr_warmup_steps", optim.lrWarmupSteps(), 0);
        between(prefix + ".min_lr_ratio", optim.minLrRatio(), 0.0, 1.0);
    }

    private static void frequency(String key, int value) {
        if (value != ConfigDefaults.FREQ_DISABLED && value < 1) {
            outOfRange(key, value, "-1 or >= 1");
        }
    }

    private static void divides(String divisorKey, int divisor, String key, int value) {
        if (value % divisor != 0) {
            throw new ConfigException(divisorKey + " must divide " + key + ": " + divisorKey + "=" + divisor + ", "
                    + key + "=" + value);
        }
    }

    private static void atLeast(String key, int value, int min) {
        if (value < min) {
            outOfRange(key, value, ">= " + min);
        }
    }

    private static void positive(String key, double value) {
        if (!(value > 0.0)) {
            outOfRange(key, value, "> 0.0");
        }
    }

    private static void notNegative(String key, double value) {
        if (!(value >= 0.0)) {
            outOfRange(key, value, ">= 0.0");
        }
    }

    private static void between(String key, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            outOfRange(key, value, "in [" + min + ", " + max + "]");
        }
    }

    private static void outOfRange(String key, Object value, String expected) {
        throw new ConfigException("config value out of range: key=" + key + ", value=" + value + ", expected="
                + expected);
    }
}
