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
        return applyKlPenalty(tokenLevelScores, oldLogProb, refLogProb, responseMask, controller, penalty,
                BatchShard.whole(tokenLevelScores.batch()));
    }

    /**
     * {@link #applyKlPenalty(BatchTensor, BatchTensor, BatchTensor, BatchTensor, KlController, KlPenalty)} of a batch
     * spread over ranks: the tensors hold this rank's rows and the rewards are those rows', while {@code currentKl}
     * is the whole batch's (every row's masked mean, added in batch order: the same on every rank and for any
     * spread) and the controller is updated with the whole batch's size. Collective over the shard's ranks.
     *
     * @throws IllegalArgumentException if the shapes differ, the mask is not 0/1 or the tensors do not hold the
     *         shard's local rows
     */
    public static KlRewardResult applyKlPenalty(BatchTensor tokenLevelScores, BatchTensor oldLogProb,
                                                BatchTensor refLogProb, BatchTensor responseMask,
                                                KlController controller, KlPenalty penalty, BatchShard shard) {
        tokenLevelScores.requireSameShape("tokenLevelScores", oldLogProb, "oldLogProb");
        TensorFunctions.checkMask(tokenLevelScores, responseMask);
        shard.requireLocal("tokenLevelScores", tokenLevelScores);
        BatchTensor kl = penalty.apply(oldLogProb, refLogProb);
        BatchTensor kld = AdvantageEstimators.times(kl, responseMask);
        double beta = controller.value();
        float[] out = new float[kld.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (tokenLevelScores.at(i) - beta * kld.at(i));
        }
        double[] rowKl = shard.allRows(TensorFunctions.maskedRowMeans(kld, responseMask), 1);
        double sum = 0;
        for (double k : rowKl) {
            sum += k;
        }
        double currentKl = sum / rowKl.length;
        controller.update(currentKl, shard.batch());
        return new KlRewardResult(BatchTensor.wrap(kld.batch(), kld.seq(), out), currentKl, beta);
    }
}
