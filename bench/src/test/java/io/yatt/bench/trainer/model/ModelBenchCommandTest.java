package io.yatt.bench.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code yatt bench model} in a tiny configuration; the peer part runs when a {@code python3} on PATH or
 * {@code /usr/bin/python3} imports torch, and is skipped with {@code --no-peer} otherwise.
 */
class ModelBenchCommandTest {

    private static final String[] TINY = {"--hidden", "16", "--layers", "1", "--heads", "2", "--kv-heads", "1",
        "--ffn", "32", "--vocab", "16", "--threads", "1,2", "--batch", "2", "--seq", "4", "--steps", "1",
        "--gen-batch", "2", "--prompt", "2", "--new-tokens", "2", "--gen-repeats", "1", "--repeats", "1", "--json"};

    /** Runs the command; returns {exit code, stdout, stderr}. */
    private static Object[] run(String... args) {
        StringWriter err = new StringWriter();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        PrintStream savedErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(errBytes, true, StandardCharsets.UTF_8));
            code = new CommandLine(new ModelBenchCommand()).setErr(new PrintWriter(err)).execute(args);
        } finally {
            System.setOut(saved);
            System.setErr(savedErr);
        }
        return new Object[] {code, out.toString(StandardCharsets.UTF_8),
            err + errBytes.toString(StandardCharsets.UTF_8)};
    }

    private static boolean torchAvailable() {
        for (String candidate : List.of("python3", "/usr/bin/python3")) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "import torch")
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
                if (p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return true;
                }
            } catch (IOException | InterruptedException e) {
                // not there: try the next one
            }
        }
        return false;
    }

    @Test
    void shouldMeasureBothOpsPerThreadCountAndCompareWithThePeerWhenTorchIsThere() throws Exception {
        boolean torch = torchAvailable() && Path.of("peers/torch/run.sh").toFile().isFile();
        List<String> args = new ArrayList<>(List.of(TINY));
        if (!torch) {
            args.add("--no-peer");
        }
        Object[] r = run(args.toArray(String[]::new));

        assertEquals(0, r[0], (String) r[2]);
        String[] lines = ((String) r[1]).strip().split("\n");
        assertEquals(4, lines.length, (String) r[1]);
        Set<String> seen = new HashSet<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : lines) {
            JsonNode n = json.readTree(line);
            assertEquals("custom", n.get("size").asText());
            seen.add(n.get("op").asText() + "/" + n.get("threads").asInt());
            assertTrue(n.get("oursTokensPerS").asDouble() > 0, line);
            assertEquals(1, n.get("oursRepeats").size(), line);
            if (torch) {
                double ours = n.get("oursTokensPerS").asDouble();
                double peer = n.get("peerTokensPerS").asDouble();
                assertTrue(peer > 0, line);
                assertEquals(Math.round(ours / peer * 1000) / 1000.0, n.get("ratio").asDouble(), 0.0011, line);
                double target = n.get("op").asText().equals("generate") ? 1.0 : 0.7;
                assertEquals(target, n.get("target").asDouble(), line);
                assertEquals(n.get("ratio").asDouble() >= target, n.get("met").asBoolean(), line);
            } else {
                assertEquals("--no-peer", n.get("peerSkipped").asText(), line);
            }
        }
        assertEquals(Set.of("forward_backward/1", "forward_backward/2", "generate/1", "generate/2"), seen);
    }

    @Test
    void shouldNameTheMissingOptionsOfAnIncompleteCustomSize() {
        Object[] r = run("--hidden", "16", "--layers", "1", "--no-peer");

        assertEquals(2, r[0]);
        assertTrue(((String) r[2]).contains("a custom size needs all of --hidden, --layers, --heads, --kv-heads, "
                + "--ffn, --vocab: hidden=16, layers=1, heads=null, kv-heads=null, ffn=null, vocab=null"),
                (String) r[2]);
    }

    @Test
    void shouldRejectAnUnknownSizeAndNonPositiveCounts() {
        Object[] unknown = run("--size", "medium", "--no-peer");
        Object[] zero = run("--size", "small", "--threads", "0", "--no-peer");

        assertEquals(2, unknown[0]);
        assertTrue(((String) unknown[2]).contains("unknown size: size=medium, expected small or large"),
                (String) unknown[2]);
        assertEquals(2, zero[0]);
        assertTrue(((String) zero[2]).contains("threads must be at least 1: threads=0"), (String) zero[2]);
    }

    @Test
    void shouldTakeTheMiddleValueOrTheMeanOfTheTwoMiddleValuesAsMedian() {
        assertEquals(2.0, ModelBenchCommand.median(List.of(3.0, 1.0, 2.0)));
        assertEquals(2.5, ModelBenchCommand.median(List.of(4.0, 1.0, 3.0, 2.0)));
    }
}
