package io.yatt.trainer.algo;

/**
 * What an advantage estimator returns, verl's {@code (advantages, returns)} pair, both {@code [batch, seq]}.
 *
 * @param advantages per-token advantages
 * @param returns per-token returns (the value-function targets for GAE)
 */
public record AdvantageResult(BatchTensor advantages, BatchTensor returns) {
}
