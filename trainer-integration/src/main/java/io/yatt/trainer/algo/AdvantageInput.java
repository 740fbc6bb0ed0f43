package io.yatt.trainer.algo;

/**
 * The tensors advantage estimators read, validated once: token-level rewards and the response mask always; values
 * (GAE), group ids (the prompt a response answers: GRPO, RLOO, OPO, GPG, pass@k, REINFORCE++ baseline, optimal token
 * baseline), reward baselines (ReMax), old log-probs and the per-token sum of squared probabilities (optimal token
 * baseline) and rollout importance weights (optional there) when the estimator needs them. Immutable.
 */
public final class AdvantageInput {

    private final BatchTensor tokenLevelRewards;
    private final BatchTensor responseMask;
    private final BatchTensor values;
    private final int[] groupIds;
    private final float[] rewardBaselines;
    private final BatchTensor oldLogProbs;
    private final BatchTensor sumPiSquared;
    private final BatchTensor rolloutIsWeights;

    private AdvantageInput(Builder b) {
        this.tokenLevelRewards = b.tokenLevelRewards;
        this.responseMask = b.responseMask;
        this.values = b.values;
        this.groupIds = b.groupIds;
        this.rewardBaselines = b.rewardBaselines;
        this.oldLogProbs = b.oldLogProbs;
        this.sumPiSquared = b.sumPiSquared;
        this.rolloutIsWeights = b.rolloutIsWeights;
    }

    /**
     * A builder with the two tensors every estimator reads.
     *
     * @throws IllegalArgumentException if the shapes differ or the mask is not 0/1
     */
    public static Builder builder(BatchTensor tokenLevelRewards, BatchTensor responseMask) {
        tokenLevelRewards.requireSameShape("tokenLevelRewards", responseMask, "responseMask");
        responseMask.requireMask("responseMask");
        return new Builder(tokenLevelRewards, responseMask);
    }

    /** Token-level rewards, {@code [batch, seq]}. */
    public BatchTensor tokenLevelRewards() {
        return tokenLevelRewards;
    }

    /** Response mask, {@code [batch, seq]}, 0/1. */
    public BatchTensor responseMask() {
        return responseMask;
    }

    BatchTensor values(String estimator) {
        return require(values, estimator, "values");
    }

    int[] groupIds(String estimator) {
        return require(groupIds, estimator, "groupIds");
    }

    float[] rewardBaselines(String estimator) {
        return require(rewardBaselines, estimator, "rewardBaselines");
    }

    BatchTensor oldLogProbs(String estimator) {
        return require(oldLogProbs, estimator, "oldLogProbs");
    }

    BatchTensor sumPiSquared(String estimator) {
        return require(sumPiSquared, estimator, "sumPiSquared");
    }

    /** Rollout importance weights, or null when not given. */
    BatchTensor rolloutIsWeightsOrNull() {
        return rolloutIsWeights;
    }

    private static <T> T require(T v, String estimator, String name) {
        if (v == null) {
            throw new IllegalArgumentException("advantage estimator needs " + name + ": estimator=" + estimator
                    + ", " + name + "=null");
        }
        return v;
    }

    /** Collects the optional inputs; each setter checks the shape against the rewards. Confined to one thread. */
    public static final class Builder {
        private final BatchTensor tokenLevelRewards;
        private final BatchTensor responseMask;
        private BatchTensor values;
        private int[] groupIds;
        private float[] rewardBaselines;
        private BatchTensor oldLogProbs;
        private BatchTensor sumPiSquared;
        private BatchTensor rolloutIsWeights;

        private Builder(BatchTensor tokenLevelRewards, BatchTensor responseMask) {
            this.tokenLevelRewards = tokenLevelRewards;
            this.responseMask = responseMask;
        }

        /**
         * Critic values, {@code [batch, seq]} (GAE).
         *
         * @throws IllegalArgumentException if the shape differs from the rewards
         */
        public Builder values(BatchTensor v) {
            tokenLevelRewards.requireSameShape("tokenLevelRewards", v, "values");
            this.values = v;
            return this;
        }

        /**
         * One group id per sequence: responses to the same prompt share an id (verl's {@code uid}).
         *
         * @throws IllegalArgumentException if the length is not the batch size
         */
        public Builder groupIds(int[] ids) {
            requireBatchLength("groupIds", ids.length);
            this.groupIds = ids.clone();
            return this;
        }

        /**
         * One reward baseline per sequence (ReMax: the reward of the greedy response).
         *
         * @throws IllegalArgumentException if the length is not the batch size
         */
        public Builder rewardBaselines(float[] baselines) {
            requireBatchLength("rewardBaselines", baselines.length);
            this.rewardBaselines = baselines.clone();
            return this;
        }

        /**
         * Log-probabilities of the sampled tokens under the rollout-time policy (optimal token baseline).
         *
         * @throws IllegalArgumentException if the shape differs from the rewards
         */
        public Builder oldLogProbs(BatchTensor v) {
            tokenLevelRewards.requireSameShape("tokenLevelRewards", v, "oldLogProbs");
            this.oldLogProbs = v;
            return this;
        }

        /**
         * Per-token {@code sum_v pi(v)^2} over the vocabulary (optimal token baseline).
         *
         * @throws IllegalArgumentException if the shape differs from the rewards
         */
        public Builder sumPiSquared(BatchTensor v) {
            tokenLevelRewards.requireSameShape("tokenLevelRewards", v, "sumPiSquared");
            this.sumPiSquared = v;
            return this;
        }

        /**
         * Truncated rollout importance weights (optional for the optimal token baseline).
         *
         * @throws IllegalArgumentException if the shape differs from the rewards
         */
        public Builder rolloutIsWeights(BatchTensor v) {
            tokenLevelRewards.requireSameShape("tokenLevelRewards", v, "rolloutIsWeights");
            this.rolloutIsWeights = v;
            return this;
        }

        /** The input. */
        public AdvantageInput build() {
            return new AdvantageInput(this);
        }

        private void requireBatchLength(String name, int length) {
            if (length != tokenLevelRewards.batch()) {
                throw new IllegalArgumentException(name + " length does not match batch: length=" + length
                        + ", batch=" + tokenLevelRewards.batch());
            }
        }
    }
}
