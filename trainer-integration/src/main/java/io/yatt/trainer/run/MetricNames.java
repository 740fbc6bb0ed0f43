package io.yatt.trainer.run;

/** Metric names as verl prints them, so that runs compare side by side with verl's logs. */
public final class MetricNames {

    public static final String SCORE_MEAN = "critic/score/mean";
    public static final String SCORE_MAX = "critic/score/max";
    public static final String SCORE_MIN = "critic/score/min";
    public static final String REWARDS_MEAN = "critic/rewards/mean";
    public static final String VALUES_MEAN = "critic/values/mean";
    public static final String ADVANTAGES_MEAN = "critic/advantages/mean";
    public static final String RETURNS_MEAN = "critic/returns/mean";
    public static final String VF_LOSS = "critic/vf_loss";
    public static final String VF_CLIPFRAC = "critic/vf_clipfrac";
    public static final String PG_LOSS = "actor/pg_loss";
    public static final String PG_CLIPFRAC = "actor/pg_clipfrac";
    public static final String PPO_KL = "actor/ppo_kl";
    public static final String ENTROPY = "actor/entropy";
    public static final String KL_LOSS = "actor/kl_loss";
    public static final String KL_COEF = "actor/kl_coef";
    public static final String REWARD_KL_PENALTY = "actor/reward_kl_penalty";
    /** The KL-in-reward coefficient a step used (before the KL controller's update at the end of the step). */
    public static final String REWARD_KL_PENALTY_COEFF = "actor/reward_kl_penalty_coeff";
    public static final String GRAD_NORM = "actor/grad_norm";
    public static final String LR = "actor/lr";
    public static final String RESPONSE_LENGTH_MEAN = "response_length/mean";
    public static final String RESPONSE_LENGTH_MAX = "response_length/max";
    public static final String RESPONSE_LENGTH_MIN = "response_length/min";
    public static final String RESPONSE_LENGTH_CLIP_RATIO = "response_length/clip_ratio";
    /** Held-out evaluation: mean reward of greedy responses to the held-out prompts. */
    public static final String VAL_SCORE_MEAN = "val/score/mean";
    /** Safe-RLHF: mean cost per response. */
    public static final String COST_MEAN = "critic/cost/mean";
    /** Safe-RLHF: the Lagrange multiplier after the step. */
    public static final String LAGRANGE_MULTIPLIER = "safe_rlhf/lagrange_multiplier";
    /** Prefix of stage times in seconds, e.g. {@code timing_s/gen}. */
    public static final String TIMING_PREFIX = "timing_s/";
    public static final String TIMING_STEP = "timing_s/step";
    public static final String TIMING_GEN = "timing_s/gen";
    public static final String TIMING_RESHARD = "timing_s/reshard";
    public static final String TIMING_REF = "timing_s/ref";
    public static final String TIMING_VALUES = "timing_s/values";
    public static final String TIMING_ADV = "timing_s/adv";
    public static final String TIMING_UPDATE_CRITIC = "timing_s/update_critic";
    public static final String TIMING_UPDATE_ACTOR = "timing_s/update_actor";
    public static final String TIMING_TESTING = "timing_s/testing";
    public static final String TIMING_SAVE_CHECKPOINT = "timing_s/save_checkpoint";
    /** Tokens (prompt and response) processed per second of step time, summed over ranks. */
    public static final String THROUGHPUT = "perf/throughput";
    public static final String TOTAL_NUM_TOKENS = "perf/total_num_tokens";
    /** Bytes each rank received in the step's train-to-generation reshards. */
    public static final String RESHARD_BYTES = "perf/reshard_bytes";
    /**
     * Bytes of the step's batch a trainer rank holds once its advantages are computed (its DP rank's rows and the
     * per-sample scalars), counted from the rank's arrays.
     */
    public static final String STEP_BATCH_BYTES = "perf/step_batch_bytes";

    private MetricNames() {
    }
}
