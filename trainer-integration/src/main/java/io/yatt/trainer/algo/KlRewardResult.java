package io.yatt.trainer.algo;

/**
 * Token-level rewards after the KL penalty, with verl's metrics.
 *
 * @param tokenLevelRewards {@code scores - beta * kl * mask}
 * @param currentKl batch mean of the per-sequence masked mean KL ({@code actor/reward_kl_penalty})
 * @param beta the coefficient used, before the controller's update ({@code actor/reward_kl_penalty_coeff})
 */
public record KlRewardResult(BatchTensor tokenLevelRewards, double currentKl, double beta) {
}
