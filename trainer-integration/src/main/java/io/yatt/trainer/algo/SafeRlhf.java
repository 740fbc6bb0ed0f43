package io.yatt.trainer.algo;

/**
 * Safe-RLHF's advantages (Dai et al., 2023): cost advantages by GAE on a cost model's token-level costs and a cost
 * critic's values, and the combined actor advantage {@code (A_r - lambda A_c) / (1 + lambda)} with lambda from a
 * {@link LagrangeMultiplier}. Not part of verl; the GAE is verl's masked recursion. Stateless and thread-safe.
 */
public final class SafeRlhf {

    private SafeRlhf() {
    }

    /**
     * Cost advantages and returns: {@link AdvantageEstimators#gae} on the costs and cost values (returns
     * {@code A + V_c}). With {@code whiten} the advantages are whitened over the mask as verl whitens reward
     * advantages; Safe-RLHF itself does not whiten. Higher advantage means more cost.
     *
     * @throws IllegalArgumentException if the shapes differ, the mask is not 0/1, or (whitening) fewer than two tokens
     *         are unmasked
     */
    public static AdvantageResult costAdvantages(BatchTensor tokenLevelCosts, BatchTensor costValues,
                                                 BatchTensor responseMask, double gamma, double lam,
                                                 boolean whiten) {
        return costAdvantages(tokenLevelCosts, costValues, responseMask, gamma, lam, whiten,
                BatchShard.whole(tokenLevelCosts.batch()));
    }

    /**
     * {@link #costAdvantages(BatchTensor, BatchTensor, BatchTensor, double, double, boolean)} of a batch spread over
     * ranks (this rank's rows; whitened over the whole batch, see
     * {@link AdvantageEstimators#estimate(String, AdvantageInput, AdvantageConfig, BatchShard)}). Collective over the
     * shard's ranks when whitening.
     *
     * @throws IllegalArgumentException if the shapes differ, fewer than two tokens of the whole batch are unmasked
     *         (when whitening) or the tensors do not hold the shard's local rows
     */
    public static AdvantageResult costAdvantages(BatchTensor tokenLevelCosts, BatchTensor costValues,
                                                 BatchTensor responseMask, double gamma, double lam,
                                                 boolean whiten, BatchShard shard) {
        AdvantageInput in = AdvantageInput.builder(tokenLevelCosts, responseMask).values(costValues).build();
        AdvantageConfig cfg = AdvantageConfig.DEFAULTS.withGammaLam(gamma, lam);
        shard.requireLocal("tokenLevelCosts", tokenLevelCosts);
        return whiten ? AdvantageEstimators.estimate("gae", in, cfg, shard)
                : AdvantageEstimators.gaeUnwhitened(in, cfg);
    }

    /**
     * The actor's advantage {@code (A_r - lambda A_c) / (1 + lambda)}, element-wise.
     *
     * @throws IllegalArgumentException if the shapes differ or lambda is negative
     */
    public static BatchTensor combinedAdvantages(BatchTensor rewardAdvantages, BatchTensor costAdvantages,
                                                 double lambda) {
        rewardAdvantages.requireSameShape("rewardAdvantages", costAdvantages, "costAdvantages");
        if (!(lambda >= 0)) {
            throw new IllegalArgumentException("lambda must be non-negative: lambda=" + lambda);
        }
        float[] out = new float[rewardAdvantages.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((rewardAdvantages.at(i) - lambda * costAdvantages.at(i)) / (1 + lambda));
        }
        return BatchTensor.wrap(rewardAdvantages.batch(), rewardAdvantages.seq(), out);
    }
}
