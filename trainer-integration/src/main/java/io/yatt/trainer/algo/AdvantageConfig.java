package io.yatt.trainer.algo;

/**
 * The algorithm settings advantage estimators read (verl's {@code AlgoConfig}: {@code gamma}, {@code lam},
 * {@code norm_adv_by_std_in_grpo}) and the group epsilon verl passes as a default argument.
 *
 * @param gamma discount factor, in {@code [0, 1]}
 * @param lam GAE lambda, in {@code [0, 1]}
 * @param normAdvByStdInGrpo whether GRPO (and pass@k) divide by the group standard deviation
 * @param epsilon added to the group standard deviation before dividing (verl: 1e-6)
 */
public record AdvantageConfig(double gamma, double lam, boolean normAdvByStdInGrpo, double epsilon) {

    /** verl's {@code compute_grpo_outcome_advantage} default epsilon. */
    public static final double GRPO_EPSILON = 1e-6;

    /** verl's defaults: gamma 1, lam 1, std normalisation on, epsilon 1e-6. */
    public static final AdvantageConfig DEFAULTS = new AdvantageConfig(1.0, 1.0, true, GRPO_EPSILON);

    /**
     * Validates the settings.
     *
     * @throws IllegalArgumentException if gamma or lam is outside [0, 1] or epsilon is negative or not finite
     */
    public AdvantageConfig {
        if (!(gamma >= 0 && gamma <= 1)) {
            throw new IllegalArgumentException("gamma must be in [0, 1]: gamma=" + gamma);
        }
        if (!(lam >= 0 && lam <= 1)) {
            throw new IllegalArgumentException("lam must be in [0, 1]: lam=" + lam);
        }
        if (!(epsilon >= 0 && Double.isFinite(epsilon))) {
            throw new IllegalArgumentException("epsilon must be finite and non-negative: epsilon=" + epsilon);
        }
    }

    /** A copy with this gamma and lam. */
    public AdvantageConfig withGammaLam(double gamma, double lam) {
        return new AdvantageConfig(gamma, lam, normAdvByStdInGrpo, epsilon);
    }

    /** A copy with std normalisation on or off (off is Dr. GRPO). */
    public AdvantageConfig withNormAdvByStd(boolean norm) {
        return new AdvantageConfig(gamma, lam, norm, epsilon);
    }
}
