package io.yatt.trainer.task;

/**
 * One SFT demonstration: {@code BOS prompt answer EOS} as token ids; the loss covers the tokens from
 * {@code promptTokenCount} on (the answer and EOS).
 *
 * @param tokens the ids (owned by the record; do not modify)
 * @param promptTokenCount BOS plus the prompt's characters
 */
public record Demonstration(int[] tokens, int promptTokenCount) {
}
