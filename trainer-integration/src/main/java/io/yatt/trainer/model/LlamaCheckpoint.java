package io.yatt.trainer.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.yatt.tensor.DType;
import io.yatt.tensor.Half;
import io.yatt.tensor.SafeTensors;
import io.yatt.tensor.SafeTensorsFile;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Hugging Face Llama checkpoints: a folder with {@code config.json} ({@code LlamaConfig} keys, {@code torch_dtype},
 * {@code architectures}) and {@code model.safetensors} holding whole, unfused tensors under Hugging Face names
 * ({@code model.embed_tokens.weight}, {@code model.layers.N.self_attn.q_proj.weight}, ..., {@code lm_head.weight}),
 * vocabulary unpadded, so that {@code transformers} loads it as-is. The model's {@code rotate_half} rotary embedding is
 * Hugging Face's, so q/k rows need no permutation. The value and reward heads store {@code score.weight [1, hidden]}
 * beside ({@code LlamaForTokenClassification} and {@code LlamaForSequenceClassification}, {@code num_labels} 1) and no
 * lm_head; tied embeddings store no {@code lm_head.weight}. Stateless and thread-safe.
 */
public final class LlamaCheckpoint {
    /** The config file's name. */
    public static final String CONFIG_FILE = "config.json";
    /** The weights file's name. */
    public static final String WEIGHTS_FILE = "model.safetensors";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private LlamaCheckpoint() {
    }

    /**
     * A loaded checkpoint: its config, head and whole weights in the fused, padded layout of {@link LlamaWeights}.
     *
     * @param config the model's size
     * @param head the head named by {@code architectures}
     * @param weights whole weights (fused QKV and gate/up, vocabulary padded with zero rows)
     */
    public record Loaded(LlamaConfig config, Head head, Map<String, float[]> weights) {
    }

