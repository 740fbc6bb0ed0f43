package io.yatt.trainer.config;

/** The KL coefficient controller for KL in the reward: fixed, or adaptive towards a target KL. */
public enum KlControlType implements ConfigChoice {
    FIXED("fixed"),
    ADAPTIVE("adaptive");

    private final String configName;

    KlControlType(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
