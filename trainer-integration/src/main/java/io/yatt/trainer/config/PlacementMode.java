package io.yatt.trainer.config;

/** Whether all roles time-share the same ranks ({@code colocate}) or the rollout has ranks of its own ({@code split}). */
public enum PlacementMode implements ConfigChoice {
    COLOCATE("colocate"),
    SPLIT("split");

    private final String configName;

    PlacementMode(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
