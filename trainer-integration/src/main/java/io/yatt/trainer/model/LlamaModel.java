package io.yatt.trainer.model;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Half;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One tensor-parallel rank of a Llama decoder in f32 on {@code float[]} buffers: token embedding (vocab-parallel),
 * per layer RMSNorm, fused QKV (column-parallel, grouped-query), rotary embedding (Hugging Face {@code rotate_half}),
 * causal attention with a padding mask, o_proj (row-parallel, all-reduce), RMSNorm, fused gate/up
 * (column-parallel), SwiGLU, down_proj (row-parallel, all-reduce); final norm and a {@link Head}. Parameters carry the
 * hybrid engine's names and per-rank layouts ({@link LlamaConfig#modelSpec}); the vocabulary is padded to a multiple
 * of {@code vocabPadMultiple} and padded logits are excluded from every softmax.
 *
 * <p>Each forward ({@link #logProbs}, {@link #values}, {@link #rewards}) keeps its activations for the matching
 * backward, which accumulates into {@link Parameter#grad()}. Activation buffers are allocated on the first batch and
 * reused for every batch that fits (they grow only when a larger {@code B} or {@code T} arrives). Vocab-parallel
 * log-softmax, entropy and their gradients reduce per-row scalars only, never gather the vocabulary. All ranks of the
 * tensor-parallel communicator must make the same calls with the same batch. Confined to one thread per rank;
 * {@link #close()} frees the collective staging memory.
 */
public final class LlamaModel implements AutoCloseable {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private final LlamaConfig config;
    private final Head head;
    private final HostGroup tp;
    // the ranks sharing this rank's KV head when tp > kv heads (null otherwise), and its communicator
    private final HostGroup kvReplicas;
    private final Communicator kvReplicaComm;
    private final int tpDegree;
    private final int vocabPadMultiple;
    // rank-local sizes
    private final int c;
    private final int nh;
    private final int kv;
    private final int hd;
    private final int qkvWidth;
    private final int ffn;
    private final int vocabLocal;
    private final int vocabStart;
    private final int layers;
    private final float eps;

    private final List<Parameter> parameters = new ArrayList<>();
    private final Map<String, Parameter> byName = new LinkedHashMap<>();
    private final Parameter embed;
    private final Parameter[] inNorm;
    private final Parameter[] qkv;
    private final Parameter[] oProj;
    private final Parameter[] postNorm;
    private final Parameter[] gateUp;
    private final Parameter[] down;
    private final Parameter norm;
    private final Parameter lmHead;
    private final Parameter score;
    private final float[] ropeCos;
    private final float[] ropeSin;

    // activations (capacity rows = capB * capT)
    private int capT;
    private int capB;
    private float[][] xIn;
    private float[][] xMid;
    private float[][] ln1;
    private float[][] rstd1;
    private float[][] qkvAct;
    private float[][] att;
    private float[][] yAct;
    private float[][] ln2;
    private float[][] rstd2;
    private float[][] guAct;
    private float[][] hAct;
    private float[] lnf;
    private float[] rstdF;
    private float[] logits;
    private float[] tmpC;
    private float[] dx;
    private float[] dlnf;
    private float[] dqkv;
    private float[] qkvGradScratch;
    private float[] dy;
    private float[] dgu;
    private float[] dh;
    private float[] attScratch;
    private int[] pos;
    private float[] rowStats;
    private float[] rowMax;
    private float[] logZ;
    private float[] meanZ;

    // the last forward
    private enum Pending { NONE, LOG_PROBS, VALUES, REWARDS }

    private Pending pending = Pending.NONE;
    private Batch batch;
    private float invTemperature;
    private int[] lastRow;

    private LlamaModel(LlamaConfig config, Head head, Map<String, float[]> weights, Communicator tpComm,
                       int vocabPadMultiple) {
        this.config = Objects.requireNonNull(config, "config");
        this.head = Objects.requireNonNull(head, "head");
        int t = tpComm == null ? 1 : tpComm.size();
        int rank = tpComm == null ? 0 : tpComm.rank();
        config.requireTensorParallel(t);
        int padded = config.paddedVocab(vocabPadMultiple);
        if (padded % t != 0) {
            throw new IllegalArgumentException("tensor-parallel degree must divide the padded vocab: paddedVocab="
                    + padded + ", tp=" + t + " (pad the vocab to a multiple of the largest TP degree)");
        }
        this.vocabPadMultiple = vocabPadMultiple;
        this.c = config.hiddenSize();
        this.nh = config.numAttentionHeads() / t;
        this.tpDegree = t;
        this.kv = Math.max(1, config.numKeyValueHeads() / t);
        this.hd = config.headDim();
        this.qkvWidth = (nh + 2 * kv) * hd;
        this.ffn = config.intermediateSize() / t;
        this.vocabLocal = padded / t;
        this.vocabStart = rank * vocabLocal;
        this.layers = config.numHiddenLayers();
        this.eps = (float) config.rmsNormEps();
        this.inNorm = new Parameter[layers];
        this.qkv = new Parameter[layers];
        this.oProj = new Parameter[layers];
        this.postNorm = new Parameter[layers];
        this.gateUp = new Parameter[layers];
        this.down = new Parameter[layers];
        Map<String, int[]> shapes = rankShapes();
        for (String name : weights.keySet()) {
            if (!shapes.containsKey(name) && !ignored(name)) {
                throw new IllegalArgumentException("unexpected parameter: name=" + name + ", head=" + head);
            }
        }
        this.embed = add(weights, shapes, "embed_tokens.weight", true);
        for (int l = 0; l < layers; l++) {
            String p = "layers." + l + ".";
            inNorm[l] = add(weights, shapes, p + "input_layernorm.weight", false);
            qkv[l] = add(weights, shapes, p + "self_attn.qkv_proj.weight", true);
            oProj[l] = add(weights, shapes, p + "self_attn.o_proj.weight", true);
            postNorm[l] = add(weights, shapes, p + "post_attention_layernorm.weight", false);
            gateUp[l] = add(weights, shapes, p + "mlp.gate_up_proj.weight", true);
            down[l] = add(weights, shapes, p + "mlp.down_proj.weight", true);
        }
        this.norm = add(weights, shapes, "norm.weight", false);
        this.lmHead = shapes.containsKey("lm_head.weight") ? add(weights, shapes, "lm_head.weight", true) : null;
        this.score = shapes.containsKey("score.weight") ? add(weights, shapes, "score.weight", false) : null;
        this.tp = HostGroup.of(tpComm);
        int replicas = t / (config.numKeyValueHeads() / kv);
        // ranks r with the same r / replicas hold the same KV head (LlamaConfig#kvReplicas); split is collective
        this.kvReplicaComm = replicas > 1 ? tpComm.split(rank / replicas, rank).orElseThrow() : null;
        this.kvReplicas = kvReplicaComm == null ? null : HostGroup.of(kvReplicaComm);
        int maxPos = config.maxPositionEmbeddings();
        this.ropeCos = new float[maxPos * hd / 2];
        this.ropeSin = new float[maxPos * hd / 2];
        Ops.ropeTables(ropeCos, ropeSin, maxPos, hd, config.ropeTheta());
    }

    /**
     * A rank of the model over its named per-rank arrays (copied): the hybrid engine's names and shard layouts for
     * this rank's position in {@code tp} ({@code null} for a single rank), plus {@code score.weight [1, hidden]} for
     * the value and reward heads. {@code lm_head.weight} is absent when embeddings are tied or the head is not the
     * language model; if present there it is ignored.
     *
     * @throws IllegalArgumentException if tp does not divide the heads, kv heads, MLP width or padded vocab, or a
     *         parameter is missing, unexpected or has the wrong number of elements (the message names it)
     */
    public static LlamaModel create(LlamaConfig config, Head head, Map<String, float[]> rankWeights,
                                    Communicator tp, int vocabPadMultiple) {
        return new LlamaModel(config, head, rankWeights, tp, vocabPadMultiple);
    }

    /**
     * A rank of the model over named host tensors (F32 or BF16, contiguous), such as the hybrid engine's training
     * shards or {@code HybridEngine.generationWeights()} with the generation TP communicator. Values are copied.
     *
     * @throws IllegalArgumentException as {@link #create}, or if a tensor has the wrong shape or dtype
     */
    public static LlamaModel fromTensors(LlamaConfig config, Head head, Map<String, Tensor> tensors,
                                         Communicator tp, int vocabPadMultiple) {
        int t = tp == null ? 1 : tp.size();
        config.requireTensorParallel(t);
        Map<String, int[]> shapes = rankShapes(config, head, t, vocabPadMultiple);
        Map<String, float[]> arrays = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            int[] expected = shapes.get(e.getKey());
            if (expected == null) {
                if (ignored(config, head, e.getKey())) {
                    continue;
                }
                throw new IllegalArgumentException("unexpected parameter: name=" + e.getKey() + ", head=" + head);
            }
            Shape shape = e.getValue().shape();
            if (!Arrays.equals(shape.dims(), Arrays.stream(expected).asLongStream().toArray())) {
                throw new IllegalArgumentException("parameter misshaped: name=" + e.getKey() + ", shape=" + shape
                        + ", expected=" + Arrays.toString(expected));
            }
            arrays.put(e.getKey(), readFloats(e.getKey(), e.getValue()));
        }
        return new LlamaModel(config, head, arrays, tp, vocabPadMultiple);
    }

    /**
     * Copies this rank's parameters into named tensors of the same layouts (F32, or BF16 rounded to nearest even),
     * e.g. back into the hybrid engine's training shards after an optimizer step.
     *
     * @throws IllegalArgumentException if a tensor is missing, misshaped or of another dtype
     */
    public void copyTo(Map<String, Tensor> tensors) {
        for (Parameter p : parameters) {
            Tensor t = tensors.get(p.name());
            if (t == null) {
                throw new IllegalArgumentException("missing tensor: name=" + p.name());
            }
            if (t.numel() != p.numel()) {
                throw new IllegalArgumentException("tensor misshaped: name=" + p.name() + ", numel=" + t.numel()
                        + ", expected=" + p.numel());
            }
            if (t.dtype() != DType.F32 && t.dtype() != DType.BF16) {
                throw new IllegalArgumentException("unsupported dtype: name=" + p.name() + ", dtype=" + t.dtype()
                        + ", expected F32 or BF16");
            }
            if (t.isContiguous()) {
                writeFloats(p.data(), t);
            } else {
                // strided views (row-parallel shards inside the generation buffer): stage and copy
                try (Allocator staging = Allocator.root("model-copy-staging");
                     Tensor tmp = Tensor.allocate(staging, t.dtype(), t.shape(), Device.host())) {
                    writeFloats(p.data(), tmp);
                    t.copyFrom(tmp);
                }
            }
        }
    }

    private static void writeFloats(float[] d, Tensor t) {
        MemorySegment seg = t.segment();
        if (t.dtype() == DType.F32) {
            MemorySegment.copy(d, 0, seg, FLOAT, 0, d.length);
        } else {
            for (int i = 0; i < d.length; i++) {
                seg.set(SHORT, 2L * i, Half.floatToBf16(d[i]));
            }
        }
    }

    private static float[] readFloats(String name, Tensor t) {
        if (!t.isContiguous()) {
            try (Allocator staging = Allocator.root("model-read-staging");
                 Tensor tmp = t.contiguous(staging)) {
                return readFloats(name, tmp);
            }
        }
        int n = Math.toIntExact(t.numel());
        float[] out = new float[n];
        MemorySegment seg = t.segment();
        if (t.dtype() == DType.F32) {
            MemorySegment.copy(seg, FLOAT, 0, out, 0, n);
        } else if (t.dtype() == DType.BF16) {
            for (int i = 0; i < n; i++) {
                out[i] = Half.bf16ToFloat(seg.get(SHORT, 2L * i));
            }
        } else {
            throw new IllegalArgumentException("unsupported dtype: name=" + name + ", dtype=" + t.dtype()
                    + ", expected F32 or BF16");
        }
        return out;
    }

    private boolean ignored(String name) {
        return ignored(config, head, name);
    }

    private static boolean ignored(LlamaConfig config, Head head, String name) {
        return name.equals("lm_head.weight") && (config.tieWordEmbeddings() || head != Head.LANGUAGE_MODEL);
    }

    private Map<String, int[]> rankShapes() {
        return rankShapes(config, head, tpDegree, vocabPadMultiple);
    }

    /** The per-rank shapes, in model order, for a rank of {@code t} (the hybrid engine's shard shapes). */
    static Map<String, int[]> rankShapes(LlamaConfig config, Head head, int t, int vocabPadMultiple) {
        int c = config.hiddenSize();
        int hd = config.headDim();
        int nh = config.numAttentionHeads() / t;
        int kv = Math.max(1, config.numKeyValueHeads() / t);
        int f = config.intermediateSize() / t;
        int vl = config.paddedVocab(vocabPadMultiple) / t;
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put("embed_tokens.weight", new int[] {vl, c});
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            String p = "layers." + l + ".";
            m.put(p + "input_layernorm.weight", new int[] {c});
            m.put(p + "self_attn.qkv_proj.weight", new int[] {(nh + 2 * kv) * hd, c});
            m.put(p + "self_attn.o_proj.weight", new int[] {c, nh * hd});
            m.put(p + "post_attention_layernorm.weight", new int[] {c});
            m.put(p + "mlp.gate_up_proj.weight", new int[] {2 * f, c});
            m.put(p + "mlp.down_proj.weight", new int[] {c, f});
        }
        m.put("norm.weight", new int[] {c});
        if (head == Head.LANGUAGE_MODEL && !config.tieWordEmbeddings()) {
            m.put("lm_head.weight", new int[] {vl, c});
        }
        if (head != Head.LANGUAGE_MODEL) {
            m.put("score.weight", new int[] {1, c});
        }
        return m;
    }

    private Parameter add(Map<String, float[]> weights, Map<String, int[]> shapes, String name, boolean sharded) {
        float[] w = weights.get(name);
        if (w == null) {
            throw new IllegalArgumentException("missing parameter: name=" + name);
        }
        int[] shape = shapes.get(name);
        int numel = 1;
        for (int d : shape) {
            numel *= d;
        }
        if (w.length != numel) {
            throw new IllegalArgumentException("parameter misshaped: name=" + name + ", numel=" + w.length
                    + ", expected=" + numel + " " + Arrays.toString(shape));
        }
        int replicas = config.kvReplicas(tpDegree);
        Parameter p = name.endsWith("self_attn.qkv_proj.weight") && replicas > 1
                ? new Parameter(name, w.clone(), true, nh * hd * c, replicas)
                : new Parameter(name, w.clone(), sharded && tpDegree > 1);
        parameters.add(p);
        byName.put(name, p);
        return p;
    }

    /** The config. */
    public LlamaConfig config() {
        return config;
    }

    /** The head. */
    public Head head() {
        return head;
    }

    /** This rank's index in the tensor-parallel group. */
    public int tpRank() {
        return tp.rank();
    }

    /** The tensor-parallel degree. */
    public int tpSize() {
        return tp.size();
    }

    /** The padded vocabulary's multiple. */
    public int vocabPadMultiple() {
        return vocabPadMultiple;
    }

    /** First global vocabulary row this rank holds. */
    public int vocabStart() {
        return vocabStart;
    }

    /** Vocabulary rows this rank holds (padded vocab / tp). */
    public int vocabLocal() {
        return vocabLocal;
    }

    /** Every parameter of this rank, in model order. */
    public List<Parameter> parameters() {
        return List.copyOf(parameters);
    }

    /**
     * The parameter with this name.
     *
     * @throws IllegalArgumentException if there is none
     */
    public Parameter parameter(String name) {
        Parameter p = byName.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown parameter: name=" + name);
        }
        return p;
    }

    /**
     * The whole (unsharded) weights in the fused, padded layout, gathered over the tensor-parallel group (a collective:
     * every rank calls it and gets the same map), e.g. for {@link LlamaCheckpoint#save}.
     */
    public Map<String, float[]> wholeWeights() {
        int t = tp.size();
        List<Map<String, float[]>> shards = new ArrayList<>(t);
        for (int r = 0; r < t; r++) {
            shards.add(new LinkedHashMap<>());
        }
        for (Parameter p : parameters) {
            float[] all = new float[p.numel() * t];
            tp.allGather(p.data(), 0, p.numel(), all, 0);
            for (int r = 0; r < t; r++) {
                shards.get(r).put(p.name(), Arrays.copyOfRange(all, r * p.numel(), (r + 1) * p.numel()));
            }
        }
        return LlamaWeights.gather(config, head, shards, vocabPadMultiple);
    }

    /** Sets every gradient to zero. */
    public void zeroGrad() {
        for (Parameter p : parameters) {
            Arrays.fill(p.grad(), 0f);
        }
    }

    // ------------------------------------------------------------------ log-probs and entropy

    /**
     * Per-token log-probabilities and entropies of the next token: for {@code t < T-1},
     * {@code logProbs[b*T+t] = log p(tokens[b,t+1] | tokens[b,..t])} under {@code softmax(logits / temperature)}, and
     * {@code entropy[b*T+t]} that distribution's entropy (nats); {@code logProbs[b*T+T-1]} is 0 (no next token).
     * Keeps activations for {@link #backwardLogProbs}.
     *
     * @param entropy may be null
     * @throws IllegalArgumentException if a token is out of the vocabulary, an output is shorter than {@code B*T},
     *         the temperature is not positive, a position passes max_position_embeddings, or the head is not the
     *         language model
     */
    public void logProbs(Batch batch, float temperature, float[] logProbs, float[] entropy) {
        requireHead(Head.LANGUAGE_MODEL);
        if (!(temperature > 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive: temperature=" + temperature);
        }
        int n = batch.rows();
        requireLength("logProbs", logProbs, n);
        if (entropy != null) {
            requireLength("entropy", entropy, n);
        }
        forwardBackbone(batch);
        float[] w = lmWeight().data();
        Ops.linearForward(logits, lnf, w, n, c, vocabLocal);
        invTemperature = 1f / temperature;
        int t = batch.seqLen();
        int[] tokens = batch.tokens();
        int vocab = config.vocabSize();
        int valid = Math.max(0, Math.min(vocabLocal, vocab - vocabStart));
        // row max over real vocab columns
        for (int i = 0; i < n; i++) {
            int o = i * vocabLocal;
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < vocabLocal; j++) {
                float z = logits[o + j] * invTemperature;
                logits[o + j] = z;
                if (j < valid && z > m) {
                    m = z;
                }
            }
            rowMax[i] = m;
        }
        tp.allReduce(rowMax, 0, n, ReduceOp.MAX);
        // sum exp, sum exp*z, target logit
        for (int i = 0; i < n; i++) {
            int o = i * vocabLocal;
            float m = rowMax[i];
            float s = 0f;
            float sz = 0f;
            for (int j = 0; j < valid; j++) {
                float e = (float) Math.exp(logits[o + j] - m);
                s += e;
                sz += e * logits[o + j];
            }
            rowStats[3 * i] = s;
            rowStats[3 * i + 1] = sz;
            int tt = i % t;
            float target = 0f;
            if (tt < t - 1) {
                int local = tokens[i + 1] - vocabStart;
                if (local >= 0 && local < vocabLocal) {
                    target = logits[o + local];
                }
            }
            rowStats[3 * i + 2] = target;
        }
        tp.allReduce(rowStats, 0, 3 * n, ReduceOp.SUM);
        for (int i = 0; i < n; i++) {
            float s = rowStats[3 * i];
            float lz = rowMax[i] + (float) Math.log(s);
            logZ[i] = lz;
            meanZ[i] = rowStats[3 * i + 1] / s;
            logProbs[i] = i % t < t - 1 ? rowStats[3 * i + 2] - lz : 0f;
            if (entropy != null) {
                entropy[i] = lz - meanZ[i];
            }
        }
        pending = Pending.LOG_PROBS;
    }

    /**
     * Accumulates parameter gradients of {@code sum(dLogProbs * logProbs + dEntropy * entropy)} for the batch of the
     * last {@link #logProbs} call ({@code dLogProbs[b*T+T-1]} is ignored).
     *
     * @param dEntropy may be null
     * @throws IllegalStateException if the last forward was not {@link #logProbs}
     * @throws IllegalArgumentException if an array is shorter than {@code B*T}
     */
    public void backwardLogProbs(float[] dLogProbs, float[] dEntropy) {
        requirePending(Pending.LOG_PROBS, "logProbs");
        int n = batch.rows();
        int t = batch.seqLen();
        requireLength("dLogProbs", dLogProbs, n);
        if (dEntropy != null) {
            requireLength("dEntropy", dEntropy, n);
        }
        int[] tokens = batch.tokens();
        int valid = Math.max(0, Math.min(vocabLocal, config.vocabSize() - vocabStart));
        for (int i = 0; i < n; i++) {
            int o = i * vocabLocal;
            float dl = i % t < t - 1 ? dLogProbs[i] : 0f;
            float de = dEntropy == null ? 0f : dEntropy[i];
            float lz = logZ[i];
            float ez = meanZ[i];
            for (int j = 0; j < valid; j++) {
                float z = logits[o + j];
                float p = (float) Math.exp(z - lz);
                logits[o + j] = (-dl * p - de * p * (z - ez)) * invTemperature;
            }
            Arrays.fill(logits, o + valid, o + vocabLocal, 0f);
            if (i % t < t - 1) {
                int local = tokens[i + 1] - vocabStart;
                if (local >= 0 && local < vocabLocal) {
                    logits[o + local] += dl * invTemperature;
                }
            }
        }
        Parameter w = lmWeight();
        Ops.linearBackward(dlnf, w.grad(), logits, lnf, w.data(), n, c, vocabLocal);
        tp.allReduce(dlnf, 0, n * c, ReduceOp.SUM);
        backwardBackbone();
        pending = Pending.NONE;
    }

    /**
     * This rank's slice of the logits {@code [B*T, vocabLocal]} (global vocabulary rows
     * {@code vocabStart() .. vocabStart()+vocabLocal()}, padded rows included), a new array. For tests and tools; the
     * training path never gathers logits.
     *
     * @throws IllegalArgumentException as {@link #logProbs}
     */
    public float[] logitsShard(Batch batch) {
        requireHead(Head.LANGUAGE_MODEL);
        forwardBackbone(batch);
        Ops.linearForward(logits, lnf, lmWeight().data(), batch.rows(), c, vocabLocal);
        pending = Pending.NONE;
        return Arrays.copyOf(logits, batch.rows() * vocabLocal);
    }

    private Parameter lmWeight() {
        return lmHead != null ? lmHead : embed;
    }

    // ------------------------------------------------------------------ value and reward heads

    /**
     * The critic's value per token, {@code values[b*T+t] = score . h[b,t]} (h the final-norm output). Keeps
     * activations for {@link #backwardValues}.
     *
     * @throws IllegalArgumentException if the head is not {@link Head#VALUE}, a token is out of the vocabulary or
     *         the output is shorter than {@code B*T}
     */
    public void values(Batch batch, float[] values) {
        requireHead(Head.VALUE);
        int n = batch.rows();
        requireLength("values", values, n);
        forwardBackbone(batch);
        float[] s = score.data();
        for (int i = 0; i < n; i++) {
            values[i] = dot(lnf, i * c, s, c);
        }
        pending = Pending.VALUES;
    }

    /**
     * Accumulates parameter gradients of {@code sum(dValues * values)} for the batch of the last {@link #values}.
     *
     * @throws IllegalStateException if the last forward was not {@link #values}
     */
    public void backwardValues(float[] dValues) {
        requirePending(Pending.VALUES, "values");
        int n = batch.rows();
        requireLength("dValues", dValues, n);
        float[] s = score.data();
        float[] g = score.grad();
        for (int i = 0; i < n; i++) {
            float d = dValues[i];
            for (int j = 0; j < c; j++) {
                dlnf[i * c + j] = d * s[j];
                g[j] += d * lnf[i * c + j];
            }
        }
        backwardBackbone();
        pending = Pending.NONE;
    }

    /**
     * The reward model's score per sequence, read at the sequence's last token whose mask is 1. Keeps activations for
     * {@link #backwardRewards}.
     *
     * @throws IllegalArgumentException if the head is not {@link Head#REWARD}, a sequence has no real token, a token
     *         is out of the vocabulary or the output is shorter than B
     */
    public void rewards(Batch batch, float[] rewards) {
        requireHead(Head.REWARD);
        int b = batch.batchSize();
        int t = batch.seqLen();
        requireLength("rewards", rewards, b);
        int[] last = new int[b];
        for (int s = 0; s < b; s++) {
            last[s] = -1;
            for (int i = t - 1; i >= 0; i--) {
                if (batch.attentionMask()[s * t + i] == 1) {
                    last[s] = s * t + i;
                    break;
                }
            }
            if (last[s] < 0) {
                throw new IllegalArgumentException("sequence without a real token: sequence=" + s);
            }
        }
        forwardBackbone(batch);
        for (int s = 0; s < b; s++) {
            rewards[s] = dot(lnf, last[s] * c, score.data(), c);
        }
        lastRow = last;
        pending = Pending.REWARDS;
    }

    /**
     * Accumulates parameter gradients of {@code sum(dRewards * rewards)} for the batch of the last {@link #rewards}.
     *
     * @throws IllegalStateException if the last forward was not {@link #rewards}
     */
    public void backwardRewards(float[] dRewards) {
        requirePending(Pending.REWARDS, "rewards");
        requireLength("dRewards", dRewards, batch.batchSize());
        Arrays.fill(dlnf, 0, batch.rows() * c, 0f);
        float[] s = score.data();
        float[] g = score.grad();
        for (int b = 0; b < batch.batchSize(); b++) {
            int row = lastRow[b];
            for (int j = 0; j < c; j++) {
                dlnf[row * c + j] = dRewards[b] * s[j];
                g[j] += dRewards[b] * lnf[row * c + j];
            }
        }
        backwardBackbone();
        pending = Pending.NONE;
    }

    private static float dot(float[] a, int offset, float[] b, int n) {
        float s = 0f;
        for (int j = 0; j < n; j++) {
            s += a[offset + j] * b[j];
        }
        return s;
    }

    // ------------------------------------------------------------------ backbone

    private void forwardBackbone(Batch batch) {
        int b = batch.batchSize();
        int t = batch.seqLen();
        int n = b * t;
        ensureCapacity(b, t);
        this.batch = batch;
        int[] tokens = batch.tokens();
        int[] mask = batch.attentionMask();
        int vocab = config.vocabSize();
        for (int i = 0; i < n; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("token id out of range: token=" + tokens[i] + ", vocab=" + vocab
                        + ", index=" + i);
            }
        }
        positions(mask, b, t, pos, config.maxPositionEmbeddings());
        embedForward(xIn[0], tokens, n);
        for (int l = 0; l < layers; l++) {
            float[] x = xIn[l];
            Ops.rmsNormForward(ln1[l], rstd1[l], x, inNorm[l].data(), n, c, eps);
            Ops.linearForward(qkvAct[l], ln1[l], qkv[l].data(), n, c, qkvWidth);
            Ops.rope(qkvAct[l], 0, qkvWidth, n, nh + kv, hd, pos, ropeCos, ropeSin, false);
            Ops.attentionForward(yAct[l], att[l], qkvAct[l], mask, b, t, nh, kv, hd);
            Ops.linearForward(tmpC, yAct[l], oProj[l].data(), n, nh * hd, c);
            tp.allReduce(tmpC, 0, n * c, ReduceOp.SUM);
            float[] mid = xMid[l];
            for (int i = 0; i < n * c; i++) {
                mid[i] = x[i] + tmpC[i];
            }
            Ops.rmsNormForward(ln2[l], rstd2[l], mid, postNorm[l].data(), n, c, eps);
            Ops.linearForward(guAct[l], ln2[l], gateUp[l].data(), n, c, 2 * ffn);
            Ops.swigluForward(hAct[l], guAct[l], n, ffn);
            Ops.linearForward(tmpC, hAct[l], down[l].data(), n, ffn, c);
            tp.allReduce(tmpC, 0, n * c, ReduceOp.SUM);
            float[] out = xIn[l + 1];
            for (int i = 0; i < n * c; i++) {
                out[i] = mid[i] + tmpC[i];
            }
        }
        Ops.rmsNormForward(lnf, rstdF, xIn[layers], norm.data(), n, c, eps);
    }

    /** Positions {@code cumsum(mask) - 1} per sequence (0 for leading padding). */
    static void positions(int[] mask, int b, int t, int[] out, int maxPositions) {
        for (int s = 0; s < b; s++) {
            int count = 0;
            for (int i = 0; i < t; i++) {
                count += mask[s * t + i];
                int p = Math.max(0, count - 1);
                if (p >= maxPositions) {
                    throw new IllegalArgumentException("position past max_position_embeddings: position=" + p
                            + ", max_position_embeddings=" + maxPositions + ", sequence=" + s);
                }
                out[s * t + i] = p;
            }
        }
    }

    private void embedForward(float[] x, int[] tokens, int n) {
        float[] e = embed.data();
        for (int i = 0; i < n; i++) {
            int local = tokens[i] - vocabStart;
            if (local >= 0 && local < vocabLocal) {
                System.arraycopy(e, local * c, x, i * c, c);
            } else {
                Arrays.fill(x, i * c, (i + 1) * c, 0f);
            }
        }
        tp.allReduce(x, 0, n * c, ReduceOp.SUM);
    }

    /** Backward from {@code dlnf} (the gradient of the final norm's output) down to the embedding. */
    private void backwardBackbone() {
        int b = batch.batchSize();
        int t = batch.seqLen();
        int n = b * t;
        Arrays.fill(dx, 0, n * c, 0f);
        Ops.rmsNormBackward(dx, norm.grad(), dlnf, xIn[layers], norm.data(), rstdF, n, c);
        for (int l = layers - 1; l >= 0; l--) {
            // MLP: out = mid + down(swiglu(gateUp(rms(mid))))
            Ops.linearBackward(dh, down[l].grad(), dx, hAct[l], down[l].data(), n, ffn, c);
            Ops.swigluBackward(dgu, dh, guAct[l], n, ffn);
            Ops.linearBackward(tmpC, gateUp[l].grad(), dgu, ln2[l], gateUp[l].data(), n, c, 2 * ffn);
            tp.allReduce(tmpC, 0, n * c, ReduceOp.SUM);
            Ops.rmsNormBackward(dx, postNorm[l].grad(), tmpC, xMid[l], postNorm[l].data(), rstd2[l], n, c);
            // attention: mid = x + o(attn(rope(qkv(rms(x)))))
            Ops.linearBackward(dy, oProj[l].grad(), dx, yAct[l], oProj[l].data(), n, nh * hd, c);
            Ops.attentionBackward(dqkv, dy, att[l], qkvAct[l], attScratch, b, t, nh, kv, hd);
            Ops.rope(dqkv, 0, qkvWidth, n, nh + kv, hd, pos, ropeCos, ropeSin, true);
            // the weight gradient needs the pre-rope input only through ln1, which is kept
            if (kvReplicas == null) {
                Ops.linearBackward(tmpC, qkv[l].grad(), dqkv, ln1[l], qkv[l].data(), n, c, qkvWidth);
            } else {
                // a replicated KV head: each replica has the part of its gradient from its own query heads; sum
                // this step's part over the replicas (Megatron's rule) so that replicas stay bit-identical
                Arrays.fill(qkvGradScratch, 0f);
                Ops.linearBackward(tmpC, qkvGradScratch, dqkv, ln1[l], qkv[l].data(), n, c, qkvWidth);
                int from = nh * hd * c;
                kvReplicas.allReduce(qkvGradScratch, from, qkvGradScratch.length - from, ReduceOp.SUM);
                float[] grad = qkv[l].grad();
                for (int i = 0; i < grad.length; i++) {
                    grad[i] += qkvGradScratch[i];
                }
            }
            tp.allReduce(tmpC, 0, n * c, ReduceOp.SUM);
            Ops.rmsNormBackward(dx, inNorm[l].grad(), tmpC, xIn[l], inNorm[l].data(), rstd1[l], n, c);
        }
        float[] g = embed.grad();
        int[] tokens = batch.tokens();
        for (int i = 0; i < n; i++) {
            int local = tokens[i] - vocabStart;
            if (local >= 0 && local < vocabLocal) {
                int o = local * c;
                for (int j = 0; j < c; j++) {
                    g[o + j] += dx[i * c + j];
                }
            }
        }
    }

    /**
     * Bytes of the activation and gradient buffers this model holds now, counted from the arrays: they grow to the
     * largest batch (rows x sequence length) a forward has seen and stay, so the largest forward decides it.
     */
    public long activationBytes() {
        long floats = 0;
        for (float[][] perLayer : new float[][][] {xIn, xMid, ln1, rstd1, qkvAct, att, yAct, ln2, rstd2, guAct,
                hAct}) {
            if (perLayer != null) {
                for (float[] a : perLayer) {
                    floats += a.length;
                }
            }
        }
        for (float[] a : new float[][] {lnf, rstdF, logits, tmpC, dx, dlnf, dqkv, qkvGradScratch, dy, dgu, dh,
                attScratch, rowStats, rowMax, logZ, meanZ}) {
            floats += a == null ? 0 : a.length;
        }
        return floats * Float.BYTES + (pos == null ? 0 : (long) pos.length * Integer.BYTES);
    }

    private void ensureCapacity(int b, int t) {
        if (b <= capB && t <= capT) {
            return;
        }
        capB = Math.max(b, capB);
        capT = Math.max(t, capT);
        int rows = capB * capT;
        xIn = new float[layers + 1][rows * c];
        xMid = new float[layers][rows * c];
        ln1 = new float[layers][rows * c];
        rstd1 = new float[layers][rows];
        qkvAct = new float[layers][rows * qkvWidth];
        att = new float[layers][capB * nh * capT * capT];
        yAct = new float[layers][rows * nh * hd];
        ln2 = new float[layers][rows * c];
        rstd2 = new float[layers][rows];
        guAct = new float[layers][rows * 2 * ffn];
        hAct = new float[layers][rows * ffn];
        lnf = new float[rows * c];
        rstdF = new float[rows];
        logits = head == Head.LANGUAGE_MODEL ? new float[rows * vocabLocal] : null;
        tmpC = new float[rows * c];
        dx = new float[rows * c];
        dlnf = new float[rows * c];
        dqkv = new float[rows * qkvWidth];
        qkvGradScratch = kvReplicas == null ? null : new float[qkvWidth * c];
        dy = new float[rows * nh * hd];
        dgu = new float[rows * 2 * ffn];
        dh = new float[rows * ffn];
        attScratch = new float[capB * kv * capT * capT];
        pos = new int[rows];
        rowStats = new float[3 * rows];
        rowMax = new float[rows];
        logZ = new float[rows];
        meanZ = new float[rows];
    }

    private void requireHead(Head expected) {
        if (head != expected) {
            throw new IllegalArgumentException("operation needs another head: head=" + head + ", expected="
                    + expected);
        }
    }

    private void requirePending(Pending expected, String forward) {
        if (pending != expected) {
            throw new IllegalStateException("backward without its forward: expected a " + forward
                    + " call first, last=" + pending);
        }
    }

    private static void requireLength(String name, float[] a, int n) {
        if (a.length < n) {
            throw new IllegalArgumentException(name + " too short: length=" + a.length + ", required=" + n);
        }
    }

    // package-private access for the generator
    HostGroup group() {
        return tp;
    }

    int localHeads() {
        return nh;
    }

    int localKvHeads() {
        return kv;
    }

    int localFfn() {
        return ffn;
    }

    float[] ropeCos() {
        return ropeCos;
    }

    float[] ropeSin() {
        return ropeSin;
    }

    Parameter embedParam() {
        return embed;
    }

    Parameter lmParam() {
        return lmWeight();
    }

    Parameter normParam() {
        return norm;
    }

    Parameter[] inNormParams() {
        return inNorm;
    }

    Parameter[] qkvParams() {
        return qkv;
    }

    Parameter[] oProjParams() {
        return oProj;
    }

    Parameter[] postNormParams() {
        return postNorm;
    }

    Parameter[] gateUpParams() {
        return gateUp;
    }

    Parameter[] downParams() {
        return down;
    }

    /** Frees the tensor-parallel staging memory; the communicator stays open (its owner closes it). */
    @Override
    public void close() {
        tp.close();
        if (kvReplicas != null) {
            kvReplicas.close();
            kvReplicaComm.close();
        }
    }
}
