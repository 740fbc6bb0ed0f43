package io.yatt.trainer.model;

/** What sits on top of the decoder's final norm. */
public enum Head {
    /** {@code lm_head}: next-token logits (the policy and the reference). */
    LANGUAGE_MODEL,
    /** {@code score.weight [1, hidden]}: a scalar value per token (the critic). */
    VALUE,
    /** {@code score.weight [1, hidden]} read at each sequence's last valid token (the reward model). */
    REWARD
}
