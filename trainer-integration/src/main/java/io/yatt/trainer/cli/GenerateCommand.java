package io.yatt.trainer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code yatt generate}: sampled or greedy continuation of a token prompt. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continue a prompt of token ids with a KV cache: greedy (--temperature 0) or sampled",
            "(temperature, top-k, top-p) from SplittableRandom(--seed); prints the new tokens and their log-probs."})
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", required = true, description = "Checkpoint folder (config.json + model.safetensors).")
    Path checkpoint;

    @Option(names = "--prompt-tokens", required = true, split = ",", description = "Prompt token ids, e.g. 1,2,3.")
    int[] prompt;

    @Option(names = "--max-new-tokens", defaultValue = "16", description = "Default ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "1.0", description = "0 is greedy; default ${DEFAULT-VALUE}.")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus probability in (0, 1]; default ${DEFAULT-VALUE}.")
    float topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens, 0 for all; default ${DEFAULT-VALUE}.")
    int topK;

    @Option(names = "--stop-tokens", split = ",", description = "Stop after generating one of these ids.")
    int[] stopTokens;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the sample's generator; default ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel in-process ranks (default ${DEFAULT-VALUE}).")
    int tp;

    @Option(names = "--json", description = "Print {\"prompt\", \"tokens\", \"logprobs\", \"stopped\"} as one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Generator.Sampling sampling;
        try {
            if (tp <= 0) {
                throw new IllegalArgumentException("--tp must be positive: tp=" + tp);
            }
            sampling = new Generator.Sampling(maxNewTokens, temperature, topK, topP, stopTokens);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(checkpoint, tp);
        if (loaded.head() != Head.LANGUAGE_MODEL) {
            throw new IllegalArgumentException("generate needs a language model: head=" + loaded.head()
                    + ", checkpoint=" + checkpoint);
        }
        try {
            loaded.config().requireTensorParallel(tp);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        int vocab = loaded.config().vocabSize();
        for (int tok : prompt) {
            if (tok < 0 || tok >= vocab) {
                throw new IllegalArgumentException("token id out of range: token=" + tok + ", vocab=" + vocab);
            }
        }
        int maxSeq = prompt.length + maxNewTokens;
        if (maxSeq > loaded.config().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("prompt plus new tokens exceed max_position_embeddings: prompt="
                    + prompt.length + ", maxNewTokens=" + maxNewTokens + ", max_position_embeddings="
                    + loaded.config().maxPositionEmbeddings());
        }
        Generator.Sample sample = InProcessRanks.run(tp, comm -> {
            int rank = comm == null ? 0 : comm.rank();
            try (LlamaModel model = LlamaModel.create(loaded.config(), Head.LANGUAGE_MODEL,
                    LlamaWeights.shard(loaded.config(), Head.LANGUAGE_MODEL, loaded.weights(), tp, rank, tp), comm,
                    tp)) {
                return Generator.create(model, 1, maxSeq).generate(List.of(prompt), sampling, new long[] {seed})
                        .getFirst();
            }
        }).getFirst();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode node = mapper.createObjectNode();
            ArrayNode p = node.putArray("prompt");
            for (int tok : prompt) {
                p.add(tok);
            }
            ArrayNode t = node.putArray("tokens");
            for (int tok : sample.tokens()) {
                t.add(tok);
            }
            ArrayNode lp = node.putArray("logprobs");
            for (float v : sample.logProbs()) {
                lp.add(v);
            }
            node.put("stopped", sample.stopped());
            out.println(node.toString());
        } else {
            StringBuilder b = new StringBuilder();
            for (int tok : sample.tokens()) {
                b.append(b.isEmpty() ? "" : " ").append(tok);
            }
            out.println(b);
        }
        out.flush();
        return 0;
    }
}
