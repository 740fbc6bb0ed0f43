package io.yatt.controller.placement;

/** Where the actor's rollout runs between iterations of a training run (WeChat-YATT's dynamic placement). */
public enum RuntimePlacement {
    /** Full colocation: every stage time-shares the training ranks, the weights move by resharding. */
    COLOCATE("colocate"),
    /** Partial colocation: the rollout runs on ranks of its own, the weights move by weight sync. */
    SPLIT("split");

    private final String configName;

    RuntimePlacement(String configName) {
        this.configName = configName;
    }

    /** The name in configs and logs. */
    public String configName() {
        return configName;
    }

    /** The other placement. */
    public RuntimePlacement other() {
        return this == COLOCATE ? SPLIT : COLOCATE;
    }
}
