package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.yatt.tensor.DType;
import io.yatt.tensor.SafeTensors;
import io.yatt.tensor.SafeTensorsFile;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaCheckpointTest {
    static final LlamaConfig CONFIG = new LlamaConfig(8, 12, 4, 2, 2, 11, 1e-5, 5e5, 64, false);
    static final int PAD = 4;

    @TempDir
    Path dir;

    @Test
    void shouldWriteHuggingFaceNamesAndShapesUnfusedAndUnpadded() throws Exception {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 3, PAD);
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, whole, PAD);
        try (SafeTensorsFile st = SafeTensors.open(dir.resolve("model.safetensors"))) {
            TreeSet<String> expected = new TreeSet<>();
            expected.add("model.embed_tokens.weight");
            expected.add("model.norm.weight");
            expected.add("lm_head.weight");
            for (int l = 0; l < 2; l++) {
                for (String s : new String[] {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                    "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm",
                    "post_attention_layernorm"}) {
                    expected.add("model.layers." + l + "." + s + ".weight");
                }
            }
            assertEquals(expected, new TreeSet<>(st.tensors().keySet()));
            assertEquals(Shape.of(11, 8), st.get("model.embed_tokens.weight").shape());
            assertEquals(Shape.of(11, 8), st.get("lm_head.weight").shape());
            assertEquals(Shape.of(8, 8), st.get("model.layers.0.self_attn.q_proj.weight").shape());
            assertEquals(Shape.of(4, 8), st.get("model.layers.0.self_attn.k_proj.weight").shape());
            assertEquals(Shape.of(12, 8), st.get("model.layers.1.mlp.up_proj.weight").shape());
            assertEquals(Shape.of(8, 12), st.get("model.layers.1.mlp.down_proj.weight").shape());
            assertEquals(DType.F32, st.get("model.norm.weight").dtype());
            // k_proj row 0 is fused QKV row q_rows (8): HF's unpermuted rows, as the rotate_half model uses them
            float[] qkv = whole.get("layers.0.self_attn.qkv_proj.weight");
            assertEquals(qkv[8 * 8], (float) st.get("model.layers.0.self_attn.k_proj.weight").getDouble(0, 0));
            // up_proj row 0 is fused gate/up row F (12)
            float[] gu = whole.get("layers.1.mlp.gate_up_proj.weight");
            assertEquals(gu[12 * 8 + 3], (float) st.get("model.layers.1.mlp.up_proj.weight").getDouble(0, 3));
        }
        JsonNode config = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        assertEquals("[\"LlamaForCausalLM\"]", config.get("architectures").toString());
        assertEquals(8, config.get("hidden_size").intValue());
        assertEquals(12, config.get("intermediate_size").intValue());
        assertEquals(4, config.get("num_attention_heads").intValue());
        assertEquals(2, config.get("num_key_value_heads").intValue());
        assertEquals(2, config.get("num_hidden_layers").intValue());
        assertEquals(11, config.get("vocab_size").intValue());
        assertEquals(1e-5, config.get("rms_norm_eps").doubleValue());
        assertEquals(5e5, config.get("rope_theta").doubleValue());
        assertEquals(64, config.get("max_position_embeddings").intValue());
        assertFalse(config.get("tie_word_embeddings").booleanValue());
        assertEquals("float32", config.get("torch_dtype").textValue());
    }

    @Test
    void shouldLoadWhatItSavedBitForBit() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 3, PAD);
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, whole, PAD);
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(dir, PAD);
        assertEquals(CONFIG, loaded.config());
        assertEquals(Head.LANGUAGE_MODEL, loaded.head());
        assertEquals(whole.keySet(), loaded.weights().keySet());
        for (String name : whole.keySet()) {
            assertArrayEquals(whole.get(name), loaded.weights().get(name), name);
        }
    }

    @Test
    void shouldLoadWithAnotherPadMultipleForMoreRanks() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 3, PAD);
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, whole, PAD);
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(dir, 8);
        assertEquals(16 * 8, loaded.weights().get("embed_tokens.weight").length);
        assertArrayEquals(Arrays.copyOf(whole.get("lm_head.weight"), 11 * 8),
                Arrays.copyOf(loaded.weights().get("lm_head.weight"), 11 * 8));
    }

    @Test
    void shouldStoreNoLmHeadWhenTiedAndScoreForTheCritic() throws Exception {
        LlamaConfig tied = new LlamaConfig(8, 12, 4, 2, 1, 11, 1e-5, 1e4, 64, true);
        LlamaCheckpoint.save(dir.resolve("tied"), tied, Head.LANGUAGE_MODEL,
                LlamaWeights.random(tied, Head.LANGUAGE_MODEL, 1, PAD), PAD);
        try (SafeTensorsFile st = SafeTensors.open(dir.resolve("tied/model.safetensors"))) {
            assertFalse(st.tensors().containsKey("lm_head.weight"));
        }
        assertEquals(tied, LlamaCheckpoint.load(dir.resolve("tied"), PAD).config());
        Map<String, float[]> critic = LlamaWeights.random(CONFIG, Head.VALUE, 1, PAD);
        LlamaCheckpoint.save(dir.resolve("critic"), CONFIG, Head.VALUE, critic, PAD);
        try (SafeTensorsFile st = SafeTensors.open(dir.resolve("critic/model.safetensors"))) {
            assertEquals(Shape.of(1, 8), st.get("score.weight").shape());
            assertFalse(st.tensors().containsKey("lm_head.weight"));
        }
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(dir.resolve("critic"), PAD);
        assertEquals(Head.VALUE, loaded.head());
        assertArrayEquals(critic.get("score.weight"), loaded.weights().get("score.weight"));
    }

    @Test
    void shouldRejectMissingConfig() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaCheckpoint.load(dir, PAD));
        assertEquals("missing config.json: dir=" + dir, e.getMessage());
    }

    @Test
    void shouldRejectConfigWithoutAKey() throws Exception {
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1,
                PAD), PAD);
        Path file = dir.resolve("config.json");
        Files.writeString(file, Files.readString(file).replace("\"num_key_value_heads\"", "\"kv\""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaCheckpoint.load(dir, PAD));
        assertEquals("config.json lacks a key: key=num_key_value_heads, file=" + file, e.getMessage());
    }

    @Test
    void shouldRejectInconsistentConfig() throws Exception {
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1,
                PAD), PAD);
        Path file = dir.resolve("config.json");
        Files.writeString(file, Files.readString(file).replace("\"num_key_value_heads\" : 2",
                "\"num_key_value_heads\" : 3"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaCheckpoint.load(dir, PAD));
        assertEquals("config.json is inconsistent: num_attention_heads must be a multiple of num_key_value_heads: "
                + "num_attention_heads=4, num_key_value_heads=3, file=" + file, e.getMessage());
    }

    @Test
    void shouldRejectMisshapedAndMissingTensors() {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 1, PAD);
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, whole, PAD);
        Path file = dir.resolve("model.safetensors");
        rewrite(file, "model.layers.1.mlp.up_proj.weight", Shape.of(12, 7));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaCheckpoint.load(dir, PAD));
        assertEquals("tensor misshaped: name=model.layers.1.mlp.up_proj.weight, shape=" + Shape.of(12, 7)
                + ", expected=" + Shape.of(12, 8) + ", file=" + file, e.getMessage());
        rewrite(file, "model.layers.1.mlp.up_proj.weight", null);
        e = assertThrows(IllegalArgumentException.class, () -> LlamaCheckpoint.load(dir, PAD));
        assertEquals("missing tensor: name=model.layers.1.mlp.up_proj.weight, file=" + file, e.getMessage());
    }

    /** Rewrites the file with one tensor replaced by zeros of {@code shape}, or dropped when shape is null. */
    private static void rewrite(Path file, String name, Shape shape) {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> copy = new LinkedHashMap<>();
            try (SafeTensorsFile st = SafeTensors.open(file)) {
                for (Map.Entry<String, Tensor> e : st.tensors().entrySet()) {
                    Tensor t = e.getValue();
                    var seg = arena.allocate(t.byteSize());
                    seg.copyFrom(t.segment());
                    copy.put(e.getKey(), Tensor.wrap(seg, t.dtype(), t.shape()));
                }
            }
            copy.remove(name);
            if (shape != null) {
                copy.put(name, Tensor.wrap(arena.allocate(shape.numel() * 4), DType.F32, shape));
            }
            SafeTensors.write(file, copy, Map.of());
        }
    }

    /**
     * TP 4 over 2 KV heads: gathering the rank shards reads each replicated KV head from its first replica (a
     * differing second replica is ignored), the checkpoint holds k_proj/v_proj once ([kvHeads*headDim, hidden]), and
     * loading it for TP 4 replicates each KV head on its 2 ranks again.
     */
    @Test
    void shouldWriteReplicatedKvHeadsOnceAndReplicateThemOnLoad() throws Exception {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 7, PAD);
        java.util.List<Map<String, float[]>> shards = new java.util.ArrayList<>();
        for (int r = 0; r < 4; r++) {
            shards.add(LlamaWeights.shard(CONFIG, Head.LANGUAGE_MODEL, whole, 4, r, PAD));
        }
        // rank shard of qkv: [q (1 head of 2 rows); k (2 rows); v (2 rows)] x hidden 8; spoil rank 1's KV copy
        float[] second = shards.get(1).get("layers.0.self_attn.qkv_proj.weight");
        assertEquals(6 * 8, second.length);
        Arrays.fill(second, 2 * 8, 6 * 8, Float.NaN);
        Map<String, float[]> gathered = LlamaWeights.gather(CONFIG, Head.LANGUAGE_MODEL, shards, PAD);
        for (String name : whole.keySet()) {
            assertArrayEquals(whole.get(name), gathered.get(name), name);
        }
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, gathered, PAD);
        try (SafeTensorsFile st = SafeTensors.open(dir.resolve("model.safetensors"))) {
            assertEquals(Shape.of(4, 8), st.get("model.layers.0.self_attn.k_proj.weight").shape());
            assertEquals(Shape.of(4, 8), st.get("model.layers.0.self_attn.v_proj.weight").shape());
        }
        Map<String, float[]> loaded = LlamaCheckpoint.load(dir, PAD).weights();
        for (int r = 0; r < 4; r++) {
            Map<String, float[]> shard = LlamaWeights.shard(CONFIG, Head.LANGUAGE_MODEL, loaded, 4, r, PAD);
            float[] qkv = shard.get("layers.1.self_attn.qkv_proj.weight");
            float[] mate = LlamaWeights.shard(CONFIG, Head.LANGUAGE_MODEL, loaded, 4, r ^ 1, PAD)
                    .get("layers.1.self_attn.qkv_proj.weight");
            assertArrayEquals(Arrays.copyOfRange(mate, 2 * 8, 6 * 8), Arrays.copyOfRange(qkv, 2 * 8, 6 * 8),
                    "replicas " + r + " and " + (r ^ 1));
            // rank r's k rows are whole rows [4*2 + (r/2)*2, +2) of the fused weight (q has 4 heads of 2 rows)
            float[] fused = whole.get("layers.1.self_attn.qkv_proj.weight");
            int kRow = 8 + (r / 2) * 2;
            assertArrayEquals(Arrays.copyOfRange(fused, kRow * 8, (kRow + 2) * 8),
                    Arrays.copyOfRange(qkv, 2 * 8, 4 * 8), "k head of rank " + r);
        }
    }
}
