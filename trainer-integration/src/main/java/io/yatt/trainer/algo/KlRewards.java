package io.yatt.trainer.algo;

/**
 * KL in the reward, verl's {@code apply_kl_penalty} ({@code verl/trainer/ppo/ray_trainer.py}). Stateless; the
 * controller it updates is not.
 */
public final class KlRewards {

    private KlRewards() {
    }

    /**
     * Token-level rewards with a k1 KL penalty and a fixed ratio, {@code core_algos.compute_rewards}:
     * {@code scores - (old - ref) * klRatio}, on every position (no mask).
     *
     * @throws IllegalArgumentException if the shapes differ
     */
    public static BatchTensor computeRewards(BatchTensor tokenLevelScores, BatchTensor oldLogProb,
                                             BatchTensor refLogProb, double klRatio) {
        tokenLevelScores.requireSameShape("tokenLevelScores", oldLogProb, "oldLogProb");
        tokenLevelScores.requireSameShape("tokenLevelScores", refLogProb, "refLogProb");
        float[] out = new float[tokenLevelScores.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (tokenLevelScores.at(i) - ((double) oldLogProb.at(i) - refLogProb.at(i)) * klRatio);
        }
        return BatchTensor.wrap(tokenLevelScores.batch(), tokenLevelScores.seq(), out);
    }

    /**
     * {@code kld = kl_penalty(old, ref) * mask}; rewards {@code scores - beta * kld} with {@code beta} the
     * controller's value; {@code currentKl} the batch mean of each row's masked mean of kld (an all-masked row
     * counts as 0); then {@code controller.update(currentKl, batch)}.
     *
     * @throws IllegalArgumentException if the shapes differ or the mask is not 0/1
     */
    public static KlRewardResult applyKlPenalty(BatchTensor tokenLevelScores, BatchTensor oldLogProb,
                                                BatchTensor refLogProb, BatchTensor responseMask,
                                                KlController controller, KlPenalty penalty) {
        tokenLevelScores.requireSameShape("tokenLevelScores", oldLogProb, "oldLogProb");
        TensorFunctions.checkMask(tokenLevelScores, responseMask);
        BatchTensor kl = penalty.apply(oldLogProb, refLogProb);
        BatchTensor kld = AdvantageEstimators.times(kl, responseMask);
        double beta = controller.value();
        float[] out = new float[kld.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (tokenLevelScores.at(i) - beta * kld.at(i));
        }
        double[] rowKl = TensorFunctions.maskedRowMeans(kld, responseMask);
        double sum = 0;
        for (double k : rowKl) {
            sum += k;
        }
        double currentKl = sum / rowKl.length;
        controller.update(currentKl, tokenLevelScores.batch());
        return new KlRewardResult(BatchTensor.wrap(kld.batch(), kld.seq(), out), currentKl, beta);
    }
}
