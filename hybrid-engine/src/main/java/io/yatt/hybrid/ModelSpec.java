package io.yatt.hybrid;

import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The named parameters of a model in a fixed order, with their kinds, shapes, dtype and pipeline positions. All
 * parameters share one dtype (the engine keeps them in one buffer). Immutable and thread-safe; equal specs plan
 * equally.
 */
public final class ModelSpec {

    private final int layers;
    private final DType dtype;
    private final List<ParameterSpec> parameters;
    private final Map<String, ParameterSpec> byName;

    private ModelSpec(int layers, List<ParameterSpec> parameters) {
        this.layers = layers;
        this.parameters = List.copyOf(parameters);
        Map<String, ParameterSpec> map = new LinkedHashMap<>();
        for (ParameterSpec p : this.parameters) {
            map.put(p.name(), p);
        }
        this.byName = map;
        this.dtype = parameters.isEmpty() ? DType.F32 : parameters.getFirst().dtype();
    }

    /**
     * A builder for a model of {@code layers} decoder layers.
     *
     * @throws IllegalArgumentException if layers is negative
     */
    public static Builder builder(int layers) {
        if (layers < 0) {
            throw new IllegalArgumentException("layers must be non-negative: layers=" + layers);
        }
        return new Builder(layers);
    }

    /**
     * The spec of a Llama-style decoder without biases: vocab-parallel embedding, per layer input norm, fused QKV
     * (GQA), row-parallel o_proj, post-attention norm, fused gate/up, row-parallel down_proj; final norm and
     * column-parallel lm_head. Vocabulary rows are padded to a multiple of {@code vocabPadMultiple} on both the
     * embedding and lm_head (pass the largest TP degree used).
     *
     * @throws IllegalArgumentException if hidden is not a multiple of heads, heads not a multiple of kvHeads, or a
     *         size is not positive
     */
    public static ModelSpec llama(int layers, long hidden, int heads, int kvHeads, long ffn, long vocab, DType dtype,
                                  int vocabPadMultiple) {
        return llama(new DecoderConfig(layers, hidden, heads, kvHeads, ffn, vocab, dtype, vocabPadMultiple, false));
    }

    /**
     * The spec of a Llama-style decoder; with {@link DecoderConfig#biases()} the fused QKV and gate/up carry fused
     * biases and o_proj/down_proj carry replicated biases.
     *
     * @throws IllegalArgumentException if the configuration is inconsistent
     */
    public static ModelSpec llama(DecoderConfig config) {
        long headDim = config.hidden() / config.heads();
        ParameterKind.FusedQkv qkv = new ParameterKind.FusedQkv(config.heads(), config.kvHeads(), headDim);
        long vocabRows = config.paddedVocab();
        DType dt = config.dtype();
        long h = config.hidden();
        Builder b = builder(config.layers());
        b.add("embed_tokens.weight", new ParameterKind.VocabParallel(config.vocab()), Shape.of(vocabRows, h), dt,
                ParameterSpec.FIRST_STAGE);
        for (int i = 0; i < config.layers(); i++) {
            String p = "layers." + i + ".";
            b.add(p + "input_layernorm.weight", new ParameterKind.Replicated(), Shape.of(h), dt, i);
            b.add(p + "self_attn.qkv_proj.weight", qkv, Shape.of(qkv.rows(), h), dt, i);
            if (config.biases()) {
                b.add(p + "self_attn.qkv_proj.bias", qkv, Shape.of(qkv.rows()), dt, i);
            }
            b.add(p + "self_attn.o_proj.weight", new ParameterKind.RowParallel(), Shape.of(h, config.heads() * headDim),
                    dt, i);
            if (config.biases()) {
                b.add(p + "self_attn.o_proj.bias", new ParameterKind.Replicated(), Shape.of(h), dt, i);
            }
            b.add(p + "post_attention_layernorm.weight", new ParameterKind.Replicated(), Shape.of(h), dt, i);
            b.add(p + "mlp.gate_up_proj.weight", new ParameterKind.FusedGateUp(), Shape.of(2 * config.ffn(), h), dt, i);
            if (config.biases()) {
                b.add(p + "mlp.gate_up_proj.bias", new ParameterKind.FusedGateUp(), Shape.of(2 * config.ffn()), dt, i);
            }
            b.add(p + "mlp.down_proj.weight", new ParameterKind.RowParallel(), Shape.of(h, config.ffn()), dt, i);
            if (config.biases()) {
                b.add(p + "mlp.down_proj.bias", new ParameterKind.Replicated(), Shape.of(h), dt, i);
            }
        }
        b.add("norm.weight", new ParameterKind.Replicated(), Shape.of(h), dt, ParameterSpec.LAST_STAGE);
        b.add("lm_head.weight", new ParameterKind.ColumnParallel(), Shape.of(vocabRows, h), dt,
                ParameterSpec.LAST_STAGE);
        return b.build();
    }

