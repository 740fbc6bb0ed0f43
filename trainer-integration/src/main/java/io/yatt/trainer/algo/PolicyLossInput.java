package io.yatt.trainer.algo;

/**
 * The tensors a policy loss reads, all {@code [batch, seq]} and checked once: log-probabilities of the sampled
 * tokens under the rollout-time policy and the current one, advantages, the response mask, and optional rollout
 * importance weights that multiply the per-token loss (verl's {@code rollout_is_weights}).
 *
 * @param oldLogProb log-probabilities under the policy that generated the batch ({@code old_log_prob})
 * @param logProb log-probabilities under the current policy; the returned gradient is with respect to these
 * @param advantages per-token advantages
 * @param responseMask 0/1 mask of the tokens that count
 * @param rolloutIsWeights per-token weights, or null for none
 */
public record PolicyLossInput(BatchTensor oldLogProb, BatchTensor logProb, BatchTensor advantages,
                              BatchTensor responseMask, BatchTensor rolloutIsWeights) {

    /**
     * Validates shapes and the mask.
     *
     * @throws IllegalArgumentException if a shape differs from {@code logProb} or the mask is not 0/1
     * @throws NullPointerException if a required tensor is null
     */
    public PolicyLossInput {
        logProb.requireSameShape("logProb", oldLogProb, "oldLogProb");
        logProb.requireSameShape("logProb", advantages, "advantages");
        logProb.requireSameShape("logProb", responseMask, "responseMask");
        responseMask.requireMask("responseMask");
        if (rolloutIsWeights != null) {
            logProb.requireSameShape("logProb", rolloutIsWeights, "rolloutIsWeights");
        }
    }

    /** An input without rollout importance weights. */
    public static PolicyLossInput of(BatchTensor oldLogProb, BatchTensor logProb, BatchTensor advantages,
                                     BatchTensor responseMask) {
        return new PolicyLossInput(oldLogProb, logProb, advantages, responseMask, null);
    }

    /** A copy with these rollout importance weights. */
    public PolicyLossInput withRolloutIsWeights(BatchTensor weights) {
        return new PolicyLossInput(oldLogProb, logProb, advantages, responseMask, weights);
    }
}
