package io.yatt.trainer.algo;

/**
 * The actor settings policy losses read (verl's {@code ActorConfig} and {@code PolicyLossConfig}).
 *
 * @param clipRatioLow PPO clip below 1 ({@code clip_ratio_low}, falls back to {@code clip_ratio} in verl)
 * @param clipRatioHigh PPO clip above 1 ({@code clip_ratio_high})
 * @param clipRatioC dual-clip bound for negative advantages ({@code clip_ratio_c}), greater than 1
 * @param tauPos SAPO gate temperature for positive advantages
 * @param tauNeg SAPO gate temperature for non-positive advantages
 * @param clipCovRatio Clip-Cov fraction of tokens to cut ({@code policy_loss.clip_cov_ratio})
 * @param clipCovLb Clip-Cov covariance lower bound
 * @param clipCovUb Clip-Cov covariance upper bound
 * @param klCovRatio KL-Cov fraction of tokens given the KL term ({@code policy_loss.kl_cov_ratio})
 * @param ppoKlCoef KL-Cov coefficient of {@code |log_prob - old_log_prob|}
 * @param aggOptions global-batch normalisers ({@code global_batch_info})
 * @param seed seed of Clip-Cov's random choice of tokens
 */
public record PolicyLossConfig(double clipRatioLow, double clipRatioHigh, double clipRatioC, double tauPos,
                               double tauNeg, double clipCovRatio, double clipCovLb, double clipCovUb,
                               double klCovRatio, double ppoKlCoef, AggOptions aggOptions, long seed) {

    /** verl's default {@code clip_ratio}. */
    public static final double DEFAULT_CLIP_RATIO = 0.2;
    /** verl's default {@code clip_ratio_c}. */
    public static final double DEFAULT_CLIP_RATIO_C = 3.0;

    /**
     * verl's defaults: clip 0.2 both sides, dual clip 3, SAPO tau 1 / 1.05, Clip-Cov 0.0002 in (1, 5), KL-Cov
     * 0.0002 with coefficient 0.1, local aggregation, seed 0.
     */
    public static final PolicyLossConfig DEFAULTS = new PolicyLossConfig(DEFAULT_CLIP_RATIO, DEFAULT_CLIP_RATIO,
            DEFAULT_CLIP_RATIO_C, 1.0, 1.05, 0.0002, 1.0, 5.0, 0.0002, 0.1, AggOptions.LOCAL, 0L);

    /**
     * Validates the settings.
     *
     * @throws IllegalArgumentException if a clip ratio is negative, {@code clipRatioC <= 1}, a temperature is not
     *         positive, a covariance ratio is not positive, or the options are null
     */
    public PolicyLossConfig {
        if (!(clipRatioLow >= 0) || !(clipRatioHigh >= 0)) {
            throw new IllegalArgumentException("clip ratios must be non-negative: clipRatioLow=" + clipRatioLow
                    + ", clipRatioHigh=" + clipRatioHigh);
        }
        if (!(clipRatioC > 1.0)) {
            throw new IllegalArgumentException("dual-clip bound must be greater than 1: clipRatioC=" + clipRatioC);
        }
        if (!(tauPos > 0) || !(tauNeg > 0)) {
            throw new IllegalArgumentException("SAPO temperatures must be positive: tauPos=" + tauPos + ", tauNeg="
                    + tauNeg);
        }
        if (!(clipCovRatio > 0) || !(klCovRatio > 0)) {
            throw new IllegalArgumentException("covariance ratios must be positive: clipCovRatio=" + clipCovRatio
                    + ", klCovRatio=" + klCovRatio);
        }
        if (aggOptions == null) {
            throw new IllegalArgumentException("aggOptions must not be null: aggOptions=null");
        }
    }

    /** A copy with the same clip ratio on both sides. */
    public PolicyLossConfig withClipRatio(double clipRatio) {
        return withClipRatios(clipRatio, clipRatio);
    }

    /** A copy with these clip ratios (DAPO's clip-higher when high exceeds low). */
    public PolicyLossConfig withClipRatios(double low, double high) {
        return new PolicyLossConfig(low, high, clipRatioC, tauPos, tauNeg, clipCovRatio, clipCovLb, clipCovUb,
                klCovRatio, ppoKlCoef, aggOptions, seed);
    }

    /** A copy with this dual-clip bound. */
    public PolicyLossConfig withClipRatioC(double c) {
        return new PolicyLossConfig(clipRatioLow, clipRatioHigh, c, tauPos, tauNeg, clipCovRatio, clipCovLb,
                clipCovUb, klCovRatio, ppoKlCoef, aggOptions, seed);
    }

    /** A copy with these SAPO temperatures. */
    public PolicyLossConfig withTaus(double pos, double neg) {
        return new PolicyLossConfig(clipRatioLow, clipRatioHigh, clipRatioC, pos, neg, clipCovRatio, clipCovLb,
                clipCovUb, klCovRatio, ppoKlCoef, aggOptions, seed);
    }

    /** A copy with these Clip-Cov settings. */
    public PolicyLossConfig withClipCov(double ratio, double lb, double ub, long seed) {
        return new PolicyLossConfig(clipRatioLow, clipRatioHigh, clipRatioC, tauPos, tauNeg, ratio, lb, ub,
                klCovRatio, ppoKlCoef, aggOptions, seed);
    }

    /** A copy with these KL-Cov settings. */
    public PolicyLossConfig withKlCov(double ratio, double coef) {
        return new PolicyLossConfig(clipRatioLow, clipRatioHigh, clipRatioC, tauPos, tauNeg, clipCovRatio, clipCovLb,
                clipCovUb, ratio, coef, aggOptions, seed);
    }

    /** A copy with these aggregation options. */
    public PolicyLossConfig withAggOptions(AggOptions options) {
        return new PolicyLossConfig(clipRatioLow, clipRatioHigh, clipRatioC, tauPos, tauNeg, clipCovRatio, clipCovLb,
                clipCovUb, klCovRatio, ppoKlCoef, options, seed);
    }
}
