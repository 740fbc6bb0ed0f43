package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.trainer.launch.WorkerJvms;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code yatt train trainer.backend=shm trainer.launch=external}: the test plays torchrun, starting {@code yatt train}
 * as rendezvous rank 0 and four {@code yatt worker --kind rlhf} JVMs as ranks 1 to 4 with the same variables; the run
 * must end with the metrics of the {@code trainer.launch=local} run (the loop is deterministic across launches).
 */
class TrainExternalLaunchTest {

    private static final int WORKERS = 4;

    private static List<String> tiny(Path runs) {
        return new ArrayList<>(List.of("train", "--sft-steps", "10", "trainer.runs_dir=" + runs,
                "trainer.experiment_name=t", "trainer.total_training_steps=2", "trainer.save_freq=-1",
                "trainer.test_freq=-1", "trainer.backend=shm",
                "actor_rollout_ref.model.hidden_size=16", "actor_rollout_ref.model.intermediate_size=32",
                "actor_rollout_ref.model.num_hidden_layers=1", "data.train_size=256", "data.val_size=16",
                "data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=8",
                "actor_rollout_ref.actor.ppo_micro_batch_size=8"));
    }

    /** A JVM of this project's class path running {@code YattCli args}, with torchrun's variables for {@code rank}. */
    private static Process start(List<String> args, int rank, int port, Path log) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(WorkerJvms.PROJECT_JVM_FLAGS);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), YattCli.class.getName()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("YATT_") || k.startsWith("SLURM_") || k.startsWith("OMPI_"));
        env.put("RANK", Integer.toString(rank));
        env.put("WORLD_SIZE", Integer.toString(WORKERS + 1));
        env.put("LOCAL_RANK", Integer.toString(rank));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(WORKERS + 1));
        env.put("MASTER_ADDR", "127.0.0.1");
        env.put("MASTER_PORT", Integer.toString(port));
        return pb.start();
    }

    @Test
    void shouldEndWithTheMetricsOfTheLocalLaunch(@TempDir Path local, @TempDir Path external) throws Exception {
        CommandLine cl = YattCli.commandLine();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        assertEquals(0, cl.execute(tiny(local).toArray(String[]::new)), err.toString());

        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> train = tiny(external);
        train.add("trainer.launch=external");
        List<Process> processes = new ArrayList<>();
        try {
            processes.add(start(train, 0, port, external.resolve("controller.log")));
            for (int rank = 1; rank <= WORKERS; rank++) {
                processes.add(start(List.of("worker", "--kind", "rlhf"), rank, port,
                        external.resolve("worker-" + rank + ".log")));
            }
            for (int rank = 0; rank <= WORKERS; rank++) {
                Process p = processes.get(rank);
                Path log = external.resolve(rank == 0 ? "controller.log" : "worker-" + rank + ".log");
                boolean ended = p.waitFor(10, TimeUnit.MINUTES);
                assertEquals("0", ended ? Integer.toString(p.exitValue()) : "running",
                        "rank " + rank + ": " + Files.readString(log));
            }
        } finally {
            processes.forEach(Process::destroyForcibly);
        }
        assertEquals(stableMetrics(local.resolve("t")), stableMetrics(external.resolve("t")));
    }

    /** metrics.jsonl without the timing and throughput entries (the only values that may differ). */
    private static List<String> stableMetrics(Path dir) throws IOException {
        return Files.readAllLines(dir.resolve("metrics.jsonl")).stream()
                .map(l -> l.replaceAll("\"(timing_s/[^\"]*|perf/throughput)\":[^,}]*,?", "")).toList();
    }
}
