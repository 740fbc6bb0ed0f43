package io.yatt.trainer.task;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One prompt of a task.
 *
 * @param text the prompt as the model sees it (after BOS)
 * @param answer the reference answer, empty when the task gives none
 * @param meta what the reward function receives besides prompt and response: a custom line's {@code meta} object,
 *        with the answer under {@code "answer"} when there is one; unmodifiable
 */
public record Prompt(String text, String answer, Map<String, Object> meta) {

    /** The meta key under which a prompt's answer reaches reward and cost functions. */
    public static final String ANSWER_KEY = "answer";

    /** Copies {@code meta} into an unmodifiable map that keeps its order (JSON nulls allowed). */
    public Prompt {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(answer, "answer");
        meta = Collections.unmodifiableMap(new LinkedHashMap<>(meta));
    }

    /** A prompt with an answer and no other meta. */
    public static Prompt withAnswer(String text, String answer) {
        return new Prompt(text, answer, Map.of(ANSWER_KEY, answer));
    }
}
