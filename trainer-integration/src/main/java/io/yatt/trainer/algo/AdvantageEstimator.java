package io.yatt.trainer.algo;

/**
 * An advantage estimator as registered in {@link AlgorithmRegistry} under its config name ({@code gae},
 * {@code grpo}, ...); implementations are the static methods of {@link AdvantageEstimators}.
 */
@FunctionalInterface
public interface AdvantageEstimator {

    /**
     * Advantages and returns for one batch.
     *
     * @throws IllegalArgumentException if an input this estimator needs is missing or inconsistent
     */
    AdvantageResult estimate(AdvantageInput input, AdvantageConfig config);
}
