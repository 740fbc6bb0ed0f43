package io.yatt.trainer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code yatt score}: per-token log-probabilities of token sequences under a checkpoint. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"For each input line {\"tokens\": [...]}, the log-probability of every token given the ones",
            "before it: logprobs[i] = log p(tokens[i+1] | tokens[0..i]) (n-1 values), on --tp in-process ranks",
            "(vocab-parallel log-softmax, no vocabulary gather)."})
final class ScoreCommand implements Callable<Integer> {
    /** Sequences per forward pass. */
    static final int BATCH_SEQUENCES = 16;

    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", required = true, description = "Checkpoint folder (config.json + model.safetensors).")
    Path checkpoint;

    @Option(names = "--input", required = true, description = "JSON lines, one {\"tokens\": [int, ...]} per line.")
    Path input;

    @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel in-process ranks (default ${DEFAULT-VALUE}).")
    int tp;

    @Option(names = "--json", description = "Print {\"tokens\": [...], \"logprobs\": [...]} per line instead of text.")
    boolean json;

    @Override
    public Integer call() {
        if (tp <= 0) {
            throw new ParameterException(spec.commandLine(), "--tp must be positive: tp=" + tp);
        }
        List<int[]> sequences = readInput(input);
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(checkpoint, tp);
        if (loaded.head() != Head.LANGUAGE_MODEL) {
            throw new IllegalArgumentException("score needs a language model: head=" + loaded.head()
                    + ", checkpoint=" + checkpoint);
        }
        try {
            loaded.config().requireTensorParallel(tp);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        int vocab = loaded.config().vocabSize();
        for (int line = 0; line < sequences.size(); line++) {
            for (int tok : sequences.get(line)) {
                if (tok < 0 || tok >= vocab) {
                    throw new IllegalArgumentException("token id out of range: token=" + tok + ", vocab=" + vocab
                            + ", line=" + (line + 1));
                }
            }
        }
        List<float[][]> perRank = InProcessRanks.run(tp, comm -> {
            int rank = comm == null ? 0 : comm.rank();
            try (LlamaModel model = LlamaModel.create(loaded.config(), Head.LANGUAGE_MODEL,
                    LlamaWeights.shard(loaded.config(), Head.LANGUAGE_MODEL, loaded.weights(), tp, rank, tp), comm,
                    tp)) {
                return score(model, sequences);
            }
        });
        float[][] logprobs = perRank.getFirst();
        PrintWriter out = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper();
        for (int i = 0; i < sequences.size(); i++) {
            int[] tokens = sequences.get(i);
            if (json) {
                ObjectNode node = mapper.createObjectNode();
                ArrayNode t = node.putArray("tokens");
                for (int tok : tokens) {
                    t.add(tok);
                }
                ArrayNode lp = node.putArray("logprobs");
                for (float v : logprobs[i]) {
                    lp.add(v);
                }
                out.println(node.toString());
            } else {
                double sum = 0;
                for (float v : logprobs[i]) {
                    sum += v;
                }
                out.println(String.format(Locale.ROOT, "line %d: %d tokens, sum logprob %.6f, mean %.6f", i + 1,
                        tokens.length, sum, logprobs[i].length == 0 ? 0.0 : sum / logprobs[i].length));
            }
        }
        out.flush();
        return 0;
    }

    /** Log-probs of every sequence, right-padded into batches of {@link #BATCH_SEQUENCES}. */
    static float[][] score(LlamaModel model, List<int[]> sequences) {
        float[][] result = new float[sequences.size()][];
        for (int start = 0; start < sequences.size(); start += BATCH_SEQUENCES) {
            int b = Math.min(BATCH_SEQUENCES, sequences.size() - start);
            int t = 1;
            for (int i = 0; i < b; i++) {
                t = Math.max(t, sequences.get(start + i).length);
            }
            int[] tokens = new int[b * t];
            int[] mask = new int[b * t];
            for (int i = 0; i < b; i++) {
                int[] s = sequences.get(start + i);
                System.arraycopy(s, 0, tokens, i * t, s.length);
                java.util.Arrays.fill(mask, i * t, i * t + s.length, 1);
            }
            float[] lp = new float[b * t];
            model.logProbs(new Batch(b, t, tokens, mask), 1f, lp, null);
            for (int i = 0; i < b; i++) {
                int n = sequences.get(start + i).length;
                result[start + i] = java.util.Arrays.copyOfRange(lp, i * t, i * t + Math.max(0, n - 1));
            }
        }
        return result;
    }

    private static List<int[]> readInput(Path input) {
        List<String> lines;
        try {
            lines = Files.readAllLines(input);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read input: file=" + input, e);
        }
        ObjectMapper mapper = new ObjectMapper();
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = mapper.readTree(line);
            } catch (IOException e) {
                throw new IllegalArgumentException("malformed JSON line: line=" + (i + 1) + ", file=" + input, e);
            }
            JsonNode tokens = node == null ? null : node.get("tokens");
            if (tokens == null || !tokens.isArray()) {
                throw new IllegalArgumentException("line lacks a tokens array: line=" + (i + 1) + ", file=" + input
                        + ", expected {\"tokens\": [int, ...]}");
            }
            int[] seq = new int[tokens.size()];
            for (int k = 0; k < seq.length; k++) {
                JsonNode v = tokens.get(k);
                if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                    throw new IllegalArgumentException("token is not an integer: token=" + v + ", line=" + (i + 1)
                            + ", file=" + input);
                }
                seq[k] = v.intValue();
            }
            out.add(seq);
        }
        return out;
    }
}
