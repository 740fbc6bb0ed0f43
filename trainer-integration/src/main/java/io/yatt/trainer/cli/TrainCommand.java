package io.yatt.trainer.cli;

import io.yatt.trainer.config.Launch;
import io.yatt.trainer.config.ResumeMode;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.loop.RlhfLoop;
import io.yatt.trainer.model.Gemm;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.run.Checkpoint;
import io.yatt.trainer.run.CheckpointStore;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.Progress;
import io.yatt.trainer.run.RunDirectory;
import io.yatt.trainer.run.RunRecorder;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.Task;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code yatt train}: the RLHF loop, embedded by default (4 in-process ranks, colocated roles, PPO on addition). */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a policy with RL (the embedded default with no arguments): SFT warm start, then",
            "PPO/GRPO/ReMax/RLOO/REINFORCE++/Safe-RLHF steps; outputs in <trainer.runs_dir>/<trainer.experiment_name>."})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", description = "YAML config file; keys not given keep their defaults.")
    Path config;

    @Option(names = "--resume", description = "auto, none or a checkpoint folder (trainer.resume_mode).")
    String resume;

    @Option(names = "--sft-checkpoint", description = "Starting policy (HF checkpoint folder); default: the run's "
            + "sft/ folder, written by a warm start first if absent.")
    Path sftCheckpoint;

    @Option(names = "--sft-steps", defaultValue = "" + Sft.DEFAULT_STEPS,
            description = "Warm-start steps when one runs; default ${DEFAULT-VALUE}.")
    int sftSteps;

    @Parameters(description = "Dotted config overrides, key=value.")
    List<String> overrides = new ArrayList<>();

    /** Exit code after SIGINT: 128 + 2. */
    static final int INTERRUPTED_EXIT = 130;

    /**
     * On SIGINT, sets the flag the loop polls after each step (it then checkpoints and stops); a second SIGINT ends
     * the process at once.
     */
    private static void installInterruptHandler(AtomicBoolean flag) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> {
                if (!flag.compareAndSet(false, true)) {
                    Runtime.getRuntime().halt(INTERRUPTED_EXIT);
                }
            });
        } catch (IllegalArgumentException e) {
            // no SIGINT on this platform or it is reserved: the run cannot be interrupted gracefully
        }
    }

    /**
     * Controller {@code i > 0} of an external launch with {@code trainer.controllers} C > 1 (rendezvous rank i): it
     * drives its training DP slice's workers and follows controller 0's run-level choices (resume, checkpoints, when
     * to stop), which controller 0 shares through the controllers' mesh; the run's folder, metrics and checkpoints are
     * controller 0's, so this one writes nothing. Its starting policy is the same warm start (or {@code
     * --sft-checkpoint}), computed here: the warm start is deterministic.
     */
    private int runFollower(TrainConfig cfg, Task task, LlamaConfig model, RlhfLoop.ExternalLaunch external,
                            PrintWriter out, long start) {
        int index = external.rendezvous().rank();
        Map<String, float[]> policy;
        if (sftCheckpoint != null) {
            LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(sftCheckpoint, cfg.parallel().layout().train().t());
            if (!loaded.config().equals(model) || loaded.head() != Head.LANGUAGE_MODEL) {
                throw new IllegalArgumentException("starting policy does not match the run's model: path="
                        + sftCheckpoint + ", checkpoint=" + loaded.config() + ", run=" + model);
            }
            policy = loaded.weights();
        } else {
            policy = Sft.train(model, task, new Sft.Settings(sftSteps, Sft.Settings.DEFAULT.batchSize(),
                    Sft.Settings.DEFAULT.lr(), cfg.trainer().seed()), line -> { }).weights();
        }
        RlhfLoop.Options options = new RlhfLoop.Options(null, RunDirectory.compatibilityMeta(cfg), null, () -> false,
                line -> { }).withExternal(external);
        RlhfLoop.run(cfg, task, model, policy, options, sm -> { });
        out.printf("controller %d of %d: done in %.1f s (the run's outputs are controller 0's)%n", index,
                cfg.trainer().controllers(), (System.nanoTime() - start) / 1e9);
        out.flush();
        return 0;
    }

    /**
     * What controller 0 handled in this invocation: the payload bytes its control plane encoded and decoded (call
     * arguments and results, init and the final save included) in all, the mean over the steps run (each step's
     * calls, evaluation and checkpoint included); one line, so that a script comparing runs
     * (scripts/bench-controllers) can parse it.
     */
    static String controllerLine(RlhfLoop.Result result) {
        List<Long> steps = result.stepPayloadBytes();
        long stepTotal = steps.stream().mapToLong(Long::longValue).sum();
        return String.format("controller 0: %d payload bytes encoded and decoded, %d per step over %d steps",
                result.controllerPayloadBytes(), steps.isEmpty() ? 0 : stepTotal / steps.size(), steps.size());
    }

    @Override
    public Integer call() {
        TrainConfig cfg;
        try {
            List<String> all = new ArrayList<>(overrides);
            if (resume != null) {
                all.addAll(ResumeMode.cliOverrides(resume));
            }
            cfg = config == null ? TrainConfig.defaults().withOverrides(all) : TrainConfig.load(config, all);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        long start = System.nanoTime();
        // the ranks are threads that multiply at once (Gemm's contract); set before the SFT warm-up too, so that its
        // policy is the same whichever JVM computes it (a fresh one, or one that ran a loop before)
        Gemm.oneBlasThreadPerCall();
        Task task = Task.fromConfig(cfg, Thread.currentThread().getContextClassLoader());
        LlamaConfig model = Sft.modelConfig(cfg, task);
        RlhfLoop.ExternalLaunch external = cfg.trainer().launch() == Launch.EXTERNAL
                ? RlhfLoop.ExternalLaunch.fromEnvironment(System.getenv()) : null;
        if (external != null && external.rendezvous().rank() > 0) {
            return runFollower(cfg, task, model, external, out, start);
        }
        RunDirectory run = RunDirectory.open(cfg);
        Path sftDir = sftCheckpoint != null ? sftCheckpoint : run.path().resolve("sft");
        if (sftCheckpoint == null && !Files.exists(sftDir.resolve(LlamaCheckpoint.CONFIG_FILE))) {
            Sft.Result sft = Sft.train(model, task, new Sft.Settings(sftSteps, Sft.Settings.DEFAULT.batchSize(),
                    Sft.Settings.DEFAULT.lr(), cfg.trainer().seed()), line -> {
                        out.println(line);
                        out.flush();
                    });
            LlamaCheckpoint.save(sftDir, model, Head.LANGUAGE_MODEL, sft.weights(), 1);
            out.println("sft: wrote " + sftDir);
        }
        int tp = cfg.parallel().layout().train().t();
        LlamaCheckpoint.Loaded policy = LlamaCheckpoint.load(sftDir, tp);
        if (!policy.config().equals(model) || policy.head() != Head.LANGUAGE_MODEL) {
            throw new IllegalArgumentException("starting policy does not match the run's model: path=" + sftDir
                    + ", checkpoint=" + policy.config() + ", run=" + model);
        }
        int total = cfg.trainer().totalTrainingSteps();
        CheckpointStore.Resolution resolution = run.resolveResume(cfg);
        for (String skipped : resolution.skipped()) {
            out.println("resume: skipped " + skipped);
        }
        Checkpoint from = resolution.checkpoint().orElse(null);
        Map<String, String> meta = RunDirectory.compatibilityMeta(cfg);
        long resumed = 0;
        if (from != null) {
            from.requireMeta(meta);
            resumed = from.step();
            if (resumed > total) {
                throw new IllegalArgumentException("checkpoint is past trainer.total_training_steps: path="
                        + from.path() + ", step=" + resumed + ", trainer.total_training_steps=" + total);
            }
            out.println("resume: from " + from.path() + " (step " + resumed + ")");
        }
        out.flush();
        AtomicBoolean interrupted = new AtomicBoolean();
        installInterruptHandler(interrupted);
        RlhfLoop.Options options = new RlhfLoop.Options(run.checkpoints(), meta, from, interrupted::get, line -> {
            out.println(line);
            out.flush();
        });
        if (external != null) {
            // the workers (and any other controllers) are started by torchrun, Slurm or Open MPI: this process is
            // rendezvous rank 0, controller 0
            options = options.withExternal(external);
        }
        boolean interactive = Progress.isInteractive(System.console() != null, System.getenv("CI"));
        RlhfLoop.Result result;
        String summary;
        try (RunRecorder recorder = RunRecorder.start(run, resumed, cfg.trainer().plotFreq());
             Progress progress = Progress.create("train", resumed, total, interactive, System.out)) {
            result = RlhfLoop.run(cfg, task, model, policy.weights(), options, sm -> {
                recorder.record(sm);
                progress.update(sm.step(), String.format("reward=%.3f", sm.value(MetricNames.SCORE_MEAN)));
            });
            summary = recorder.finish();
        } catch (Exception e) {
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("run failed: " + e.getMessage(), e);
        }
        out.println(summary);
        if (result.lastStep() < total) {
            out.printf("interrupted: stopped after step %d of %d with a checkpoint; continue with --resume auto%n",
                    result.lastStep(), total);
            out.flush();
            return INTERRUPTED_EXIT;
        }
        out.printf("held-out greedy mean reward: start %.4f -> end %.4f (%+.4f); %d steps in %.1f s; outputs in %s%n",
                result.initialValReward(), result.finalValReward(),
                result.finalValReward() - result.initialValReward(), total, (System.nanoTime() - start) / 1e9,
                run.path());
        out.println(controllerLine(result));
        out.flush();
        return 0;
    }
}
