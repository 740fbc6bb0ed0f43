package io.yatt.trainer.rollout;

import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.LlamaConfig;
import java.util.Objects;

/**
 * What a split rollout generates, the same on every trainer and rollout rank.
 *
 * @param model the actor's shape
 * @param vocabPadMultiple vocabulary padding of the weights (the training TP degree)
 * @param prompts prompts per step
 * @param n samples per prompt (sample {@code i} is prompt {@code i / n})
 * @param maxPromptLength prompt tokens at most; the generator's cache holds {@code maxPromptLength + maxNewTokens}
 * @param maxNumSeqs sequences one generation pass holds (a replica generates its rows in passes of at most this many)
 * @param sampling how tokens are picked
 * @param greedyBaseline also decode one greedy continuation per prompt (ReMax's baseline)
 * @param mode synchronous or one step off-policy
 * @param bucketByteSize weight-sync bucket bytes
 * @param seeds the sampling seed of each sample of each step
 */
public record RolloutSettings(LlamaConfig model, int vocabPadMultiple, int prompts, int n, int maxPromptLength,
                              int maxNumSeqs, Generator.Sampling sampling, boolean greedyBaseline, RolloutMode mode,
                              long bucketByteSize, SampleSeeds seeds) {

    /** The seed of sample {@code sample} of step {@code step}; a pure function, the same on every rank. */
    @FunctionalInterface
    public interface SampleSeeds {
        /** The seed. */
        long seed(long step, int sample);
    }

    /**
     * @throws IllegalArgumentException naming a count that is not positive
     */
    public RolloutSettings {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(sampling, "sampling");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(seeds, "seeds");
        positive("vocabPadMultiple", vocabPadMultiple);
        positive("prompts", prompts);
        positive("n", n);
        positive("maxPromptLength", maxPromptLength);
        positive("maxNumSeqs", maxNumSeqs);
        if (bucketByteSize <= 0) {
            throw new IllegalArgumentException("bucketByteSize must be positive: bucketByteSize=" + bucketByteSize);
        }
        if ((long) prompts * n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many samples: prompts=" + prompts + ", n=" + n);
        }
    }

    /** Samples per step, {@code prompts * n}. */
    public int samples() {
        return prompts * n;
    }

    /** Response tokens at most. */
    public int responseLength() {
        return sampling.maxNewTokens();
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive: " + name + "=" + value);
        }
    }
}
