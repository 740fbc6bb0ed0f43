package io.yatt.trainer.config;

/** The learning-rate schedule after linear warm-up: constant, or cosine decay to {@code min_lr_ratio}. */
public enum WarmupStyle implements ConfigChoice {
    CONSTANT("constant"),
    COSINE("cosine");

    private final String configName;

    WarmupStyle(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
