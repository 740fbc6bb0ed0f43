package io.yatt.trainer.config;

/** Where a run starts: the latest valid checkpoint of the run if any ({@code auto}), a given checkpoint, or fresh. */
public enum ResumeMode implements ConfigChoice {
    AUTO("auto"),
    RESUME_PATH("resume_path"),
    DISABLE("disable");

    private final String configName;

    ResumeMode(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
