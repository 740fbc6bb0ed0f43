package io.yatt.trainer.algo;

/**
 * The critic's clipped value loss, the entropy loss and the actor's KL loss of verl's {@code core_algos.py}, with
 * their gradients. Stateless and thread-safe.
 */
public final class Losses {

    private Losses() {
    }

    /**
     * Clipped value loss, {@code compute_value_loss}: {@code v' = clip_by_value(v, old - c, old + c)},
     * {@code L = max((v - R)^2, (v' - R)^2)}, {@code vfLoss = 0.5 * agg(L)} and {@code vfClipfrac} the masked mean of
     * {@code (v' - R)^2 > (v - R)^2}.
     *
     * @throws IllegalArgumentException if the shapes differ, the mask is not 0/1 or cliprangeValue is negative
     */
    public static ValueLossResult valueLoss(BatchTensor vpreds, BatchTensor returns, BatchTensor values,
                                            BatchTensor responseMask, double cliprangeValue, LossAggMode mode,
                                            AggOptions options) {
        vpreds.requireSameShape("vpreds", returns, "returns");
        vpreds.requireSameShape("vpreds", values, "values");
        TensorFunctions.checkMask(vpreds, responseMask);
        if (!(cliprangeValue >= 0)) {
            throw new IllegalArgumentException("cliprange_value must be non-negative: cliprangeValue="
                    + cliprangeValue);
        }
        int n = vpreds.count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] clipped = new float[n];
        for (int i = 0; i < n; i++) {
            double v = vpreds.at(i);
            double ret = returns.at(i);
            double lo = values.at(i) - cliprangeValue;
            double hi = values.at(i) + cliprangeValue;
            double inner = Math.min(v, hi);
            double dInner = PolicyLosses.minGrad(v, 1, hi, 0);
            double vc = Math.max(inner, lo);
            double dVc = PolicyLosses.maxGrad(inner, dInner, lo, 0);
            double l1 = (v - ret) * (v - ret);
            double l2 = (vc - ret) * (vc - ret);
            loss[i] = (float) Math.max(l1, l2);
            dLoss[i] = (float) PolicyLosses.maxGrad(l1, 2 * (v - ret), l2, 2 * (vc - ret) * dVc);
            clipped[i] = l2 > l1 ? 1f : 0f;
        }
        AggregatedLoss agg = mode.aggregate(BatchTensor.wrap(vpreds.batch(), vpreds.seq(), loss), responseMask,
                options);
        float[] grad = new float[n];
        for (int i = 0; i < n; i++) {
            float g = agg.gradient().at(i);
            grad[i] = g == 0f ? 0f : (float) (0.5 * g * dLoss[i]);
        }
        double clipfrac = TensorFunctions.maskedMean(BatchTensor.wrap(vpreds.batch(), vpreds.seq(), clipped),
                responseMask);
        return new ValueLossResult(0.5 * agg.value(), BatchTensor.wrap(vpreds.batch(), vpreds.seq(), grad),
                clipfrac);
    }

    /**
     * Entropy loss from per-token entropies, {@code compute_entropy_loss}: {@code agg(entropy, mask)}; the
     * gradient is with respect to the entropies.
     *
     * @throws IllegalArgumentException if the shapes differ or the mask is not 0/1
     */
    public static AggregatedLoss entropyLoss(BatchTensor tokenEntropy, BatchTensor responseMask, LossAggMode mode,
                                             AggOptions options) {
        return mode.aggregate(tokenEntropy, responseMask, options);
    }

    /**
     * Entropy loss from logits {@code [batch, seq, vocab]} row-major, {@code compute_entropy_loss(logits, mask)}:
     * returns the loss and writes {@code d loss / d logits} into {@code gradLogits} (same layout), using
     * {@code dH/dz_j = -p_j (z_j - sum_v p_v z_v)}.
     *
     * @throws IllegalArgumentException if the logits or gradient do not hold {@code batch * seq * vocab} values, or
     *         the mask is not 0/1
     */
    public static double entropyLossFromLogits(float[] logits, int vocab, BatchTensor responseMask, LossAggMode mode,
                                               AggOptions options, float[] gradLogits) {
        int rows = responseMask.count();
        if (gradLogits.length != logits.length) {
            throw new IllegalArgumentException("gradLogits length does not match logits: gradLogits="
                    + gradLogits.length + ", logits=" + logits.length);
        }
        float[] h = TensorFunctions.entropyFromLogits(logits, vocab, rows);
        AggregatedLoss agg = mode.aggregate(BatchTensor.wrap(responseMask.batch(), responseMask.seq(), h),
                responseMask, options);
        for (int r = 0; r < rows; r++) {
            int o = r * vocab;
            float g = agg.gradient().at(r);
            if (g == 0f) {
                java.util.Arrays.fill(gradLogits, o, o + vocab, 0f);
                continue;
            }
            double lse = TensorFunctions.logSumExp(logits, o, vocab);
            double ez = 0;
            for (int v = 0; v < vocab; v++) {
                ez += Math.exp(logits[o + v] - lse) * logits[o + v];
            }
            for (int v = 0; v < vocab; v++) {
                double p = Math.exp(logits[o + v] - lse);
                gradLogits[o + v] = (float) (g * -p * (logits[o + v] - ez));
            }
        }
        return agg.value();
    }

    /**
     * The actor's KL loss ({@code use_kl_loss}): {@code agg(kl_penalty(lp, ref), mask)} with its gradient with
     * respect to {@code lp} (the k2 gradient for the {@code +} straight-through forms).
     *
     * @throws IllegalArgumentException if the shapes differ or the mask is not 0/1
     */
    public static AggregatedLoss klLoss(BatchTensor logProb, BatchTensor refLogProb, BatchTensor responseMask,
                                        KlPenalty penalty, LossAggMode mode, AggOptions options) {
        BatchTensor kl = penalty.apply(logProb, refLogProb);
        BatchTensor dKl = penalty.gradLogProb(logProb, refLogProb);
        AggregatedLoss agg = mode.aggregate(kl, responseMask, options);
        float[] grad = new float[kl.count()];
        for (int i = 0; i < grad.length; i++) {
            float g = agg.gradient().at(i);
            grad[i] = g == 0f ? 0f : g * dKl.at(i);
        }
        return new AggregatedLoss(agg.value(), BatchTensor.wrap(kl.batch(), kl.seq(), grad));
    }
}
