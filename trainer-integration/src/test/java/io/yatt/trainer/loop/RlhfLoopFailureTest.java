package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.sft.Sft;
import io.yatt.trainer.task.PromptSampler;
import io.yatt.trainer.task.Task;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With C > 1 controllers a failure on one controller (here its reward role: a custom task's reward that refuses one
 * prompt of controller 1's share) stops every controller with that cause, naming the controller, role and method,
 * and leaves no controller thread running.
 */
class RlhfLoopFailureTest {

    @Test
    void shouldStopEveryControllerWithTheCauseOfAFailureOnControllerOne(@TempDir Path dir) throws IOException {
        RlhfLoopTest.warmStart();
        TrainConfig cfg = RlhfLoopTest.config.withOverrides(List.of("parallel.training=1-1-4",
                "parallel.generation=1-1-1-4", "trainer.total_training_steps=1", "trainer.test_freq=-1",
                "trainer.save_freq=-1", "trainer.controllers=2"));
        List<String> lines = new ArrayList<>();
        for (int a = 10; a < 58; a++) {
            lines.add("{\"prompt\": \"" + a + "+1=\", \"answer\": \"" + (a + 1) + "\"}");
        }
        Path prompts = Files.write(dir.resolve("prompts.jsonl"), lines);
        long seed = cfg.data().seed();
        // controller 1 scores samples 4..7 of step 1 (n = 1, batch 8); its reward worker 1 gets samples 6 and 7
        Task probe = Task.custom(prompts, (p, r, m) -> 0.0, null, seed, 40, 8);
        int[] step1 = PromptSampler.of(probe.trainPrompts().size(), seed).next(8);
        String refused = probe.trainPrompts().get(step1[7]).text();
        Task task = Task.custom(prompts, (p, r, m) -> {
            if (p.equals(refused)) {
                throw new IllegalStateException("reward refused: prompt=" + p);
            }
            return 0.0;
        }, null, seed, 40, 8);
        LlamaConfig model = Sft.modelConfig(cfg, task);
        Map<String, float[]> policy = Sft.train(model, task, new Sft.Settings(1, 8, 3e-3, 1), null).weights();

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> RlhfLoop.run(cfg, task, model, policy, m -> { }));

        assertEquals("controller failed: controller=1, role=reward, method=computeScores: worker call failed: "
                + "group=reward, method=computeScores, rank=1, type=java.lang.IllegalStateException, "
                + "message=reward refused: prompt=" + refused, e.getMessage());
        List<String> left = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .map(Thread::getName).filter(n -> n.startsWith("yatt-controller-")).toList();
        assertEquals(List.of(), left);
    }
}
