package io.yatt.trainer.config;

/** The task to train on: a bundled generated task, or a custom prompts file with a reward class. */
public enum TaskKind implements ConfigChoice {
    ADDITION("addition"),
    SORT("sort"),
    CUSTOM("custom");

    private final String configName;

    TaskKind(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
