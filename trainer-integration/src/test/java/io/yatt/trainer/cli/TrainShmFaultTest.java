package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.CommonContext;
import io.yatt.collectives.ShmContext;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/**
 * {@code yatt train trainer.backend=shm} with a worker JVM SIGKILLed mid-run: exit 3 naming the lost worker, no
 * process, shm file or Aeron directory left; {@code --resume auto} then ends with the metrics and weights of an
 * uninterrupted run.
 */
class TrainShmFaultTest {

    private static final int STEPS = 4;

    private record Run(int code, String out, String err) {
    }

    private static Run run(List<String> args) {
        CommandLine cl = YattCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args.toArray(String[]::new));
        return new Run(code, out.toString(), err.toString());
    }

    private static List<String> tiny(Path runs, String backend, int controllers) {
        return new ArrayList<>(List.of("train", "--sft-steps", "10", "trainer.runs_dir=" + runs,
                "trainer.experiment_name=t", "trainer.total_training_steps=" + STEPS, "trainer.save_freq=1",
                "trainer.test_freq=-1", "trainer.backend=" + backend, "trainer.controllers=" + controllers,
                "actor_rollout_ref.model.hidden_size=16", "actor_rollout_ref.model.intermediate_size=32",
                "actor_rollout_ref.model.num_hidden_layers=1", "data.train_size=256", "data.val_size=16",
                "data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=8",
                "actor_rollout_ref.actor.ppo_micro_batch_size=8"));
    }

    /**
     * With one controller; with two (controller 1 a JVM of its own), killing a worker of controller 0, whose other
     * controller must stop too and leave the loss to be named, or one of controller 1.
     */
    @ParameterizedTest
    @CsvSource({"1, 1", "2, 1", "2, 3"})
    void shouldStopNamingAKilledWorkerAndResumeToTheUninterruptedResult(int controllers, int killedRank,
                                                                         @TempDir Path reference,
                                                                         @TempDir Path faulted) throws Exception {
        Run whole = run(tiny(reference, "in-process", controllers));
        assertEquals(0, whole.code(), whole.err());

        Path dir = faulted.resolve("t");
        Path aeron = Path.of(CommonContext.getAeronDirectoryName());
        // controllers' and workers' embedded drivers alike
        String aeronPrefix = aeron.getFileName() + "-yatt-";
        List<String> aeronBefore = entries(aeron.getParent(), aeronPrefix);
        CompletableFuture<Long> killed = CompletableFuture.supplyAsync(() -> killAfterTwoSteps(dir, killedRank));
        Run first = run(tiny(faulted, "shm", controllers));
        assertTrue(killed.isDone(), "the run ended before its worker was killed: " + first.code() + " " + first.out()
                + first.err());
        long pid = killed.get(1, TimeUnit.MINUTES);
        assertEquals(3, first.code(), first.out() + first.err());
        if (killedRank == 1) {
            String lost = "yatt: worker lost: role=actor,rollout,ref,critic,cost_critic,reward, rank=" + killedRank
                    + ", pid=" + pid + ", host=";
            assertTrue(first.err().startsWith(lost), first.err());
            // found by its exit, which the launcher reports to the controller, not by the 10 s heartbeat timeout
            Matcher age = Pattern.compile("lastHeartbeatAgeMs=(\\d+), timeoutMs=10000")
                    .matcher(first.err());
            assertTrue(age.find(), first.err());
            assertTrue(Long.parseLong(age.group(1)) < 10_000, first.err());
        } else {
            // controller 1's worker: controller 0, its launcher, names the JVM's exit at once
            assertTrue(first.err().startsWith("yatt: worker JVM exited: rank=" + killedRank + ", pid=" + pid
                    + ", exitCode=137, stderr tail:" + System.lineSeparator()), first.err());
        }
        assertTrue(first.err().endsWith("yatt: the run stopped; its workers were stopped (continue with --resume"
                + " auto)" + System.lineSeparator()), first.err());
        assertEquals(List.of(), yattJvms());
        long self = ProcessHandle.current().pid();
        // the shm world's files (yatt-w<pid> with one controller, yatt-x<pid> with controller JVMs) and every Aeron
        // directory of the run's controllers and workers
        assertEquals(List.of(), entries(ShmContext.DEFAULT_DIRECTORY, "yatt-w" + self + "."));
        assertEquals(List.of(), entries(ShmContext.DEFAULT_DIRECTORY, "yatt-x" + self + "."));
        List<String> aeronLeft = new ArrayList<>(entries(aeron.getParent(), aeronPrefix));
        aeronLeft.removeAll(aeronBefore);
        assertEquals(List.of(), aeronLeft);

        List<String> resume = tiny(faulted, "shm", controllers);
        resume.addAll(List.of("--resume", "auto"));
        Run second = run(resume);
        assertEquals(0, second.code(), second.err());
        assertEquals(stableMetrics(reference.resolve("t")), stableMetrics(dir));
        Path last = Path.of("checkpoints", "global_step_" + STEPS, "actor");
        for (String file : List.of("model.safetensors", "optim_rank_0.safetensors", "optim_rank_3.safetensors")) {
            assertArrayEquals(Files.readAllBytes(reference.resolve("t").resolve(last).resolve(file)),
                    Files.readAllBytes(dir.resolve(last).resolve(file)), file);
        }
        assertEquals(List.of(), yattJvms());
    }

    /** Waits for step 2's metrics line, SIGKILLs the worker JVM of {@code rank} (during step 3) and returns its pid. */
    private static long killAfterTwoSteps(Path dir, int rank) {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        Path metrics = dir.resolve("metrics.jsonl");
        try {
            while (!Files.exists(metrics) || Files.readAllLines(metrics).size() < 2) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("step 2 never finished: path=" + metrics);
                }
                Thread.sleep(20);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        String id = Integer.toString(100 + rank);
        ProcessHandle victim = yattJvms().stream().filter(p -> {
            List<String> args = Arrays.asList(p.info().arguments().orElse(new String[0]));
            int i = args.indexOf("--worker-id");
            return i >= 0 && i + 1 < args.size() && args.get(i + 1).equals(id);
        }).findFirst().orElseThrow(() -> new IllegalStateException("no worker JVM with --worker-id " + id));
        victim.destroyForcibly();
        return victim.pid();
    }

    /** This JVM's live {@code yatt} descendants: the worker JVMs and, with two controllers, controller 1's JVM. */
    private static List<ProcessHandle> yattJvms() {
        return ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).filter(p -> Arrays.asList(
                p.info().arguments().orElse(new String[0])).contains(YattCli.class.getName())).toList();
    }

    private static List<String> entries(Path folder, String prefix) throws IOException {
        if (folder == null || !Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(prefix)).toList();
        }
    }

    /** metrics.jsonl without the timing and throughput entries (the only values that may differ). */
    private static List<String> stableMetrics(Path dir) throws IOException {
        return Files.readAllLines(dir.resolve("metrics.jsonl")).stream()
                .map(l -> l.replaceAll("\"(timing_s/[^\"]*|perf/throughput)\":[^,}]*,?", "")).toList();
    }
}
