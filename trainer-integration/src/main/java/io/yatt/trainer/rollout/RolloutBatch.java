package io.yatt.trainer.rollout;

/**
 * One step's rollout as every trainer rank receives it.
 *
 * @param step the step
 * @param weightVersion the actor version that generated it (updates applied)
 * @param responses generated tokens per sample (EOS included when generated)
 * @param logProbs the sampling log-probability of each generated token, per sample
 * @param baselineResponses greedy continuations per prompt, or null when not asked for
 */
public record RolloutBatch(long step, long weightVersion, int[][] responses, float[][] logProbs,
                           int[][] baselineResponses) {
}
