package io.yatt.trainer.algo;

/**
 * The Safe-RLHF Lagrange multiplier {@code lambda = exp(log_lambda)} that trades reward against cost. Safe-RLHF
 * minimises {@code -(J_c - d) * exp(log_lambda)} over {@code log_lambda}, where {@code J_c} is the mean episode cost
 * and {@code d} the cost threshold; this class takes one plain gradient step per update,
 * {@code log_lambda += lr * (J_c - d) * lambda} (Safe-RLHF uses Adam on the same objective), then caps
 * {@code lambda} at {@code lambdaMax}. Cost above the threshold raises lambda, cost below lowers it. Mutable;
 * confined to the training thread.
 */
public final class LagrangeMultiplier {

    private double logLambda;
    private final double lr;
    private final double costThreshold;
    private final double lambdaMax;

    private LagrangeMultiplier(double logLambda, double lr, double costThreshold, double lambdaMax) {
        this.logLambda = logLambda;
        this.lr = lr;
        this.costThreshold = costThreshold;
        this.lambdaMax = lambdaMax;
    }

    /**
     * A multiplier starting at {@code initLambda}.
     *
     * @param lambdaMax upper bound on lambda, or {@link Double#POSITIVE_INFINITY} for none
     * @throws IllegalArgumentException if initLambda is not positive, lr is negative or lambdaMax below initLambda
     */
    public static LagrangeMultiplier create(double initLambda, double lr, double costThreshold, double lambdaMax) {
        if (!(initLambda > 0 && Double.isFinite(initLambda))) {
            throw new IllegalArgumentException("initial lambda must be positive and finite: initLambda="
                    + initLambda);
        }
        if (!(lr >= 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException("lambda learning rate must be finite and non-negative: lr=" + lr);
        }
        if (!Double.isFinite(costThreshold)) {
            throw new IllegalArgumentException("cost threshold must be finite: costThreshold=" + costThreshold);
        }
        if (!(lambdaMax >= initLambda)) {
            throw new IllegalArgumentException("lambdaMax must be at least the initial lambda: lambdaMax="
                    + lambdaMax + ", initLambda=" + initLambda);
        }
        return new LagrangeMultiplier(Math.log(initLambda), lr, costThreshold, lambdaMax);
    }

    /**
     * A multiplier continuing from a saved {@link #logLambda()}, bit for bit (going through {@code lambda} would not
     * round-trip: {@code log(exp(x))} may differ from {@code x} in the last bit).
     *
     * @throws IllegalArgumentException if logLambda is not finite or above {@code log(lambdaMax)}, or lr, the
     *         threshold or lambdaMax are invalid as for {@link #create}
     */
    public static LagrangeMultiplier restore(double logLambda, double lr, double costThreshold, double lambdaMax) {
        if (!Double.isFinite(logLambda)) {
            throw new IllegalArgumentException("saved log lambda must be finite: logLambda=" + logLambda);
        }
        LagrangeMultiplier checked = create(Double.MIN_NORMAL, lr, costThreshold, lambdaMax);
        if (logLambda > Math.log(lambdaMax)) {
            throw new IllegalArgumentException("saved log lambda is above log(lambdaMax): logLambda=" + logLambda
                    + ", lambdaMax=" + lambdaMax);
        }
        checked.logLambda = logLambda;
        return checked;
    }

    /** The state a resume needs: {@code log_lambda}, exactly. */
    public double logLambda() {
        return logLambda;
    }

    /** The current multiplier, {@code exp(log_lambda)}. */
    public double lambda() {
        return Math.exp(logLambda);
    }

    /**
     * One update from the episode costs of a batch (one cost per response): {@code J_c} is their mean.
     *
     * @return the new lambda
     * @throws IllegalArgumentException if there are no costs or their mean is not finite
     */
    public double update(double[] episodeCosts) {
        if (episodeCosts.length == 0) {
            throw new IllegalArgumentException("no episode costs: length=0");
        }
        double sum = 0;
        for (double c : episodeCosts) {
            sum += c;
        }
        return update(sum / episodeCosts.length);
    }

    /**
     * One update from the mean episode cost.
     *
     * @return the new lambda
     * @throws IllegalArgumentException if the cost is not finite (lambda is left unchanged)
     */
    public double update(double meanEpisodeCost) {
        if (!Double.isFinite(meanEpisodeCost)) {
            throw new IllegalArgumentException("mean episode cost must be finite: meanEpisodeCost="
                    + meanEpisodeCost);
        }
        logLambda += lr * (meanEpisodeCost - costThreshold) * Math.exp(logLambda);
        logLambda = Math.min(logLambda, Math.log(lambdaMax));
        return lambda();
    }
}
