package io.yatt.trainer.task;

import java.util.Map;

/**
 * The reward of a task: the custom-task SPI. An implementation is named by class in {@code data.reward_class} and
 * found through {@link java.util.ServiceLoader} or, failing that, by its public no-arg constructor. It is called from
 * several rank threads at once, so it must be thread-safe (a pure function is).
 */
@FunctionalInterface
public interface RewardFunction {

    /**
     * Scores one response.
     *
     * @param prompt the prompt text
     * @param response the response text up to the first EOS (all of it when the model never emitted EOS)
     * @param meta the prompt's meta: its answer under {@code "answer"} when there is one, plus a custom line's
     *        {@code meta} object
     * @return the reward, finite
     */
    double score(String prompt, String response, Map<String, Object> meta);
}
