package io.yatt.trainer.algo;

import java.util.List;
import java.util.Map;

/**
 * Advantage estimators, policy losses and loss aggregation modes by the names users put in configs
 * ({@code algorithm.adv_estimator}, {@code actor.policy_loss.loss_mode}, {@code actor.loss_agg_mode}), as verl's
 * {@code ADV_ESTIMATOR_REGISTRY} and {@code POLICY_LOSS_REGISTRY}: immutable maps of method references built once.
 * Thread-safe.
 */
public final class AlgorithmRegistry {

    private static final Map<String, AdvantageEstimator> ESTIMATORS = Map.ofEntries(
            Map.entry("gae", AdvantageEstimators::gae),
            Map.entry("grpo", AdvantageEstimators::grpo),
            Map.entry("grpo_passk", AdvantageEstimators::grpoPassK),
            Map.entry("grpo_vectorized", AdvantageEstimators::grpoVectorized),
            Map.entry("rloo", AdvantageEstimators::rloo),
            Map.entry("rloo_vectorized", AdvantageEstimators::rlooVectorized),
            Map.entry("remax", AdvantageEstimators::remax),
            Map.entry("reinforce_plus_plus", AdvantageEstimators::reinforcePlusPlus),
            Map.entry("reinforce_plus_plus_baseline", AdvantageEstimators::reinforcePlusPlusBaseline),
            Map.entry("opo", AdvantageEstimators::opo),
            Map.entry("gpg", AdvantageEstimators::gpg),
            Map.entry("gdpo", AdvantageEstimators::gdpo),
            Map.entry("optimal_token_baseline", AdvantageEstimators::optimalTokenBaseline),
            Map.entry("tir_optimal_token_baseline", AdvantageEstimators::multiTurnOptimalTokenBaseline));

    private static final Map<String, PolicyLoss> POLICY_LOSSES = Map.ofEntries(
            Map.entry("vanilla", PolicyLosses::vanilla),
            Map.entry("dppo_tv", PolicyLosses::dppoTv),
            Map.entry("dppo_kl", PolicyLosses::dppoKl),
            Map.entry("gspo", PolicyLosses::gspo),
            Map.entry("sapo", PolicyLosses::sapo),
            Map.entry("gpg", PolicyLosses::gpg),
            Map.entry("cispo", PolicyLosses::cispo),
            Map.entry("geo_mean", PolicyLosses::geoMean),
            Map.entry("kl_cov", PolicyLosses::klCov),
            Map.entry("clip_cov", PolicyLosses::clipCov),
            Map.entry("reinforce", PolicyLosses::reinforce));

    private static final List<String> ESTIMATOR_NAMES = ESTIMATORS.keySet().stream().sorted().toList();
    private static final List<String> POLICY_LOSS_NAMES = POLICY_LOSSES.keySet().stream().sorted().toList();

    private AlgorithmRegistry() {
    }

    /**
     * The advantage estimator registered under this name.
     *
     * @throws IllegalArgumentException naming the unknown estimator and listing the valid names
     */
    public static AdvantageEstimator advantageEstimator(String name) {
        AdvantageEstimator e = ESTIMATORS.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown advantage estimator: name=" + name + ", valid="
                    + ESTIMATOR_NAMES);
        }
        return e;
    }

    /**
     * The policy loss registered under this name.
     *
     * @throws IllegalArgumentException naming the unknown loss and listing the valid names
     */
    public static PolicyLoss policyLoss(String name) {
        PolicyLoss l = POLICY_LOSSES.get(name);
        if (l == null) {
            throw new IllegalArgumentException("unknown policy loss: name=" + name + ", valid="
                    + POLICY_LOSS_NAMES);
        }
        return l;
    }

    /**
     * The loss aggregation mode with this name.
     *
     * @throws IllegalArgumentException naming the unknown mode and listing the valid names
     */
    public static LossAggMode lossAggMode(String name) {
        return LossAggMode.fromName(name);
    }

    /** Registered advantage estimator names, sorted. */
    public static List<String> advantageEstimatorNames() {
        return ESTIMATOR_NAMES;
    }

    /** Registered policy loss names, sorted. */
    public static List<String> policyLossNames() {
        return POLICY_LOSS_NAMES;
    }

    /** Loss aggregation mode names, in declaration order. */
    public static List<String> lossAggModeNames() {
        return LossAggMode.configNames();
    }
}
