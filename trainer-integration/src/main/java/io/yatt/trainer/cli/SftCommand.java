package io.yatt.trainer.cli;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code yatt sft}: the supervised warm start on the task's demonstrations, written as a Hugging Face checkpoint. */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = {"Supervised warm start on the task's demonstrations (the train config's task and model sizes);",
            "prints the held-out greedy mean reward and writes an HF checkpoint."})
final class SftCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", description = "YAML config file (as for yatt train).")
    Path config;

    @Option(names = "--steps", defaultValue = "" + Sft.DEFAULT_STEPS,
            description = "Optimiser steps; default ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--batch-size", defaultValue = "32", description = "Demonstrations per step; default ${DEFAULT-VALUE}.")
    int batchSize;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Learning rate; default ${DEFAULT-VALUE}.")
    double lr;

    @Option(names = "--out", description = "Checkpoint folder; default <trainer.runs_dir>/<trainer.experiment_name>/sft.")
    Path out;

    @Parameters(description = "Dotted config overrides, key=value.")
    List<String> overrides = new ArrayList<>();

    @Override
    public Integer call() {
        TrainConfig cfg;
        Sft.Settings settings;
        try {
            cfg = config == null ? TrainConfig.defaults().withOverrides(overrides) : TrainConfig.load(config, overrides);
            settings = new Sft.Settings(steps, batchSize, lr, cfg.trainer().seed());
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        PrintWriter o = spec.commandLine().getOut();
        Task task = Task.fromConfig(cfg, Thread.currentThread().getContextClassLoader());
        LlamaConfig model = Sft.modelConfig(cfg, task);
        int responseLength = cfg.actorRolloutRef().rollout().responseLength();
        long t0 = System.nanoTime();
        Sft.Result result = Sft.train(model, task, settings, line -> {
            o.println(line);
            o.flush();
        });
        double reward = Sft.evaluate(model, result.weights(), 1, task, task.heldOutPrompts(), responseLength);
        Path dir = out != null ? out
                : Path.of(cfg.trainer().runsDir(), cfg.trainer().experimentName(), "sft");
        LlamaCheckpoint.save(dir, model, Head.LANGUAGE_MODEL, result.weights(), 1);
        o.printf("sft: %d steps in %.1f s, held-out greedy mean reward %.4f over %d prompts, wrote %s%n", steps,
                (System.nanoTime() - t0) / 1e9, reward, task.heldOutPrompts().size(), dir);
        o.flush();
        return 0;
    }
}
