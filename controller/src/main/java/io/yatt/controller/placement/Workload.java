package io.yatt.controller.placement;

import io.yatt.hybrid.ModelSpec;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What one RLHF iteration computes: the algorithm's dataflow, the shape of each model, and how many sequences of
 * which lengths pass through it. Immutable and thread-safe; equal workloads plan equally (the planner caches by it).
 *
 * @param algorithm the dataflow
 * @param models every role of the algorithm mapped to its decoder shape
 * @param globalBatchSequences sequences (prompt plus one response) per iteration
 * @param promptTokens tokens per prompt
 * @param responseTokens tokens per response
 */
public record Workload(Algorithm algorithm, Map<Role, ModelSpec.DecoderConfig> models, int globalBatchSequences,
                       int promptTokens, int responseTokens) {

    /** HybridFlow's evaluation setting: global batch of 1024 prompts. */
    public static final int DEFAULT_GLOBAL_BATCH_SEQUENCES = 1024;
    /** HybridFlow's evaluation setting: prompts of 1024 tokens. */
    public static final int DEFAULT_PROMPT_TOKENS = 1024;
    /** HybridFlow's evaluation setting: responses of 1024 tokens. */
    public static final int DEFAULT_RESPONSE_TOKENS = 1024;

    /**
     * @throws IllegalArgumentException if a size is not positive or the models do not match the algorithm's roles
     */
    public Workload {
        Objects.requireNonNull(algorithm, "algorithm");
        Objects.requireNonNull(models, "models");
        if (globalBatchSequences <= 0 || promptTokens <= 0 || responseTokens <= 0) {
            throw new IllegalArgumentException("workload sizes must be positive: globalBatchSequences="
                    + globalBatchSequences + ", promptTokens=" + promptTokens + ", responseTokens=" + responseTokens);
        }
        if (!models.keySet().equals(Set.copyOf(algorithm.roles()))) {
            throw new IllegalArgumentException("models must cover exactly the algorithm's roles: algo="
                    + algorithm.cliName() + ", roles=" + algorithm.roles() + ", models=" + models.keySet());
        }
        models = Collections.unmodifiableMap(new EnumMap<>(models));
    }

    /**
     * Every model of {@code algorithm} with one shape (HybridFlow's setting: all models the same size).
     *
     * @throws IllegalArgumentException if a size is not positive
     */
    public static Workload of(Algorithm algorithm, ModelSpec.DecoderConfig shape, int globalBatchSequences,
                              int promptTokens, int responseTokens) {
        Map<Role, ModelSpec.DecoderConfig> models = new EnumMap<>(Role.class);
        for (Role r : algorithm.roles()) {
            models.put(r, shape);
        }
        return new Workload(algorithm, models, globalBatchSequences, promptTokens, responseTokens);
    }

    /** HybridFlow's setting for one Llama size: every model that size, batch 1024, prompt and response 1024. */
    public static Workload of(Algorithm algorithm, LlamaSize size) {
        return of(algorithm, size.config(), DEFAULT_GLOBAL_BATCH_SEQUENCES, DEFAULT_PROMPT_TOKENS,
                DEFAULT_RESPONSE_TOKENS);
    }

    /** The roles in {@link Role} order. */
    public List<Role> roles() {
        return algorithm.roles();
    }

    /** Tokens of one sequence: prompt plus response. */
    public int sequenceTokens() {
        return promptTokens + responseTokens;
    }
}
