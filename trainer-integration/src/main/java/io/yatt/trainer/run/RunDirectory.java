package io.yatt.trainer.run;

import io.yatt.trainer.config.ResumeMode;
import io.yatt.trainer.config.TrainConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The folder of one run, {@code <trainer.runs_dir>/<trainer.experiment_name>/}: {@value #CONFIG} (the resolved
 * config), {@value MetricsLog#JSONL}, {@value MetricsLog#CSV}, {@value #PLOTS}/ (PNG), {@value #SUMMARY} and
 * {@value #CHECKPOINTS}/ ({@link CheckpointStore}). Immutable; the files it names are written by one controller.
 */
public final class RunDirectory {

    /** The resolved config, every key written. */
    public static final String CONFIG = "config.yaml";
    /** The end-of-run summary table. */
    public static final String SUMMARY = "summary.txt";
    /** Folder of the PNG plots. */
    public static final String PLOTS = "plots";
    /** Folder of the checkpoints. */
    public static final String CHECKPOINTS = "checkpoints";

    /**
     * Config keys a resumed run must share with the checkpoint it resumes: what the weights, the prompt split and the
     * sampler position mean. Layouts, controllers and backend may differ (checkpoints are layout-independent).
     */
    public static final List<String> COMPATIBILITY_KEYS = List.of(
            "data.task", "data.train_files", "data.train_size", "data.val_size", "data.seed",
            "actor_rollout_ref.model.hidden_size", "actor_rollout_ref.model.num_hidden_layers",
            "actor_rollout_ref.model.num_attention_heads", "actor_rollout_ref.model.num_key_value_heads",
            "actor_rollout_ref.model.intermediate_size", "algorithm.adv_estimator", "trainer.seed");

    private final Path path;
    private final CheckpointStore checkpoints;

    private RunDirectory(Path path) {
        this.path = path;
        this.checkpoints = CheckpointStore.at(path.resolve(CHECKPOINTS));
    }

    /**
     * Opens (creating if needed) the folder the config names and saves the resolved config in it. With
     * {@code trainer.resume_mode=disable} a folder that already holds metrics or checkpoints is refused, so a fresh
     * run never mixes with an old one.
     *
     * @throws IllegalStateException if the folder holds a run and resume is disabled, naming the folder
     * @throws UncheckedIOException if the folder or config cannot be written
     */
    public static RunDirectory open(TrainConfig config) {
        return open(Path.of(config.trainer().runsDir(), config.trainer().experimentName()), config);
    }

    /**
     * {@link #open(TrainConfig)} at an explicit folder.
     *
     * @throws IllegalStateException if the folder holds a run and resume is disabled, naming the folder
     * @throws UncheckedIOException if the folder or config cannot be written
     */
    public static RunDirectory open(Path folder, TrainConfig config) {
        try {
            if (config.trainer().resumeMode() == ResumeMode.DISABLE && holdsRun(folder)) {
                throw new IllegalStateException("run folder already holds a run: path=" + folder + "; set "
                        + "trainer.resume_mode=auto to continue it or choose another trainer.experiment_name");
            }
            Files.createDirectories(folder.resolve(PLOTS));
            RunDirectory run = new RunDirectory(folder);
            AtomicFiles.writeString(folder.resolve(CONFIG), config.toYaml());
            return run;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare run folder: path=" + folder, e);
        }
    }

    private static boolean holdsRun(Path folder) throws IOException {
        Path metrics = folder.resolve(MetricsLog.JSONL);
        if (Files.exists(metrics) && Files.size(metrics) > 0) {
            return true;
        }
        Path checkpoints = folder.resolve(CHECKPOINTS);
        return Files.isDirectory(checkpoints) && !CheckpointStore.at(checkpoints).publishedSteps().isEmpty();
    }

    /**
     * The checkpoint to resume from, per {@code trainer.resume_mode}: {@code auto} the newest one of this run that
     * verifies (none: a fresh start), {@code resume_path} the folder {@code trainer.resume_from_path} (refused if it
     * does not verify), {@code disable} none. Stale temporary folders of dead writers are removed first.
     *
     * @throws CheckpointException if {@code resume_path} names a checkpoint that does not verify
     */
    public CheckpointStore.Resolution resolveResume(TrainConfig config) {
        checkpoints.removeStaleTemporaries();
        return switch (config.trainer().resumeMode()) {
            case AUTO -> checkpoints.latestValid();
            case RESUME_PATH -> new CheckpointStore.Resolution(
                    Optional.of(CheckpointStore.open(Path.of(config.trainer().resumeFromPath()))), List.of());
            case DISABLE -> new CheckpointStore.Resolution(Optional.empty(), List.of());
        };
    }

    /**
     * The meta to write with every checkpoint and to require on resume ({@link Checkpoint#requireMeta(Map)}): the
     * {@link #COMPATIBILITY_KEYS} of {@code config} as text.
     */
    public static Map<String, String> compatibilityMeta(TrainConfig config) {
        Map<String, String> meta = new LinkedHashMap<>();
        for (String key : COMPATIBILITY_KEYS) {
            meta.put(key, String.valueOf(config.value(key)));
        }
        return meta;
    }

    /** The run folder. */
    public Path path() {
        return path;
    }

    /** The folder of the PNG plots. */
    public Path plots() {
        return path.resolve(PLOTS);
    }

    /** The run's checkpoints. */
    public CheckpointStore checkpoints() {
        return checkpoints;
    }

    /**
     * Opens the metrics log keeping the steps through {@code keepThroughStep} (the resumed checkpoint's step, or 0).
     *
     * @throws UncheckedIOException if the files cannot be written
     */
    public MetricsLog openMetrics(long keepThroughStep) {
        return MetricsLog.open(path, keepThroughStep);
    }

    /**
     * Writes the summary table to {@value #SUMMARY} (atomically).
     *
     * @throws UncheckedIOException if it cannot be written
     */
    public void writeSummary(String summary) {
        try {
            AtomicFiles.writeString(path.resolve(SUMMARY), summary);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write summary: path=" + path.resolve(SUMMARY), e);
        }
    }
}
