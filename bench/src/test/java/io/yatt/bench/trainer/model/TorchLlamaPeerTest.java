package io.yatt.bench.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PyTorch peer ({@code bench/peers/torch/llama_peer.py}) on checkpoints written here byte by byte; skips
 * when no {@code python3} on PATH nor {@code /usr/bin/python3} imports torch (Debian: python3-torch, which
 * {@code bench/peers/torch/run.sh} installs).
 */
class TorchLlamaPeerTest {

    @TempDir
    Path tmp;


    /** A zero-layer Llama: hidden 2, vocab 2, embedding [[3,4],[1,0]], final norm weight [1,2], eps 0, tied. */
    private Path zeroLayerCheckpoint(float[] normWeight) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("ckpt"));
        Files.writeString(dir.resolve("config.json"), """
                {"hidden_size": 2, "intermediate_size": 4, "num_attention_heads": 1, "num_key_value_heads": 1,
                 "num_hidden_layers": 0, "vocab_size": 2, "rms_norm_eps": 0.0, "rope_theta": 10000.0,
                 "max_position_embeddings": 16, "tie_word_embeddings": true, "torch_dtype": "float32",
                 "architectures": ["LlamaForCausalLM"]}
                """);
        float[] embed = {3, 4, 1, 0};
        String header = "{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                + "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[" + normWeight.length + "],\"data_offsets\":[16,"
                + (16 + 4 * normWeight.length) + "]}}";
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + json.length + 16 + 4 * normWeight.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(json.length).put(json);
        for (float v : embed) {
            file.putFloat(v);
        }
        for (float v : normWeight) {
            file.putFloat(v);
        }
        Files.write(dir.resolve("model.safetensors"), file.array());
        return dir;
    }

    @Test
    void shouldComputeHandDerivedLogitsOfAZeroLayerModel() throws Exception {
        PeerProcess.Result run = TorchPeer.run("--checkpoint", zeroLayerCheckpoint(new float[] {1, 2}).toString(), "--logits", "0,1");

        assertEquals(0, run.code(), run.err());
        JsonNode line = new ObjectMapper().readTree(run.out().strip());
        assertEquals("[0,1]", line.get("tokens").toString());
        // token 0: x = [3,4], rms = sqrt(12.5), normed * [1,2] = [3, 8] / sqrt(12.5); logits = E * that:
        // [3*3 + 4*8, 1*3 + 0*8] / sqrt(12.5) = [41, 3] / sqrt(12.5)
        // token 1: x = [1,0], rms = sqrt(0.5), normed * [1,2] = [1, 0] / sqrt(0.5); logits = [3, 1] / sqrt(0.5)
        double[][] expected = {{41 / Math.sqrt(12.5), 3 / Math.sqrt(12.5)}, {3 / Math.sqrt(0.5), 1 / Math.sqrt(0.5)}};
        JsonNode logits = line.get("logits");
        assertEquals(2, logits.size());
        for (int t = 0; t < 2; t++) {
            for (int v = 0; v < 2; v++) {
                double actual = logits.get(t).get(v).asDouble();
                assertTrue(Math.abs(actual - expected[t][v]) <= 1e-5 * Math.abs(expected[t][v]),
                        "logit[" + t + "][" + v + "] = " + actual + ", expected " + expected[t][v]);
            }
        }
    }

    @Test
    void shouldRejectAMisshapedTensorAndNameIt() throws Exception {
        PeerProcess.Result run = TorchPeer.run("--checkpoint", zeroLayerCheckpoint(new float[] {1, 2, 3}).toString(), "--logits", "0");

        assertEquals(2, run.code(), run.out());
        assertEquals("llama_peer: tensor misshaped: model.norm.weight: shape=[3], expected [2]", run.err().strip());
    }

    @Test
    void shouldRejectATokenOutsideTheVocabulary() throws Exception {
        PeerProcess.Result run = TorchPeer.run("--checkpoint", zeroLayerCheckpoint(new float[] {1, 2}).toString(), "--logits", "0,2");

        assertEquals(2, run.code(), run.out());
        assertEquals("llama_peer: token id out of range: token=2, vocab=2", run.err().strip());
    }

    @Test
    void shouldDecodeWithTheKvCacheAsTheFullForwardDoes() throws Exception {
        PeerProcess.Result run = TorchPeer.run("--self-check", "--size", "small");

        assertEquals(0, run.code(), run.out() + run.err());
        List<String> lines = run.out().strip().lines().toList();
        ObjectMapper mapper = new ObjectMapper();
        JsonNode cache = mapper.readTree(lines.get(0));
        assertEquals("kv_cache_vs_full_forward", cache.get("check").asText());
        assertTrue(cache.get("max_abs_error").asDouble() <= 1e-5, lines.get(0));
        assertEquals(true, mapper.readTree(lines.get(1)).get("bit_identical").asBoolean(), lines.get(1));
    }
}
