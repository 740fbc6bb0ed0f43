package io.yatt.trainer.config;

import io.yatt.controller.placement.DynamicPlacement;

/**
 * The defaults of every config key, as named constants: the embedded default run is 4 in-process ranks, training
 * layout 1-2-2, generation layout 1-1-2-2 (four single-rank generation replicas), colocated roles, PPO with GAE on the
 * bundled addition task. Units are in the names where a value has one.
 */
public final class ConfigDefaults {

    // data
    public static final TaskKind TASK = TaskKind.ADDITION;
    public static final String TRAIN_FILES = "";
    public static final String REWARD_CLASS = "";
    public static final String COST_CLASS = "";
    public static final int TRAIN_SIZE = 4096;
    public static final int VAL_SIZE = 256;
    public static final int TRAIN_BATCH_SIZE = 128;
    public static final int MAX_PROMPT_LENGTH = 16;
    public static final int DATA_SEED = 1;

    // actor_rollout_ref.model: a tiny Llama-style decoder
    public static final int HIDDEN_SIZE = 64;
    public static final int NUM_HIDDEN_LAYERS = 2;
    public static final int NUM_ATTENTION_HEADS = 4;
    public static final int NUM_KEY_VALUE_HEADS = 2;
    public static final int INTERMEDIATE_SIZE = 128;

    // actor_rollout_ref.actor
    public static final double ACTOR_LR = 1e-3;
    public static final double CRITIC_LR = 1e-3;
    public static final double WEIGHT_DECAY = 0.0;
    public static final int LR_WARMUP_STEPS = 0;
    public static final WarmupStyle WARMUP_STYLE = WarmupStyle.CONSTANT;
    public static final double MIN_LR_RATIO = 0.0;
    public static final double GRAD_CLIP = 1.0;
    public static final int PPO_EPOCHS = 1;
    public static final int PPO_MINI_BATCH_SIZE = 64;
    public static final int PPO_MICRO_BATCH_SIZE = 32;
    public static final double CLIP_RATIO_LOW = 0.2;
    public static final double CLIP_RATIO_HIGH = 0.2;
    public static final double CLIP_RATIO_C = 3.0;
    public static final double ENTROPY_COEFF = 0.0;
    public static final LossAggMode LOSS_AGG_MODE = LossAggMode.TOKEN_MEAN;
    public static final boolean USE_KL_LOSS = false;
    public static final double KL_LOSS_COEF = 0.001;
    public static final KlPenalty KL_LOSS_TYPE = KlPenalty.LOW_VAR_KL;

    // actor_rollout_ref.rollout
    public static final int ROLLOUT_N = 1;
    public static final double TEMPERATURE = 1.0;
    public static final int TOP_K_DISABLED = -1;
    public static final double TOP_P = 1.0;
    public static final int RESPONSE_LENGTH = 4;
    /** Sequences one generation pass holds (its KV cache), verl's and vLLM's {@code max_num_seqs}. */
    public static final int MAX_NUM_SEQS = 1024;

    // critic
    public static final double CLIPRANGE_VALUE = 0.5;

    // algorithm
    public static final AdvantageEstimator ADV_ESTIMATOR = AdvantageEstimator.GAE;
    public static final double GAMMA = 1.0;
    public static final double LAM = 1.0;
    public static final boolean NORM_ADV_BY_STD_IN_GRPO = true;
    public static final boolean USE_KL_IN_REWARD = false;
    public static final KlPenalty KL_PENALTY = KlPenalty.KL;
    public static final KlControlType KL_CTRL_TYPE = KlControlType.FIXED;
    public static final double KL_COEF = 0.001;
    public static final double TARGET_KL = 0.1;
    public static final int KL_HORIZON_STEPS = 10000;
    public static final double LAGRANGE_INIT = 0.1;
    public static final double LAGRANGE_LR = 0.05;
    public static final double COST_LIMIT = 0.1;

    // trainer
    public static final int TOTAL_TRAINING_STEPS = 100;
    public static final int SAVE_FREQ_STEPS = 20;
    public static final int TEST_FREQ_STEPS = 10;
    public static final int PLOT_FREQ_STEPS = 10;
    public static final String EXPERIMENT_NAME = "default";
    public static final String RUNS_DIR = "runs";
    public static final int TRAINER_SEED = 1;
    public static final ResumeMode RESUME_MODE = ResumeMode.AUTO;
    public static final String RESUME_FROM_PATH = "";
    public static final int CONTROLLERS = 1;
    public static final Backend BACKEND = Backend.IN_PROCESS;
    /** Largest worker result tensor sent inline through a controller; larger ones travel by reference (64 KiB). */
    public static final int INLINE_LIMIT_BYTES = 64 * 1024;
    public static final Launch LAUNCH = Launch.LOCAL;
    public static final String CONTROL_HOST = "127.0.0.1";
    /** Extra JVM options of the JVMs yatt train starts: none (each JVM's own defaults). */
    public static final String JVM_OPTIONS = "";

    // parallel and placement
    public static final int WORLD_SIZE = 4;
    public static final String TRAINING_LAYOUT = "1-2-2";
    public static final String GENERATION_LAYOUT = "1-1-2-2";
    public static final PlacementMode PLACEMENT_MODE = PlacementMode.COLOCATE;
    public static final int ROLLOUT_WORLD_SIZE = 0;
    public static final boolean PLACEMENT_ASYNC = false;
    public static final int AUTO_WINDOW_ITERATIONS = DynamicPlacement.DEFAULT_WINDOW_ITERATIONS;
    public static final int AUTO_PATIENCE = DynamicPlacement.DEFAULT_PATIENCE;
    public static final double AUTO_MIN_RELATIVE_GAIN = DynamicPlacement.DEFAULT_MIN_RELATIVE_GAIN;
    public static final int AUTO_HORIZON_ITERATIONS = DynamicPlacement.DEFAULT_HORIZON_ITERATIONS;

    /** The value of {@code save_freq}/{@code test_freq} that turns the action off, as in verl. */
    public static final int FREQ_DISABLED = -1;

    private ConfigDefaults() {
    }
}
