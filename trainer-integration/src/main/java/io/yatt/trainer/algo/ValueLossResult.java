package io.yatt.trainer.algo;

/**
 * The clipped value loss and its clip fraction.
 *
 * @param vfLoss {@code 0.5 * agg(max((v - R)^2, (clip(v) - R)^2))}
 * @param gradValuePreds d vfLoss / d vpreds, {@code [batch, seq]}, 0 at masked positions
 * @param vfClipfrac masked fraction of tokens where the clipped term is strictly larger
 */
public record ValueLossResult(double vfLoss, BatchTensor gradValuePreds, double vfClipfrac) {
}
