package io.yatt.trainer.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.trainer.config.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskTest {

    @TempDir
    Path dir;

    private static final ClassLoader LOADER = TaskTest.class.getClassLoader();

    @Test
    void shouldGenerateDisjointCorrectAdditionSplitsFromTheSeed() {
        Task task = Task.addition(5, 300, 40);

        assertEquals(300, task.trainPrompts().size());
        assertEquals(40, task.heldOutPrompts().size());
        Set<String> train = new HashSet<>();
        task.trainPrompts().forEach(p -> train.add(p.text()));
        assertEquals(300, train.size());
        task.heldOutPrompts().forEach(p -> assertFalse(train.contains(p.text()), p.text()));
        for (Prompt p : task.trainPrompts()) {
            String[] operands = p.text().substring(0, p.text().length() - 1).split("\\+");
            int sum = Integer.parseInt(operands[0]) + Integer.parseInt(operands[1]);
            assertEquals(Integer.toString(sum), p.answer(), p.text());
            assertEquals(Map.of("answer", p.answer()), p.meta());
            assertTrue(p.text().endsWith("="), p.text());
        }
        assertEquals(task.trainPrompts(), Task.addition(5, 300, 40).trainPrompts());
        assertFalse(task.trainPrompts().equals(Task.addition(6, 300, 40).trainPrompts()));
    }

    @Test
    void shouldAnswerSortPromptsWithTheDigitsAscending() {
        Task task = Task.sort(1, 50, 0);

        for (Prompt p : task.trainPrompts()) {
            char[] digits = p.text().substring(0, 4).toCharArray();
            java.util.Arrays.sort(digits);
            assertEquals(new String(digits), p.answer());
            assertEquals('>', p.text().charAt(4));
        }
    }

    @Test
    void shouldRefuseMorePromptsThanTheTaskHas() {
        assertEquals("addition task has 10000 distinct prompts: data.train_size=9900, data.val_size=256, expected "
                + "train_size >= 1 and train_size + val_size <= 10000", assertThrows(IllegalArgumentException.class,
                        () -> Task.addition(1, 9900, 256)).getMessage());
    }

    @Test
    void shouldBuildTheDefaultTaskFromTheDefaultConfig() {
        Task task = Task.fromConfig(TrainConfig.defaults(), LOADER);

        assertEquals("addition", task.name());
        assertEquals(4096, task.trainPrompts().size());
        assertEquals(256, task.heldOutPrompts().size());
        assertTrue(task.hasCost());
    }

    @Test
    void shouldRefuseAnswersLongerThanTheResponseLength() {
        TrainConfig config = TrainConfig.load("", List.of("data.task=sort"));

        // Every sort answer has 4 digits, so the first prompt checked (the first training prompt) fails.
        Prompt first = Task.sort(1, 4096, 256).trainPrompts().get(0);
        assertEquals("answer longer than actor_rollout_ref.rollout.response_length: prompt=" + first.text()
                + ", answer=" + first.answer() + ", tokens=5 (EOS included), "
                + "actor_rollout_ref.rollout.response_length=4",
                assertThrows(IllegalArgumentException.class, () -> Task.fromConfig(config, LOADER)).getMessage());
        Task.fromConfig(config.withOverrides(List.of("actor_rollout_ref.rollout.response_length=5")), LOADER);
    }

    @Test
    void shouldScoreGeneratedIdsThroughTheTokenizerRewardAndCost() {
        Task task = Task.addition(1, 10, 0);
        Prompt prompt = Prompt.withAnswer("10+7=", "17");

        Task.Scored exact = task.score(prompt, new int[] {4, 10, 2, 0}, 0, 4);
        Task.Scored wrong = task.score(prompt, new int[] {4, 9, 3, 5}, 0, 4);

        assertEquals(new Task.Scored(new CharTokenizer.DecodedResponse("17", true, 3), 1.0, 1.0), exact);
        assertEquals(new Task.Scored(new CharTokenizer.DecodedResponse("1602", false, 4), 0.1, 1.0), wrong);
    }

    @Test
    void shouldBuildDemonstrationsAsBosPromptAnswerEos() {
        Task task = Task.addition(3, 20, 5);

        List<Demonstration> demos = task.demonstrations(25, 9);

        assertEquals(25, demos.size());
        for (Demonstration demo : demos) {
            CharTokenizer.DecodedResponse answer = task.tokenizer().decodeResponse(demo.tokens(),
                    demo.promptTokenCount(), demo.tokens().length - demo.promptTokenCount());
            assertTrue(answer.terminated());
            assertEquals(CharTokenizer.BOS_ID, demo.tokens()[0]);
            String promptText = task.tokenizer().decodeResponse(demo.tokens(), 1, demo.promptTokenCount() - 1).text();
            Prompt prompt = task.trainPrompts().stream().filter(p -> p.text().equals(promptText)).findFirst()
                    .orElseThrow();
            assertEquals(prompt.answer(), answer.text());
        }
        assertArrayEquals(demos.get(0).tokens(), task.demonstrations(1, 9).get(0).tokens());
    }

    @Test
    void shouldLoadACustomTaskWithItsRewardClassByName() throws IOException {
        Path file = dir.resolve("prompts.jsonl");
        Files.writeString(file, """
                {"prompt": "say hi", "answer": "hi", "meta": {"bonus": 2}}
                {"prompt": "say yo"}

                {"prompt": "say ok", "answer": "ok"}
                """);
        TrainConfig config = TrainConfig.load("", List.of("data.task=custom", "data.train_files=" + file,
                "data.reward_class=io.yatt.trainer.task.LengthReward", "data.val_size=1"));

        Task task = Task.fromConfig(config, LOADER);

        assertEquals(2, task.trainPrompts().size());
        assertEquals(1, task.heldOutPrompts().size());
        assertEquals(" ahikosy", task.tokenizer().chars());
        assertFalse(task.hasCost());
        Prompt hi = new Prompt("say hi", "hi", Map.of("bonus", 2, "answer", "hi"));
        int[] ids = task.tokenizer().encode("hi");
        assertEquals(4.0, task.score(hi, ids, 0, ids.length).reward());
    }

    @Test
    void shouldNameTheClassThatCannotBeUsedAsAReward() {
        assertEquals("reward class not found on the class path: class=com.example.Missing", message(
                () -> TaskClasses.load("reward", "com.example.Missing", RewardFunction.class, LOADER)));
        assertEquals("reward class does not implement io.yatt.trainer.task.RewardFunction: class=java.lang.String",
                message(() -> TaskClasses.load("reward", "java.lang.String", RewardFunction.class, LOADER)));
        assertEquals("reward class has no public no-arg constructor: class=io.yatt.trainer.task.ArgumentReward",
                message(() -> TaskClasses.load("reward", "io.yatt.trainer.task.ArgumentReward", RewardFunction.class,
                        LOADER)));
    }

    @Test
    void shouldNameTheLineOfABadPromptsFile() throws IOException {
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"anser\": \"c\"}\n");
        assertEquals("prompts file line 2 has an unknown field: path=" + file + ", field=anser, expected one of "
                + "[prompt, answer, meta]", message(() -> PromptsFile.read(file)));

        Files.writeString(file, "{\"answer\": \"a\"}\n");
        assertEquals("prompts file line 1 needs a non-empty string \"prompt\": path=" + file
                + ", line={\"answer\": \"a\"}", message(() -> PromptsFile.read(file)));

        Files.writeString(file, "{\"prompt\": \"a\", \"meta\": {\"answer\": \"x\"}}\n");
        assertEquals("prompts file line 1 has \"answer\" inside \"meta\"; put it at the top level: path=" + file,
                message(() -> PromptsFile.read(file)));

        Files.writeString(file, "[1]\n");
        assertEquals("prompts file line 1 is not a JSON object: path=" + file + ", line=[1]",
                message(() -> PromptsFile.read(file)));
    }

    private static String message(org.junit.jupiter.api.function.Executable executable) {
        return assertThrows(IllegalArgumentException.class, executable).getMessage();
    }
}
