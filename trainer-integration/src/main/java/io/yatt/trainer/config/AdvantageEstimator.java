package io.yatt.trainer.config;

/** Advantage estimators under verl's names ({@code algorithm.adv_estimator}). */
public enum AdvantageEstimator implements ConfigChoice {
    GAE("gae"),
    GRPO("grpo"),
    REMAX("remax"),
    RLOO("rloo"),
    REINFORCE_PLUS_PLUS("reinforce_plus_plus"),
    REINFORCE_PLUS_PLUS_BASELINE("reinforce_plus_plus_baseline"),
    SAFE_RLHF("safe_rlhf");

    private final String configName;

    AdvantageEstimator(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
