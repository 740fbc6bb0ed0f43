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

    /**
     * The config overrides of the command line's {@code --resume auto|PATH|none}: {@code auto} and {@code none} set
     * {@code trainer.resume_mode} to {@code auto} and {@code disable}; anything else is a checkpoint folder
     * ({@code resume_path} with {@code trainer.resume_from_path}).
     *
     * @throws ConfigException if the argument is blank
     */
    public static java.util.List<String> cliOverrides(String resume) {
        if (resume == null || resume.isBlank()) {
            throw new ConfigException("--resume needs auto, none or a checkpoint folder: resume='" + resume + "'");
        }
        return switch (resume.trim()) {
            case "auto" -> java.util.List.of("trainer.resume_mode=auto");
            case "none" -> java.util.List.of("trainer.resume_mode=disable");
            default -> java.util.List.of("trainer.resume_mode=resume_path", "trainer.resume_from_path=" + resume.trim());
        };
    }
}