    /**
     * Writes {@code config.json} and {@code model.safetensors} (F32) into {@code dir} (created if missing) from whole
     * weights in the fused, padded layout; each file is replaced atomically.
     *
     * @throws IllegalArgumentException if a weight is missing or misshaped
     * @throws UncheckedIOException if the folder cannot be written
     */
    public static void save(Path dir, LlamaConfig config, Head head, Map<String, float[]> whole,
                            int vocabPadMultiple) {
        Map<String, int[]> shapes = LlamaModel.rankShapes(config, head, 1, vocabPadMultiple);
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            float[] w = whole.get(e.getKey());
            if (w == null) {
                throw new IllegalArgumentException("missing parameter: name=" + e.getKey());
            }
            int numel = e.getValue().length == 1 ? e.getValue()[0] : e.getValue()[0] * e.getValue()[1];
            if (w.length != numel) {
                throw new IllegalArgumentException("parameter misshaped: name=" + e.getKey() + ", numel=" + w.length
                        + ", expected=" + numel);
            }
        }
        int c = config.hiddenSize();
        int hd = config.headDim();
        int q = config.numAttentionHeads() * hd;
        int k = config.numKeyValueHeads() * hd;
        int f = config.intermediateSize();
        int v = config.vocabSize();
        Map<String, float[]> out = new LinkedHashMap<>();
        Map<String, long[]> outShapes = new LinkedHashMap<>();
        put(out, outShapes, "model.embed_tokens.weight", Arrays.copyOf(whole.get("embed_tokens.weight"), v * c), v, c);
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            String p = "layers." + l + ".";
            String hf = "model.layers." + l + ".";
            float[] qkv = whole.get(p + "self_attn.qkv_proj.weight");
            put(out, outShapes, hf + "self_attn.q_proj.weight", Arrays.copyOfRange(qkv, 0, q * c), q, c);
            put(out, outShapes, hf + "self_attn.k_proj.weight", Arrays.copyOfRange(qkv, q * c, (q + k) * c), k, c);
            put(out, outShapes, hf + "self_attn.v_proj.weight", Arrays.copyOfRange(qkv, (q + k) * c, (q + 2 * k) * c),
                    k, c);
            put(out, outShapes, hf + "self_attn.o_proj.weight", whole.get(p + "self_attn.o_proj.weight"), c, q);
            float[] gu = whole.get(p + "mlp.gate_up_proj.weight");
            put(out, outShapes, hf + "mlp.gate_proj.weight", Arrays.copyOfRange(gu, 0, f * c), f, c);
            put(out, outShapes, hf + "mlp.up_proj.weight", Arrays.copyOfRange(gu, f * c, 2 * f * c), f, c);
            put(out, outShapes, hf + "mlp.down_proj.weight", whole.get(p + "mlp.down_proj.weight"), c, f);
            put(out, outShapes, hf + "input_layernorm.weight", whole.get(p + "input_layernorm.weight"), c);
            put(out, outShapes, hf + "post_attention_layernorm.weight",
                    whole.get(p + "post_attention_layernorm.weight"), c);
        }
        put(out, outShapes, "model.norm.weight", whole.get("norm.weight"), c);
        if (shapes.containsKey("lm_head.weight")) {
            put(out, outShapes, "lm_head.weight", Arrays.copyOf(whole.get("lm_head.weight"), v * c), v, c);
        }
        if (shapes.containsKey("score.weight")) {
            put(out, outShapes, "score.weight", whole.get("score.weight"), 1, c);
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create checkpoint folder: dir=" + dir, e);
        }
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, float[]> e : out.entrySet()) {
                float[] w = e.getValue();
                MemorySegment seg = arena.allocate((long) w.length * Float.BYTES, Float.BYTES);
                MemorySegment.copy(w, 0, seg, FLOAT, 0, w.length);
                tensors.put(e.getKey(), Tensor.wrap(seg, DType.F32, Shape.of(outShapes.get(e.getKey()))));
            }
            SafeTensors.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        }
        writeConfig(dir, config, head);
    }

    private static void put(Map<String, float[]> out, Map<String, long[]> shapes, String name, float[] w,
                            long... shape) {
        out.put(name, w);
        shapes.put(name, shape);
    }

    private static void writeConfig(Path dir, LlamaConfig config, Head head) {
        ObjectNode n = JSON.createObjectNode();
        ArrayNode arch = n.putArray("architectures");
        arch.add(architecture(head));
        n.put("model_type", "llama");
        n.put("hidden_size", config.hiddenSize());
        n.put("intermediate_size", config.intermediateSize());
        n.put("num_attention_heads", config.numAttentionHeads());
        n.put("num_key_value_heads", config.numKeyValueHeads());
        n.put("num_hidden_layers", config.numHiddenLayers());
        n.put("head_dim", config.headDim());
        n.put("vocab_size", config.vocabSize());
        n.put("rms_norm_eps", config.rmsNormEps());
        n.put("rope_theta", config.ropeTheta());
        n.put("max_position_embeddings", config.maxPositionEmbeddings());
        n.put("tie_word_embeddings", config.tieWordEmbeddings());
        n.put("hidden_act", "silu");
        n.put("attention_bias", false);
        n.put("mlp_bias", false);
        n.put("torch_dtype", "float32");
        if (head != Head.LANGUAGE_MODEL) {
            n.put("num_labels", 1);
        }
        Path target = dir.resolve(CONFIG_FILE);
        Path temp = null;
        try {
            temp = Files.createTempFile(dir, "." + CONFIG_FILE + ".", ".tmp");
            Files.writeString(temp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n) + "\n");
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw new UncheckedIOException("cannot write " + CONFIG_FILE + ": dir=" + dir, e);
        }
    }

    private static String architecture(Head head) {
        return switch (head) {
            case LANGUAGE_MODEL -> "LlamaForCausalLM";
            case VALUE -> "LlamaForTokenClassification";
            case REWARD -> "LlamaForSequenceClassification";
        };
    }

    /**
     * Reads and validates {@code config.json}: every LlamaConfig key present with the right type, architectures a
     * Llama one.
     *
     * @throws IllegalArgumentException naming the file and the missing, mistyped or inconsistent value
     * @throws UncheckedIOException if the file cannot be read
     */
    public static LlamaConfig readConfig(Path dir) {
        return readConfigAndHead(dir).config();
    }

    private static Loaded readConfigAndHead(Path dir) {
        Path file = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("missing " + CONFIG_FILE + ": dir=" + dir);
        }
        JsonNode n;
        try {
            n = JSON.readTree(file.toFile());
        } catch (IOException e) {
            if (e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe) {
                throw new IllegalArgumentException("malformed " + CONFIG_FILE + ": file=" + file + ", "
                        + jpe.getOriginalMessage(), e);
            }
            throw new UncheckedIOException("cannot read " + CONFIG_FILE + ": file=" + file, e);
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException(CONFIG_FILE + " is not a JSON object: file=" + file);
        }
        JsonNode arch = n.get("architectures");
        if (arch == null || !arch.isArray() || arch.isEmpty()) {
            throw new IllegalArgumentException(CONFIG_FILE + " lacks architectures: file=" + file
                    + ", expected [\"LlamaForCausalLM\"]");
        }
        String a = arch.get(0).asText();
        Head head = switch (a) {
            case "LlamaForCausalLM" -> Head.LANGUAGE_MODEL;
            case "LlamaForTokenClassification" -> Head.VALUE;
            case "LlamaForSequenceClassification" -> Head.REWARD;
            default -> throw new IllegalArgumentException("unsupported architecture: architectures=" + arch
                    + ", file=" + file + ", expected LlamaForCausalLM, LlamaForTokenClassification or "
                    + "LlamaForSequenceClassification");
        };
        LlamaConfig config;
        try {
            config = new LlamaConfig(integer(n, "hidden_size", file), integer(n, "intermediate_size", file),
                    integer(n, "num_attention_heads", file), integer(n, "num_key_value_heads", file),
                    integer(n, "num_hidden_layers", file), integer(n, "vocab_size", file),
                    number(n, "rms_norm_eps", file), number(n, "rope_theta", file),
                    integer(n, "max_position_embeddings", file), bool(n, "tie_word_embeddings", file));
        } catch (IllegalArgumentException e) {
            if (e.getMessage().startsWith(CONFIG_FILE)) {
                throw e;
            }
            throw new IllegalArgumentException(CONFIG_FILE + " is inconsistent: " + e.getMessage() + ", file="
                    + file, e);
        }
        JsonNode headDim = n.get("head_dim");
        if (headDim != null && !headDim.isNull() && headDim.asInt() != config.headDim()) {
            throw new IllegalArgumentException(CONFIG_FILE + " is inconsistent: head_dim=" + headDim.asInt()
                    + ", expected hidden_size/num_attention_heads=" + config.headDim() + ", file=" + file);
        }
        return new Loaded(config, head, Map.of());
    }

    private static JsonNode key(JsonNode n, String key, Path file) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException(CONFIG_FILE + " lacks a key: key=" + key + ", file=" + file);
        }
        return v;
    }

    private static int integer(JsonNode n, String key, Path file) {
        JsonNode v = key(n, key, file);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException(CONFIG_FILE + " key has the wrong type: " + key + "=" + v
                    + ", expected an integer, file=" + file);
        }
        return v.intValue();
    }

    private static double number(JsonNode n, String key, Path file) {
        JsonNode v = key(n, key, file);
        if (!v.isNumber()) {
            throw new IllegalArgumentException(CONFIG_FILE + " key has the wrong type: " + key + "=" + v
                    + ", expected a number, file=" + file);
        }
        return v.doubleValue();
    }

    private static boolean bool(JsonNode n, String key, Path file) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            return true; // Hugging Face's PretrainedConfig default
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(CONFIG_FILE + " key has the wrong type: " + key + "=" + v
                    + ", expected true or false, file=" + file);
        }
        return v.booleanValue();
    }

    /**
     * Loads a checkpoint folder: validates {@code config.json}, reads every expected tensor of
     * {@code model.safetensors} (F32, BF16 or F16), fuses QKV and gate/up and pads the vocabulary to a multiple of
     * {@code vocabPadMultiple}. Shard the result for any TP degree with {@link LlamaWeights#shard}.
     *
     * @throws IllegalArgumentException naming the file and the missing, misshaped or mistyped tensor or config value
     * @throws UncheckedIOException if a file cannot be read
     */
    public static Loaded load(Path dir, int vocabPadMultiple) {
        Loaded header = readConfigAndHead(dir);
        LlamaConfig config = header.config();
        Head head = header.head();
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("missing " + WEIGHTS_FILE + ": dir=" + dir);
        }
        int c = config.hiddenSize();
        int hd = config.headDim();
        int q = config.numAttentionHeads() * hd;
        int k = config.numKeyValueHeads() * hd;
        int f = config.intermediateSize();
        int v = config.vocabSize();
        int vp = config.paddedVocab(vocabPadMultiple);
        Map<String, float[]> whole = new LinkedHashMap<>();
        try (SafeTensorsFile st = SafeTensors.open(file)) {
            Map<String, Tensor> all = st.tensors();
            whole.put("embed_tokens.weight", Arrays.copyOf(read(all, "model.embed_tokens.weight", file, v, c), vp * c));
            for (int l = 0; l < config.numHiddenLayers(); l++) {
                String p = "layers." + l + ".";
                String hf = "model.layers." + l + ".";
                whole.put(p + "input_layernorm.weight", read(all, hf + "input_layernorm.weight", file, c));
                float[] qkv = new float[(q + 2 * k) * c];
                System.arraycopy(read(all, hf + "self_attn.q_proj.weight", file, q, c), 0, qkv, 0, q * c);
                System.arraycopy(read(all, hf + "self_attn.k_proj.weight", file, k, c), 0, qkv, q * c, k * c);
                System.arraycopy(read(all, hf + "self_attn.v_proj.weight", file, k, c), 0, qkv, (q + k) * c, k * c);
                whole.put(p + "self_attn.qkv_proj.weight", qkv);
                whole.put(p + "self_attn.o_proj.weight", read(all, hf + "self_attn.o_proj.weight", file, c, q));
                whole.put(p + "post_attention_layernorm.weight",
                        read(all, hf + "post_attention_layernorm.weight", file, c));
                float[] gu = new float[2 * f * c];
                System.arraycopy(read(all, hf + "mlp.gate_proj.weight", file, f, c), 0, gu, 0, f * c);
                System.arraycopy(read(all, hf + "mlp.up_proj.weight", file, f, c), 0, gu, f * c, f * c);
                whole.put(p + "mlp.gate_up_proj.weight", gu);
                whole.put(p + "mlp.down_proj.weight", read(all, hf + "mlp.down_proj.weight", file, c, f));
            }
            whole.put("norm.weight", read(all, "model.norm.weight", file, c));
            if (head == Head.LANGUAGE_MODEL && !config.tieWordEmbeddings()) {
                whole.put("lm_head.weight", Arrays.copyOf(read(all, "lm_head.weight", file, v, c), vp * c));
            }
            if (head != Head.LANGUAGE_MODEL) {
                whole.put("score.weight", read(all, "score.weight", file, 1, c));
            }
        }
        return new Loaded(config, head, whole);
    }

    private static float[] read(Map<String, Tensor> all, String name, Path file, long... shape) {
        Tensor t = all.get(name);
        if (t == null) {
            throw new IllegalArgumentException("missing tensor: name=" + name + ", file=" + file);
        }
        if (!Arrays.equals(t.shape().dims(), shape)) {
            throw new IllegalArgumentException("tensor misshaped: name=" + name + ", shape=" + t.shape()
                    + ", expected=" + Shape.of(shape) + ", file=" + file);
        }
        int n = Math.toIntExact(t.numel());
        float[] out = new float[n];
        MemorySegment seg = t.segment();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(seg, FLOAT, 0, out, 0, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Half.bf16ToFloat(seg.get(SHORT, 2L * i));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Half.f16ToFloat(seg.get(SHORT, 2L * i));
                }
            }
            default -> throw new IllegalArgumentException("unsupported tensor dtype: name=" + name + ", dtype="
                    + t.dtype() + ", expected F32, BF16 or F16, file=" + file);
        }
        return out;
    }
}
