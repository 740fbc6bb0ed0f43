package io.yatt.trainer.cli;

import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaWeights;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code yatt init-model}: writes a seeded random Llama checkpoint in Hugging Face's layout. */
@Command(name = "init-model", mixinStandardHelpOptions = true,
        description = {"Write a seeded random Llama checkpoint (config.json + model.safetensors, Hugging Face",
            "names) that transformers' LlamaForCausalLM loads as-is."})
final class InitModelCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--hidden", required = true, description = "hidden_size.")
    int hidden;

    @Option(names = "--layers", required = true, description = "num_hidden_layers.")
    int layers;

    @Option(names = "--heads", required = true, description = "num_attention_heads.")
    int heads;

    @Option(names = "--kv-heads", required = true, description = "num_key_value_heads.")
    int kvHeads;

    @Option(names = "--ffn", required = true, description = "intermediate_size.")
    int ffn;

    @Option(names = "--vocab", required = true, description = "vocab_size.")
    int vocab;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--rope-theta", defaultValue = "10000", description = "rope_theta (default ${DEFAULT-VALUE}).")
    double ropeTheta;

    @Option(names = "--rms-norm-eps", defaultValue = "1e-6",
            description = "rms_norm_eps (default ${DEFAULT-VALUE}).")
    double rmsNormEps;

    @Option(names = "--max-positions", defaultValue = "2048",
            description = "max_position_embeddings (default ${DEFAULT-VALUE}).")
    int maxPositions;

    @Option(names = "--tie-word-embeddings", description = "lm_head shares the embedding (no lm_head.weight).")
    boolean tie;

    @Option(names = "--head", defaultValue = "lm", description = "lm (LlamaForCausalLM), value "
            + "(LlamaForTokenClassification) or reward (LlamaForSequenceClassification); default ${DEFAULT-VALUE}.")
    String head;

    @Option(names = "--out", required = true, description = "Checkpoint folder to write (created if missing).")
    Path out;

    @Override
    public Integer call() {
        LlamaConfig config;
        Head h;
        try {
            config = new LlamaConfig(hidden, ffn, heads, kvHeads, layers, vocab, rmsNormEps, ropeTheta, maxPositions,
                    tie);
            h = parseHead(head);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        Map<String, float[]> weights = LlamaWeights.random(config, h, seed, 1);
        LlamaCheckpoint.save(out, config, h, weights, 1);
        long params = 0;
        for (float[] w : weights.values()) {
            params += w.length;
        }
        PrintWriter pw = spec.commandLine().getOut();
        pw.println("wrote " + out + ": " + params + " parameters, seed " + seed);
        pw.flush();
        return 0;
    }

    static Head parseHead(String value) {
        return switch (value) {
            case "lm" -> Head.LANGUAGE_MODEL;
            case "value" -> Head.VALUE;
            case "reward" -> Head.REWARD;
            default -> throw new IllegalArgumentException("unknown head: head=" + value
                    + ", expected lm, value or reward");
        };
    }
}
