package io.yatt.controller.placement;

import java.util.Locale;

/** A model of an RLHF dataflow; each role is one model with its own weights and its own GPUs. */
public enum Role {
    /** The policy: generates, is evaluated for old log-probs, and is trained. */
    ACTOR,
    /** The value model: evaluated and trained (PPO, Safe-RLHF). */
    CRITIC,
    /** The frozen initial policy: evaluated for the KL term. */
    REFERENCE,
    /** The frozen reward model: evaluated. */
    REWARD,
    /** The frozen cost model of Safe-RLHF: evaluated. */
    COST;

    /** The lower-case name used in output, e.g. {@code actor}. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the role is trained (its optimizer state stays resident). */
    public boolean isTrained() {
        return this == ACTOR || this == CRITIC;
    }

    /** Whether the role's output is a scalar per token (a value head) rather than vocabulary logits. */
    public boolean hasValueHead() {
        return this != ACTOR && this != REFERENCE;
    }
}
