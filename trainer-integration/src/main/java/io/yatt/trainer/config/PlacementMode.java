package io.yatt.trainer.config;

/**
 * Whether all roles time-share the same ranks ({@code colocate}), the rollout has ranks of its own ({@code split}),
 * or the trainer moves the rollout between the two between iterations from measured stage times ({@code auto}).
 */
public enum PlacementMode implements ConfigChoice {
    COLOCATE("colocate"),
    SPLIT("split"),
    AUTO("auto");

    private final String configName;

    PlacementMode(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
