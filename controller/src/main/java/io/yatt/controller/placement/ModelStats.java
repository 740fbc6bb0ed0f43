package io.yatt.controller.placement;

import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.ParallelLayout;
import io.yatt.hybrid.ParameterSpec;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The sizes of one decoder that the cost model needs, derived once from its {@link ModelSpec}. Thread-safe. */
final class ModelStats {

    final ModelSpec.DecoderConfig config;
    final ModelSpec spec;
    final int dtypeBytes;
    final long parameterCount;
    final int layers;
    final long hidden;
    final long paddedVocab;
    final long kvBytesPerToken;
    /** {@code M}: bytes of the TP-sharded parameters (DESIGN.md Table 2). */
    final long shardedBytes;
    private final Map<Integer, Long> stageParameters = new ConcurrentHashMap<>();
    private final Map<Long, Boolean> validLayouts = new ConcurrentHashMap<>();

    ModelStats(ModelSpec.DecoderConfig config) {
        this.config = config;
        this.spec = ModelSpec.llama(config);
        this.dtypeBytes = config.dtype().byteSize();
        this.parameterCount = spec.byteSize() / dtypeBytes;
        this.layers = config.layers();
        this.hidden = config.hidden();
        this.paddedVocab = config.paddedVocab();
        long headDim = config.hidden() / config.heads();
        this.kvBytesPerToken = 2L * layers * config.kvHeads() * headDim * dtypeBytes;
        this.shardedBytes = spec.shardedByteSize();
    }

    /** Parameters of the largest of {@code p} pipeline stages ({@code p} must divide the layers). */
    long maxStageParameters(int p) {
        return stageParameters.computeIfAbsent(p, k -> {
            long max = 0;
            for (int s = 0; s < k; s++) {
                long count = 0;
                for (ParameterSpec param : spec.stageParameters(s, k)) {
                    count += param.shape().numel();
                }
                max = Math.max(max, count);
            }
            return max;
        });
    }

    /**
     * Parameters one rank holds in a {@code p}-stage, {@code t}-way layout (largest stage; norms counted as split).
     * With {@code t} above the KV heads each rank holds a whole KV head (replicated on {@code t/kvHeads} ranks), so
     * its k/v rows are {@code 1/kvHeads} of the stage's instead of {@code 1/t}.
     */
    long rankParameters(int p, int t) {
        long split = maxStageParameters(p) / t;
        int kv = config.kvHeads();
        if (t <= kv) {
            return split;
        }
        long kvParams = 2L * (layers / p) * kv * (hidden / config.heads()) * hidden;
        return split + kvParams / kv - kvParams / t;
    }

    /** KV-cache bytes per token on one rank of a {@code p_g}-stage, {@code t_g}-way generation layout. */
    double kvBytesPerTokenPerRank(int pg, int tg) {
        return (double) kvBytesPerToken / pg / Math.min(tg, config.kvHeads());
    }

    /** Whether the hybrid engine accepts {@code p} stages and TP {@code t} for this model ({@link ModelSpec#validateFor}). */
    boolean accepts(int p, int t) {
        return validLayouts.computeIfAbsent(((long) p << 32) | t, k -> {
            try {
                spec.validateFor(ParallelLayout.of(p, t, 1));
                return true;
            } catch (IllegalArgumentException e) {
                return false;
            }
        });
    }

    /** Forward FLOPs per token of a sequence of {@code sequenceTokens}: {@code 2*P} plus causal attention {@code 2*L*s*h}. */
    double forwardFlopsPerToken(int sequenceTokens) {
        return 2.0 * parameterCount + 2.0 * layers * sequenceTokens * hidden;
    }
}
