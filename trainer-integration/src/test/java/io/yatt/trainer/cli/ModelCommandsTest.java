package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaModel;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ModelCommandsTest {
    private record Run(int exitCode, String out, String err) {
    }

    @TempDir
    Path dir;

    private static Run run(String... args) {
        CommandLine cl = YattCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private Path initModel() {
        Path ckpt = dir.resolve("ckpt");
        Run run = run("init-model", "--hidden", "16", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn",
                "24", "--vocab", "64", "--seed", "5", "--out", ckpt.toString());
        assertEquals(0, run.exitCode(), run.err());
        return ckpt;
    }

    @Test
    void shouldWriteACheckpointWithTheGivenSizes() throws Exception {
        Path ckpt = initModel();
        JsonNode config = new ObjectMapper().readTree(ckpt.resolve("config.json").toFile());
        assertEquals(16, config.get("hidden_size").intValue());
        assertEquals(2, config.get("num_hidden_layers").intValue());
        assertEquals(4, config.get("num_attention_heads").intValue());
        assertEquals(2, config.get("num_key_value_heads").intValue());
        assertEquals(24, config.get("intermediate_size").intValue());
        assertEquals(64, config.get("vocab_size").intValue());
        assertTrue(Files.isRegularFile(ckpt.resolve("model.safetensors")));
    }

    @Test
    void shouldScoreEveryNextTokenAsTheModelDoesOnOneAndTwoRanks() throws Exception {
        Path ckpt = initModel();
        Path input = dir.resolve("in.jsonl");
        Files.writeString(input, "{\"tokens\": [1, 5, 9, 63]}\n{\"tokens\": [7, 7]}\n");
        Run one = run("score", "--checkpoint", ckpt.toString(), "--input", input.toString(), "--json");
        Run two = run("score", "--checkpoint", ckpt.toString(), "--input", input.toString(), "--tp", "2", "--json");
        assertEquals(0, one.exitCode(), one.err());
        assertEquals(0, two.exitCode(), two.err());
        String[] lines = one.out().split("\n");
        String[] lines2 = two.out().split("\n");
        assertEquals(2, lines.length);
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(ckpt, 1);
        ObjectMapper mapper = new ObjectMapper();
        int[][] inputs = {{1, 5, 9, 63}, {7, 7}};
        try (LlamaModel model = LlamaModel.create(loaded.config(), Head.LANGUAGE_MODEL, loaded.weights(), null, 1)) {
            for (int i = 0; i < 2; i++) {
                JsonNode node = mapper.readTree(lines[i]);
                JsonNode node2 = mapper.readTree(lines2[i]);
                assertEquals(mapper.valueToTree(inputs[i]), node.get("tokens"));
                float[] lp = new float[inputs[i].length];
                model.logProbs(Batch.single(inputs[i]), 1f, lp, null);
                assertEquals(inputs[i].length - 1, node.get("logprobs").size());
                for (int k = 0; k < inputs[i].length - 1; k++) {
                    assertEquals(lp[k], node.get("logprobs").get(k).floatValue(), 0f);
                    assertEquals(lp[k], node2.get("logprobs").get(k).floatValue(), 1e-5);
                    assertTrue(lp[k] < 0);
                }
            }
        }
    }

    @Test
    void shouldRejectATokenOutsideTheVocabNamingItsLine() throws Exception {
        Path ckpt = initModel();
        Path input = dir.resolve("in.jsonl");
        Files.writeString(input, "{\"tokens\": [1, 2]}\n{\"tokens\": [3, 64]}\n");
        Run run = run("score", "--checkpoint", ckpt.toString(), "--input", input.toString(), "--json");
        assertEquals(1, run.exitCode());
        assertEquals("yatt: token id out of range: token=64, vocab=64, line=2", run.err().strip());
    }

    @Test
    void shouldRejectTensorParallelDegreeAndKvHeadsNotDividingOneAnother() throws Exception {
        // tp=4 over 2 KV heads is valid (each head replicated on 2 ranks); tp=3 fits neither way
        Path ckpt = initModel();
        Path input = dir.resolve("in.jsonl");
        Files.writeString(input, "{\"tokens\": [1, 2]}\n");
        Run run = run("score", "--checkpoint", ckpt.toString(), "--input", input.toString(), "--tp", "3", "--json");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("tensor-parallel degree and num_key_value_heads must divide one another: "
                + "num_key_value_heads=2, tp=3"), run.err());
    }

    @Test
    void shouldRejectHiddenNotAMultipleOfHeads() {
        Run run = run("init-model", "--hidden", "10", "--layers", "1", "--heads", "4", "--kv-heads", "2", "--ffn",
                "8", "--vocab", "16", "--out", dir.resolve("x").toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith(
                "hidden_size must be a multiple of num_attention_heads: hidden_size=10, num_attention_heads=4"),
                run.err());
    }

    @Test
    void shouldGenerateTheSameTokensForTheSameSeedAndGreedilyOnTwoRanks() throws Exception {
        Path ckpt = initModel();
        ObjectMapper mapper = new ObjectMapper();
        Run a = run("generate", "--checkpoint", ckpt.toString(), "--prompt-tokens", "1,2,3", "--max-new-tokens", "5",
                "--temperature", "0.8", "--top-p", "0.9", "--top-k", "20", "--seed", "4", "--json");
        Run b = run("generate", "--checkpoint", ckpt.toString(), "--prompt-tokens", "1,2,3", "--max-new-tokens", "5",
                "--temperature", "0.8", "--top-p", "0.9", "--top-k", "20", "--seed", "4", "--json");
        assertEquals(0, a.exitCode(), a.err());
        assertEquals(a.out(), b.out());
        JsonNode node = mapper.readTree(a.out());
        assertEquals("[1,2,3]", node.get("prompt").toString());
        assertEquals(5, node.get("tokens").size());
        assertEquals(5, node.get("logprobs").size());
        Run greedy1 = run("generate", "--checkpoint", ckpt.toString(), "--prompt-tokens", "1,2,3",
                "--max-new-tokens", "6", "--temperature", "0");
        Run greedy2 = run("generate", "--checkpoint", ckpt.toString(), "--prompt-tokens", "1,2,3",
                "--max-new-tokens", "6", "--temperature", "0", "--tp", "2");
        assertEquals(0, greedy2.exitCode(), greedy2.err());
        assertEquals(greedy1.out(), greedy2.out());
        assertEquals(6, greedy1.out().strip().split(" ").length);
    }

    @Test
    void shouldRejectAPromptTokenOutsideTheVocab() {
        Path ckpt = initModel();
        Run run = run("generate", "--checkpoint", ckpt.toString(), "--prompt-tokens", "1,99");
        assertEquals(1, run.exitCode());
        assertEquals("yatt: token id out of range: token=99, vocab=64", run.err().strip());
    }
}
