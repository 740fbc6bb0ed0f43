package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TrainCommandTest {

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        CommandLine cl = YattCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static List<String> tiny(Path runs, int steps) {
        List<String> a = new ArrayList<>(List.of("train", "--sft-steps", "10",
                "trainer.runs_dir=" + runs, "trainer.experiment_name=t", "trainer.total_training_steps=" + steps,
                "trainer.save_freq=2", "trainer.test_freq=-1",
                "actor_rollout_ref.model.hidden_size=16", "actor_rollout_ref.model.intermediate_size=32",
                "actor_rollout_ref.model.num_hidden_layers=1", "data.train_size=256", "data.val_size=16",
                "data.train_batch_size=8", "actor_rollout_ref.actor.ppo_mini_batch_size=8",
                "actor_rollout_ref.actor.ppo_micro_batch_size=8"));
        return a;
    }

    @Test
    void shouldTrainWriteOutputsAndResumeAuto(@TempDir Path runs) throws IOException {
        Run first = run(tiny(runs, 2).toArray(String[]::new));
        assertEquals(0, first.code(), first.err());
        Path dir = runs.resolve("t");
        assertTrue(Files.exists(dir.resolve("sft/config.json")));
        assertTrue(Files.exists(dir.resolve("config.yaml")));
        assertTrue(Files.exists(dir.resolve("summary.txt")));
        assertTrue(Files.exists(dir.resolve("plots/reward.png")));
        assertTrue(Files.isDirectory(dir.resolve("checkpoints/global_step_2/actor")));
        assertEquals(2, Files.readAllLines(dir.resolve("metrics.jsonl")).size());
        assertTrue(first.out().contains("held-out greedy mean reward: start "), first.out());
        assertTrue(first.out().lines().anyMatch(l -> l.matches("controller 0: [1-9]\\d* payload bytes encoded and"
                + " decoded, [1-9]\\d* per step over 2 steps")), first.out());

        List<String> more = tiny(runs, 3);
        more.add("--resume");
        more.add("auto");
        Run second = run(more.toArray(String[]::new));
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("resume: from " + dir.resolve("checkpoints/global_step_2") + " (step 2)"),
                second.out());
        assertEquals(3, Files.readAllLines(dir.resolve("metrics.jsonl")).size());
        assertTrue(Files.isDirectory(dir.resolve("checkpoints/global_step_3")));
    }

    @Test
    void shouldRejectAnUnknownKeyNamingTheClosest() {
        Run r = run("train", "trainer.total_steps=3");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown config key: key=trainer.total_steps, closest=trainer.total_training_steps"),
                r.err());
    }
}