    /** Decoder layers. */
    public int layers() {
        return layers;
    }

    /** The dtype shared by every parameter. */
    public DType dtype() {
        return dtype;
    }

    /** Every parameter, in model order. */
    public List<ParameterSpec> parameters() {
        return parameters;
    }

    /**
     * The parameter with a global name.
     *
     * @throws IllegalArgumentException if there is none
     */
    public ParameterSpec parameter(String name) {
        ParameterSpec p = byName.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown parameter: name=" + name);
        }
        return p;
    }

    /** Bytes of all parameters. */
    public long byteSize() {
        long total = 0;
        for (ParameterSpec p : parameters) {
            total += p.byteSize();
        }
        return total;
    }

    /** {@code M}: bytes of the parameters sharded over TP (everything but replicated ones). */
    public long shardedByteSize() {
        long total = 0;
        for (ParameterSpec p : parameters) {
            if (p.kind().isSharded()) {
                total += p.byteSize();
            }
        }
        return total;
    }

    /**
     * The parameters that pipeline stage {@code stage} of {@code p} holds, in model order.
     *
     * @throws IllegalArgumentException if {@code p} does not divide the layers
     */
    public List<ParameterSpec> stageParameters(int stage, int p) {
        List<ParameterSpec> result = new ArrayList<>();
        for (ParameterSpec param : parameters) {
            if (param.stage(p, layers) == stage) {
                result.add(param);
            }
        }
        return result;
    }

    /**
     * Whether every stage of {@code p} holds the same number of sharded bytes (then each rank's training shard is
     * exactly {@code M/(t*p)}).
     */
    public boolean isStageBalanced(int p) {
        long first = -1;
        for (int s = 0; s < p; s++) {
            long bytes = 0;
            for (ParameterSpec param : stageParameters(s, p)) {
                if (param.kind().isSharded()) {
                    bytes += param.byteSize();
                }
            }
            if (first >= 0 && bytes != first) {
                return false;
            }
            first = bytes;
        }
        return true;
    }

    /**
     * Checks that the model can be laid out in the training layout (and so in any generation layout of it whose TP
     * degree fits the KV heads, see {@link #validateFor(HybridLayout)}): {@code p} divides the layers, {@code t}
     * divides the query heads, {@code t} and the KV heads divide one another (with {@code t > kvHeads} each KV head is
     * replicated on {@code t/kvHeads} ranks), {@code t} divides the padded vocabulary and every other sharded
     * dimension.
     *
     * @throws IllegalArgumentException naming the first violation
     */
    public void validateFor(ParallelLayout train) {
        if (layers % train.p() != 0) {
            throw new IllegalArgumentException(
                    "pipeline stages must divide layers: layers=" + layers + ", p=" + train.p());
        }
        validateTp(train.t(), "training TP", "t");
    }

    /**
     * Checks the training layout ({@link #validateFor(ParallelLayout)}) and that the generation TP degree and the KV
     * heads divide one another.
     *
     * @throws IllegalArgumentException naming the first violation
     */
    public void validateFor(HybridLayout layout) {
        validateFor(layout.train());
        validateTp(layout.gen().tg(), "generation TP", "t_g");
    }

    private void validateTp(int t, String what, String symbol) {
        for (ParameterSpec param : parameters) {
            ParameterKind kind = param.kind();
            if (kind instanceof ParameterKind.FusedQkv qkv) {
                if (qkv.kvHeads() % t != 0 && t % qkv.kvHeads() != 0) {
                    throw new IllegalArgumentException(what + " and kv heads must divide one another: kvHeads="
                            + qkv.kvHeads() + ", " + symbol + "=" + t + ", parameter=" + param.name());
                }
                if (qkv.heads() % t != 0) {
                    throw new IllegalArgumentException(what + " must divide the heads: heads=" + qkv.heads() + ", "
                            + symbol + "=" + t + ", parameter=" + param.name());
                }
            }
            if (kind instanceof ParameterKind.VocabParallel && param.shape().dim(0) % t != 0) {
                throw new IllegalArgumentException(what + " must divide the padded vocab: paddedVocab="
                        + param.shape().dim(0) + ", " + symbol + "=" + t + ", parameter=" + param.name()
                        + " (pad the vocab to a multiple of the largest TP degree)");
            }
            if (kind.isSharded()) {
                param.shardShape(t);
            }
        }
    }

    /**
     * Bytes of the k and v rows of the fused QKV parameters ({@code M_kv}, part of {@link #shardedByteSize()}): the
     * part that is replicated when the TP degree exceeds the KV heads.
     */
    public long kvByteSize() {
        long total = 0;
        for (ParameterSpec param : parameters) {
            if (param.kind() instanceof ParameterKind.FusedQkv qkv) {
                total += 2L * qkv.kvHeads() * qkv.headDim() * param.innerSize() * param.dtype().byteSize();
            }
        }
        return total;
    }

    /** The number of KV heads of the fused QKV parameters, or 0 when the model has none. */
    public int kvHeads() {
        for (ParameterSpec param : parameters) {
            if (param.kind() instanceof ParameterKind.FusedQkv qkv) {
                return qkv.kvHeads();
            }
        }
        return 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelSpec other && layers == other.layers && parameters.equals(other.parameters);
    }

    @Override
    public int hashCode() {
        return 31 * layers + parameters.hashCode();
    }

    @Override
    public String toString() {
        return "ModelSpec{layers=" + layers + ", parameters=" + parameters.size() + ", dtype=" + dtype
                + ", byteSize=" + byteSize() + ", shardedByteSize=" + shardedByteSize() + "}";
    }

    /**
     * The size of a Llama-style decoder.
     *
     * @param layers decoder layers
     * @param hidden hidden size
     * @param heads query heads
     * @param kvHeads key/value heads
     * @param ffn MLP intermediate size
     * @param vocab vocabulary size before padding
     * @param dtype parameter dtype
     * @param vocabPadMultiple the vocabulary is padded to a multiple of this (the largest TP degree used)
     * @param biases whether QKV, o_proj, gate/up and down_proj carry biases
     */
    public record DecoderConfig(int layers, long hidden, int heads, int kvHeads, long ffn, long vocab, DType dtype,
                                int vocabPadMultiple, boolean biases) {
        /**
         * @throws IllegalArgumentException if a size is not positive, hidden is not a multiple of heads or heads not a
         *         multiple of kvHeads
         */
        public DecoderConfig {
            Objects.requireNonNull(dtype, "dtype");
            if (layers < 0 || hidden <= 0 || heads <= 0 || kvHeads <= 0 || ffn <= 0 || vocab <= 0
                    || vocabPadMultiple <= 0) {
                throw new IllegalArgumentException("decoder sizes must be positive: layers=" + layers + ", hidden="
                        + hidden + ", heads=" + heads + ", kvHeads=" + kvHeads + ", ffn=" + ffn + ", vocab=" + vocab
                        + ", vocabPadMultiple=" + vocabPadMultiple);
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException(
                        "heads must be a multiple of kv heads: heads=" + heads + ", kvHeads=" + kvHeads);
            }
            if (hidden % heads != 0) {
                throw new IllegalArgumentException(
                        "hidden must be a multiple of heads: hidden=" + hidden + ", heads=" + heads);
            }
        }

        /** The vocabulary rounded up to a multiple of {@link #vocabPadMultiple()}. */
        public long paddedVocab() {
            return (vocab + vocabPadMultiple - 1) / vocabPadMultiple * vocabPadMultiple;
        }
    }

    /** Collects parameters in model order. Not thread-safe. */
    public static final class Builder {
        private final int layers;
        private final List<ParameterSpec> parameters = new ArrayList<>();
        private final Set<String> names = new HashSet<>();

        private Builder(int layers) {
            this.layers = layers;
        }

        /**
         * Adds a parameter.
         *
         * @throws IllegalArgumentException if the name repeats, the layer is out of range, the dtype differs from
         *         earlier parameters or the parameter is invalid
         */
        public Builder add(String name, ParameterKind kind, Shape shape, DType dtype, int layer) {
            return add(new ParameterSpec(name, kind, shape, dtype, layer));
        }

        /**
         * Adds a parameter.
         *
         * @throws IllegalArgumentException if the name repeats, the layer is out of range or the dtype differs
         */
        public Builder add(ParameterSpec parameter) {
            if (!names.add(parameter.name())) {
                throw new IllegalArgumentException("duplicate parameter: name=" + parameter.name());
            }
            if (parameter.layer() >= layers) {
                throw new IllegalArgumentException("layer out of range: name=" + parameter.name() + ", layer="
                        + parameter.layer() + ", layers=" + layers);
            }
            if (!parameters.isEmpty() && parameters.getFirst().dtype() != parameter.dtype()) {
                throw new IllegalArgumentException("all parameters must share one dtype: name=" + parameter.name()
                        + ", dtype=" + parameter.dtype() + ", expected=" + parameters.getFirst().dtype());
            }
            parameters.add(parameter);
            return this;
        }

        /** The spec. */
        public ModelSpec build() {
            return new ModelSpec(layers, parameters);
        }
    }
}
