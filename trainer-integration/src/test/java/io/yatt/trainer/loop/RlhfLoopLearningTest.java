package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaWeights;
import io.yatt.trainer.run.MetricNames;
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
 * End to end: the loop raises the reward. From random weights, with a reward the policy can reach by moving one
 * token's probability (1 when the response starts with {@code 1}, else 0), a few GRPO and PPO steps raise both the
 * sampled training reward and the held-out greedy reward.
 */
class RlhfLoopLearningTest {

    private static Task task(Path dir) throws IOException {
        List<String> lines = new ArrayList<>();
        for (int a = 0; a < 20; a++) {
            for (int b = 0; b < 10; b++) {
                lines.add("{\"prompt\": \"" + a + "+" + b + "=\", \"answer\": \"" + (a + b) + "\"}");
            }
        }
        Path file = dir.resolve("prompts.jsonl");
        Files.write(file, lines);
        return Task.custom(file, (prompt, response, meta) -> response.startsWith("1") ? 1.0 : 0.0, null, 1, 150,
                32);
    }

    private static void check(Path dir, List<String> overrides) throws IOException {
        Task task = task(dir);
        List<String> all = new ArrayList<>(List.of(
                "actor_rollout_ref.model.hidden_size=16", "actor_rollout_ref.model.intermediate_size=32",
                "actor_rollout_ref.model.num_hidden_layers=1", "data.train_batch_size=16",
                "actor_rollout_ref.actor.ppo_mini_batch_size=16", "actor_rollout_ref.actor.ppo_micro_batch_size=8",
                "actor_rollout_ref.actor.optim.lr=1e-2", "trainer.total_training_steps=20", "trainer.test_freq=-1"));
        all.addAll(overrides);
        TrainConfig config = TrainConfig.defaults().withOverrides(all);
        TrainConfig.Model m = config.actorRolloutRef().model();
        LlamaConfig model = LlamaConfig.of(m.hiddenSize(), m.numHiddenLayers(), m.numAttentionHeads(),
                m.numKeyValueHeads(), m.intermediateSize(), task.tokenizer().vocabSize());
        Map<String, float[]> policy = LlamaWeights.random(model, Head.LANGUAGE_MODEL, 5, 2);
        RlhfLoop.Result r = RlhfLoop.run(config, task, model, policy, s -> { });
        double first = (r.rows().get(0).value(MetricNames.SCORE_MEAN) + r.rows().get(1).value(MetricNames.SCORE_MEAN)) / 2;
        double last = (r.rows().get(18).value(MetricNames.SCORE_MEAN) + r.rows().get(19).value(MetricNames.SCORE_MEAN)) / 2;
        assertTrue(last > first + 0.3, "training reward " + first + " -> " + last);
        assertTrue(r.finalValReward() > r.initialValReward() + 0.3,
                "held-out reward " + r.initialValReward() + " -> " + r.finalValReward());
    }

    @Test
    void shouldRaiseTheRewardWithGrpo(@TempDir Path dir) throws IOException {
        check(dir, List.of("algorithm.adv_estimator=grpo", "actor_rollout_ref.rollout.n=4"));
    }

    @Test
    void shouldRaiseTheRewardWithPpo(@TempDir Path dir) throws IOException {
        check(dir, List.of("critic.optim.lr=1e-2"));
    }
}
