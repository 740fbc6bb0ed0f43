package io.yatt.hybrid;

import java.util.List;

/**
 * How a parameter is split over training or generation tensor-parallel ranks (weights are stored {@code [out, in]}).
 * A sharded kind cuts its shard dimension into components (one, or q/k/v, or gate/up); TP shard {@code s} of
 * {@code n} is the concatenation, in component order, of slice {@code s} of every component. Immutable and
 * thread-safe.
 */
public sealed interface ParameterKind {

    /** The training (and generation) placement over the TP dimension: {@code S(0)}, {@code S(1)} or {@code R}. */
    Placement placement();

    /** Whether the parameter is split over TP ranks (everything but {@link Replicated}). */
    default boolean isSharded() {
        return placement() instanceof Placement.Shard;
    }

    /** The shard dimension; -1 when replicated. */
    default int shardDim() {
        return placement() instanceof Placement.Shard(int dim) ? dim : -1;
    }

    /**
     * The sizes of the components along the shard dimension for a full dimension of {@code dimSize}; they sum to
     * {@code dimSize}.
     *
     * @throws IllegalArgumentException if the dimension does not fit the kind
     */
    List<Long> components(long dimSize);

    /** Column-parallel linear weight {@code [out, in]} (shard dim 0) or its bias {@code [out]}. */
    record ColumnParallel() implements ParameterKind {
        @Override
        public Placement placement() {
            return new Placement.Shard(0);
        }

        @Override
        public List<Long> components(long dimSize) {
            return List.of(dimSize);
        }
    }

    /** Row-parallel linear weight {@code [out, in]} (shard dim 1); its bias is {@link Replicated}. */
    record RowParallel() implements ParameterKind {
        @Override
        public Placement placement() {
            return new Placement.Shard(1);
        }

        @Override
        public List<Long> components(long dimSize) {
            return List.of(dimSize);
        }
    }

    /**
     * Vocab-parallel embedding {@code [paddedVocab, hidden]} (shard dim 0); rows past {@code vocabSize} are padding.
     *
     * @param vocabSize the real vocabulary size (before padding)
     */
    record VocabParallel(long vocabSize) implements ParameterKind {
        /**
         * @throws IllegalArgumentException if the vocabulary size is not positive
         */
        public VocabParallel {
            if (vocabSize <= 0) {
                throw new IllegalArgumentException("vocab size must be positive: vocabSize=" + vocabSize);
            }
        }

        @Override
        public Placement placement() {
            return new Placement.Shard(0);
        }

        @Override
        public List<Long> components(long dimSize) {
            if (dimSize < vocabSize) {
                throw new IllegalArgumentException("padded vocab smaller than vocab: paddedVocab=" + dimSize
                        + ", vocabSize=" + vocabSize);
            }
            return List.of(dimSize);
        }
    }

    /** Held whole by every TP rank (norms, row-parallel biases); never moves in a TP reshard. */
    record Replicated() implements ParameterKind {
        @Override
        public Placement placement() {
            return new Placement.Replicate();
        }

        @Override
        public List<Long> components(long dimSize) {
            return List.of(dimSize);
        }
    }

    /**
     * Fused QKV with grouped-query attention, rows {@code [q (heads*headDim); k (kvHeads*headDim); v (kvHeads*headDim)]}
     * (shard dim 0, also for its bias). TP shard {@code s} of {@code n} holds query heads
     * {@code [s*heads/n, (s+1)*heads/n)}, then its k heads, then its v heads ({@code [q_s; k_s; v_s]}): with
     * {@code n} dividing {@code kvHeads}, KV heads {@code [s*kvHeads/n, (s+1)*kvHeads/n)} (its query heads' groups);
     * with {@code kvHeads} dividing {@code n}, the one KV head {@code s/(n/kvHeads)}, replicated on {@code n/kvHeads}
     * shards (as Megatron and vLLM do); any other {@code n} is rejected ({@link ShardMath#slices}).
     *
     * @param heads query heads
     * @param kvHeads key/value heads (groups)
     * @param headDim elements per head
     */
    record FusedQkv(int heads, int kvHeads, long headDim) implements ParameterKind {
        /**
         * @throws IllegalArgumentException if a size is not positive or heads is not a multiple of kvHeads
         */
        public FusedQkv {
            if (heads <= 0 || kvHeads <= 0 || headDim <= 0) {
                throw new IllegalArgumentException("attention sizes must be positive: heads=" + heads + ", kvHeads="
                        + kvHeads + ", headDim=" + headDim);
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException(
                        "heads must be a multiple of kv heads: heads=" + heads + ", kvHeads=" + kvHeads);
            }
        }

        /** Query heads per KV group. */
        public int groupSize() {
            return heads / kvHeads;
        }

        /** Rows of the fused weight: {@code (heads + 2*kvHeads) * headDim}. */
        public long rows() {
            return (heads + 2L * kvHeads) * headDim;
        }

        @Override
        public Placement placement() {
            return new Placement.Shard(0);
        }

        @Override
        public List<Long> components(long dimSize) {
            if (dimSize != rows()) {
                throw new IllegalArgumentException("fused QKV rows must be (heads + 2*kvHeads)*headDim: rows=" + dimSize
                        + ", heads=" + heads + ", kvHeads=" + kvHeads + ", headDim=" + headDim + ", expected=" + rows());
            }
            return List.of(heads * headDim, kvHeads * headDim, kvHeads * headDim);
        }
    }

    /** Fused MLP gate and up projections, rows {@code [gate (ffn); up (ffn)]}; TP shard {@code s} is {@code [gate_s; up_s]}. */
    record FusedGateUp() implements ParameterKind {
        @Override
        public Placement placement() {
            return new Placement.Shard(0);
        }

        @Override
        public List<Long> components(long dimSize) {
            if (dimSize % 2 != 0) {
                throw new IllegalArgumentException("fused gate/up rows must be even: rows=" + dimSize);
            }
            return List.of(dimSize / 2, dimSize / 2);
        }
    }
}
