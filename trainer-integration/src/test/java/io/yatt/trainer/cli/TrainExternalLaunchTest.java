package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * as rendezvous ranks 0 to C - 1 (C = {@code trainer.controllers}: one controller, or two controller processes) and
 * four {@code yatt worker --kind rlhf} JVMs as the following ranks, with the same variables; the run must end with the
 * metrics and the final checkpoint's optimiser files of the {@code trainer.launch=local} run (the loop is
 * deterministic across launches), the checkpoint holding every rank's files whichever controller drove it.
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
    private static Process start(List<String> args, int rank, int worldSize, int port, Path log)
            throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(WorkerJvms.PROJECT_JVM_FLAGS);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), YattCli.class.getName()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("YATT_") || k.startsWith("SLURM_") || k.startsWith("OMPI_"));
        env.put("RANK", Integer.toString(rank));
        env.put("WORLD_SIZE", Integer.toString(worldSize));
        env.put("LOCAL_RANK", Integer.toString(rank));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(worldSize));
        env.put("MASTER_ADDR", "127.0.0.1");
        env.put("MASTER_PORT", Integer.toString(port));
        return pb.start();
    }

    @Test
    void shouldEndWithTheMetricsOfTheLocalLaunch(@TempDir Path local, @TempDir Path external) throws Exception {
        runLocal(local);
        runExternal(external, 1);
        assertSameRun(local, external);
    }

    /** Two controller processes, each driving the workers of its training DP slice (training 1-2-2: DP 2). */
    @Test
    void shouldEndWithTheMetricsOfTheLocalLaunchWithTwoControllerProcesses(@TempDir Path local,
                                                                         @TempDir Path external) throws Exception {
        runLocal(local);
        List<String> logs = runExternal(external, 2);
        assertSameRun(local, external);
        assertTrue(logs.get(1).contains("controller 1 of 2: done in "), logs.get(1));
    }

    /**
     * A run of two controller processes resumed from its checkpoint after step 2 (controller 0 resolves {@code
     * --resume auto}, controller 1 takes its checkpoint through the mesh) ends as an uninterrupted local run of 3
     * steps: the same step 3 and the same final optimiser files. (Step 2 of the shorter run also evaluated, being its
     * last.)
     */
    @Test
    void shouldResumeWithTwoControllerProcesses(@TempDir Path local, @TempDir Path external) throws Exception {
        runLocal(local, "trainer.total_training_steps=3");
        runExternal(external, 2);
        runExternal(external, 2, "trainer.total_training_steps=3", "--resume", "auto");
        assertEquals(stableMetrics(local.resolve("t")).getLast(), stableMetrics(external.resolve("t")).getLast());
        assertSameOptimiserFiles(local, external, 3);
    }

    /**
     * SIGKILL of controller 1's process in the middle of a run: controller 0 names it within the heartbeat timeout
     * and exits 3 (resumable), every other process ends (the killed controller's workers on losing it), and no
     * Aeron directory of the killed controller is left (controller 0 removes it, the process being gone).
     */
    @Test
    void shouldStopTheRunWhenAControllerProcessIsKilled(@TempDir Path dir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        int worldSize = 2 + WORKERS;
        List<String> train = tiny(dir);
        train.addAll(List.of("trainer.launch=external", "trainer.controllers=2", "trainer.total_training_steps=400"));
        List<Process> processes = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        try {
            for (int rank = 0; rank < worldSize; rank++) {
                Path log = Files.createTempFile(dir, "rank-" + rank, ".log");
                logs.add(log);
                processes.add(start(rank < 2 ? train : List.of("worker", "--kind", "rlhf"), rank, worldSize, port,
                        log));
            }
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (!Files.readString(logs.getFirst()).contains("train 3/400")) {
                assertTrue(System.nanoTime() < deadline && processes.getFirst().isAlive(),
                        "no step 3: " + Files.readString(logs.getFirst()));
                Thread.sleep(100);
            }
            long killed = processes.get(1).pid();
            processes.get(1).destroyForcibly().waitFor();
            for (int rank = 0; rank < worldSize; rank++) {
                Process p = processes.get(rank);
                assertTrue(p.waitFor(2, TimeUnit.MINUTES), "rank " + rank + " still running: "
                        + Files.readString(logs.get(rank)));
            }
            String controller0 = Files.readString(logs.getFirst());
            assertEquals(3, processes.getFirst().exitValue(), controller0);
            assertTrue(controller0.contains("yatt: controller lost: index=1, pid=" + killed + ", host="), controller0);
            for (int rank = 4; rank < worldSize; rank++) {
                String worker = Files.readString(logs.get(rank));
                assertTrue(worker.contains("stopped: controller lost: controllerId="), worker);
            }
            Path aeron = Path.of(io.aeron.CommonContext.getAeronDirectoryName());
            try (var entries = Files.list(aeron.getParent())) {
                assertEquals(List.of(), entries.map(e -> e.getFileName().toString())
                        .filter(n -> n.contains("-yatt-rlhf-" + killed + "-controller-1-")).toList());
            }
        } finally {
            processes.forEach(Process::destroyForcibly);
        }
    }

    private static void runLocal(Path dir, String... more) {
        CommandLine cl = YattCli.commandLine();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        List<String> args = tiny(dir);
        args.addAll(List.of(more));
        assertEquals(0, cl.execute(args.toArray(String[]::new)), err.toString());
    }

    /** Ranks 0 to C - 1 run {@code yatt train}, the next four {@code yatt worker}; every one must exit 0. */
    private static List<String> runExternal(Path dir, int controllers, String... more) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        int worldSize = controllers + WORKERS;
        List<String> train = tiny(dir);
        train.add("trainer.launch=external");
        train.add("trainer.controllers=" + controllers);
        train.addAll(List.of(more));
        List<Process> processes = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        List<String> out = new ArrayList<>();
        try {
            for (int rank = 0; rank < worldSize; rank++) {
                Path log = Files.createTempFile(dir, rank < controllers ? "controller-" + rank : "worker-" + rank,
                        ".log");
                logs.add(log);
                processes.add(start(rank < controllers ? train : List.of("worker", "--kind", "rlhf"), rank, worldSize,
                        port, log));
            }
            for (int rank = 0; rank < worldSize; rank++) {
                Process p = processes.get(rank);
                boolean ended = p.waitFor(10, TimeUnit.MINUTES);
                String log = Files.readString(logs.get(rank));
                assertEquals("0", ended ? Integer.toString(p.exitValue()) : "running", "rank " + rank + ": " + log);
                out.add(log);
            }
        } finally {
            processes.forEach(Process::destroyForcibly);
        }
        return out;
    }

    /** Equal metrics, and the final checkpoint's optimiser files of every rank byte for byte. */
    private static void assertSameRun(Path local, Path external) throws IOException {
        assertEquals(stableMetrics(local.resolve("t")), stableMetrics(external.resolve("t")));
        assertSameOptimiserFiles(local, external, 2);
    }

    /** Every rank's actor optimiser file of the checkpoint after step {@code step}, byte for byte. */
    private static void assertSameOptimiserFiles(Path local, Path external, int step) throws IOException {
        Path localActor = local.resolve("t/checkpoints/global_step_" + step + "/actor");
        Path externalActor = external.resolve("t/checkpoints/global_step_" + step + "/actor");
        for (int rank = 0; rank < WORKERS; rank++) {
            String file = "optim_rank_" + rank + ".safetensors";
            assertArrayEquals(Files.readAllBytes(localActor.resolve(file)),
                    Files.readAllBytes(externalActor.resolve(file)), file);
        }
    }

    /** metrics.jsonl without the timing and throughput entries (the only values that may differ). */
    private static List<String> stableMetrics(Path dir) throws IOException {
        return Files.readAllLines(dir.resolve("metrics.jsonl")).stream()
                .map(l -> l.replaceAll("\"(timing_s/[^\"]*|perf/throughput)\":[^,}]*,?", "")).toList();
    }
}
