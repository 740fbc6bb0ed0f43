package io.yatt.trainer.algo;

/**
 * A scalar loss and its gradient with respect to the {@code [batch, seq]} input it was computed from (the loss
 * matrix for an aggregation, the log-probabilities for a policy loss, the value predictions for a value loss).
 * Masked positions have gradient 0.
 *
 * @param value the scalar loss
 * @param gradient d value / d input, same shape as the input
 */
public record AggregatedLoss(double value, BatchTensor gradient) {
}
