package io.yatt.trainer.algo;

/**
 * A policy loss as registered in {@link AlgorithmRegistry} under its config name ({@code vanilla}, {@code gspo},
 * ...); implementations are the static methods of {@link PolicyLosses}.
 */
@FunctionalInterface
public interface PolicyLoss {

    /**
     * The loss, its gradient with respect to the current log-probabilities, and metrics.
     *
     * @throws IllegalArgumentException if the aggregation needs a global count the options lack
     */
    PolicyLossResult compute(PolicyLossInput input, LossAggMode aggMode, PolicyLossConfig config);
}
