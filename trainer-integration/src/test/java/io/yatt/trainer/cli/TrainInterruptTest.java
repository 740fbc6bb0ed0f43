package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.yatt.trainer.launch.WorkerJvms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Ctrl-C on {@code yatt train trainer.backend=shm}: the terminal sends SIGINT to every process of the foreground
 * group, the worker JVMs and the other controllers' JVMs included. Only {@code yatt train} acts on it: the run stops
 * after the step in flight with a checkpoint and exit code 130, and every JVM it started ends. The JVMs it started
 * carry {@code trainer.jvm_options}.
 */
class TrainInterruptTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void shouldStopGracefullyWhenSigintReachesEveryJvmOfTheRun(int controllers, @TempDir Path runs)
            throws Exception {
        assumeFalse(sigintIgnored(), "SIGINT is ignored in this JVM, inherited from the shell that started the build"
                + " (a background job without job control, nohup): the yatt train it starts inherits that and rightly"
                + " ignores Ctrl-C");
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(WorkerJvms.PROJECT_JVM_FLAGS);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), YattCli.class.getName(), "train",
                "--sft-steps", "10", "trainer.runs_dir=" + runs, "trainer.experiment_name=t",
                "trainer.total_training_steps=1000", "trainer.save_freq=-1", "trainer.test_freq=-1",
                "trainer.backend=shm", "trainer.controllers=" + controllers,
                "trainer.jvm_options=-Xmx512m -Dyatt.test.launched=" + controllers,
                "actor_rollout_ref.model.hidden_size=16", "actor_rollout_ref.model.intermediate_size=32",
                "actor_rollout_ref.model.num_hidden_layers=1", "data.train_size=256", "data.val_size=16",
                "data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=8",
                "actor_rollout_ref.actor.ppo_micro_batch_size=8"));
        Path out = runs.resolve("train.out");
        Path err = runs.resolve("train.err");
        Process train = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            Path metrics = runs.resolve("t").resolve("metrics.jsonl");
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (!Files.exists(metrics) || Files.readAllLines(metrics).size() < 2) {
                assertTrue(train.isAlive(), () -> "yatt train ended early: " + read(err));
                assertTrue(System.nanoTime() - deadline < 0, "step 2 never finished");
                Thread.sleep(20);
            }
            // what the terminal does: SIGINT to every process of the group
            List<String> kill = new ArrayList<>(List.of("kill", "-INT", Long.toString(train.pid())));
            List<ProcessHandle> started = train.descendants().toList();
            assertEquals(controllers - 1 + 4, started.size(), started.toString());
            for (ProcessHandle p : started) {
                // trainer.jvm_options reach every JVM yatt train starts
                List<String> args = List.of(p.info().arguments().orElse(new String[0]));
                assertTrue(args.contains("-Xmx512m") && args.contains("-Dyatt.test.launched=" + controllers),
                        args.toString());
            }
            started.forEach(p -> kill.add(Long.toString(p.pid())));
            assertEquals(0, new ProcessBuilder(kill).inheritIO().start().waitFor());
            assertTrue(train.waitFor(2, TimeUnit.MINUTES), "yatt train did not stop");
            assertEquals(130, train.exitValue(), read(err));
            assertTrue(read(out).contains("interrupted: stopped after step "), read(out));
            for (ProcessHandle p : started) {
                assertTrue(p.onExit().get(30, TimeUnit.SECONDS).pid() == p.pid() && !p.isAlive(), p.toString());
            }
        } finally {
            train.descendants().forEach(ProcessHandle::destroyForcibly);
            train.destroyForcibly();
        }
    }

    /** Whether this process started with SIGINT ignored (Linux: bit 1 of {@code SigIgn} in /proc/self/status). */
    private static boolean sigintIgnored() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) {
            return false;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("SigIgn:")) {
                return (Long.parseUnsignedLong(line.substring("SigIgn:".length()).strip(), 16) & (1L << 1)) != 0;
            }
        }
        return false;
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }
}
