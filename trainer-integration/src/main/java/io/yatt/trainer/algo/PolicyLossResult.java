package io.yatt.trainer.algo;

/**
 * A policy loss and verl's metrics. Metrics a loss does not define are 0, as verl's older tuple API returned.
 *
 * @param pgLoss the aggregated policy-gradient loss
 * @param gradLogProb d pgLoss / d logProb, {@code [batch, seq]}, 0 at masked positions
 * @param pgClipfrac fraction of unmasked tokens clipped (loss-specific: see each loss)
 * @param ppoKl masked mean of {@code old_log_prob - log_prob} (kl_cov reports the mean absolute difference)
 * @param pgClipfracLower fraction of unmasked tokens with negative advantage held by the dual clip
 */
public record PolicyLossResult(double pgLoss, BatchTensor gradLogProb, double pgClipfrac, double ppoKl,
                               double pgClipfracLower) {
}
