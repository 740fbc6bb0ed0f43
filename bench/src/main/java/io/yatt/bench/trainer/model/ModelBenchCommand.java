package io.yatt.bench.trainer.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.yatt.ffi.blas.Blas;
import io.yatt.trainer.model.AdamW;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Gemm;
import io.yatt.trainer.model.Generator;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import io.yatt.trainer.model.Parallelism;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code yatt bench model}: the trainer's Llama model against the PyTorch CPU eager peer
 * ({@code bench/peers/torch/run.sh}) on the same checkpoint, the same shapes and the same thread counts, in the same
 * run: forward + backward tokens/s ({@link LlamaModel#logProbs} + {@link LlamaModel#backwardLogProbs}, plus an
 * {@link AdamW} step with {@code --optimizer}) and generation tokens/s ({@link Generator}, greedy, KV cache, the
 * prompt's prefill inside the clock). Repeats alternate ours and the peer's runs and report medians with the ratio
 * ours / peer against the targets (generation 1x, training 0.7x). "N threads" is, for us, OpenBLAS's thread count
 * ({@link Blas#threads(int)}) and the model's own worker threads ({@link Parallelism#threads(int)}), and for the peer
 * {@code torch.set_num_threads(N)} (its intra-op pool, which drives both its BLAS and its element-wise kernels).
 */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = {"Llama model forward+backward and generation tokens/s against PyTorch CPU eager on the same",
            "checkpoint (bench/peers/torch/run.sh), per thread count, with ratios against the targets."})
public final class ModelBenchCommand implements Callable<Integer> {
    /** Generation must reach this fraction of the peer's tokens/s. */
    static final double GENERATION_TARGET = 1.0;
    /** A training step (forward + backward) must reach this fraction of the peer's tokens/s. */
    static final double TRAINING_TARGET = 0.7;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long PEER_TIMEOUT_S = 1800;

    /** The two sizes, the peer's presets of the same names. */
    record Size(String name, int hidden, int layers, int heads, int kvHeads, int ffn, int vocab) {
        LlamaConfig config() {
            return new LlamaConfig(hidden, ffn, heads, kvHeads, layers, vocab, 1e-5, LlamaConfig.DEFAULT_ROPE_THETA,
                    LlamaConfig.DEFAULT_MAX_POSITION_EMBEDDINGS, true);
        }
    }

    static final Map<String, Size> PRESETS = Map.of(
            "small", new Size("small", 128, 4, 4, 2, 512, 64),
            "large", new Size("large", 512, 8, 8, 4, 1376, 8192));

    @Option(names = "--size", defaultValue = "small,large", split = ",",
            description = "small (hidden 128, 4 layers, vocab 64; ~1M params) and/or large (hidden 512, 8 layers, "
                    + "vocab 8192; ~25M); default ${DEFAULT-VALUE}. Ignored with --hidden.")
    List<String> sizes;

    @Option(names = "--hidden", description = "custom size: hidden_size (then --layers, --heads, --kv-heads, --ffn, "
            + "--vocab are required)")
    Integer hidden;

    @Option(names = "--layers", description = "custom size: num_hidden_layers")
    Integer layers;

    @Option(names = "--heads", description = "custom size: num_attention_heads")
    Integer heads;

    @Option(names = "--kv-heads", description = "custom size: num_key_value_heads")
    Integer kvHeads;

    @Option(names = "--ffn", description = "custom size: intermediate_size")
    Integer ffn;

    @Option(names = "--vocab", description = "custom size: vocab_size")
    Integer vocab;

    @Option(names = "--seed", defaultValue = "1234", description = "seed of the weights (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", defaultValue = "1,2", split = ",",
            description = "thread counts (default ${DEFAULT-VALUE})")
    List<Integer> threads;

    @Option(names = "--batch", defaultValue = "8", description = "training batch (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seq", defaultValue = "64", description = "training sequence length (default ${DEFAULT-VALUE})")
    int seq;

    @Option(names = "--steps", defaultValue = "5", description = "timed training steps per repeat "
            + "(default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--optimizer", description = "include an AdamW step in each training step (both sides)")
    boolean optimizer;

    @Option(names = "--gen-batch", defaultValue = "16", description = "generation batch (default ${DEFAULT-VALUE})")
    int genBatch;

    @Option(names = "--prompt", defaultValue = "16", description = "prompt length (default ${DEFAULT-VALUE})")
    int prompt;

    @Option(names = "--new-tokens", defaultValue = "32", description = "new tokens per sequence "
            + "(default ${DEFAULT-VALUE})")
    int newTokens;

    @Option(names = "--gen-repeats", defaultValue = "2", description = "timed generations per repeat "
            + "(default ${DEFAULT-VALUE})")
    int genRepeats;

    @Option(names = "--repeats", defaultValue = "3", description = "alternating ours/peer rounds; medians are "
            + "reported (default ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--peer", description = "the peer's launcher (default: peers/torch/run.sh or "
            + "bench/peers/torch/run.sh, whichever exists under the working directory)")
    Path peer;

    @Option(names = "--no-peer", description = "measure ours only")
    boolean noPeer;

    @Option(names = "--json", description = "one JSON object per size, op and thread count")
    boolean json;

    /** One measured cell: size, op and threads, with every repeat's tokens/s on each side. */
    record Cell(String size, String op, int threads, List<Double> ours, List<Double> peer) {
        double oursMedian() {
            return median(ours);
        }

        double peerMedian() {
            return peer.isEmpty() ? Double.NaN : median(peer);
        }

        double ratio() {
            return oursMedian() / peerMedian();
        }

        double target() {
            return op.equals("generate") ? GENERATION_TARGET : TRAINING_TARGET;
        }
    }

    static double median(List<Double> xs) {
        double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /**
     * The sizes to run, validated.
     *
     * @throws IllegalArgumentException naming the bad value
     */
    List<Size> selectedSizes() {
        for (int v : new int[] {batch, seq, steps, genBatch, prompt, newTokens, genRepeats, repeats}) {
            if (v <= 0) {
                throw new IllegalArgumentException("sizes and counts must be positive: batch=" + batch + ", seq="
                        + seq + ", steps=" + steps + ", gen-batch=" + genBatch + ", prompt=" + prompt
                        + ", new-tokens=" + newTokens + ", gen-repeats=" + genRepeats + ", repeats=" + repeats);
            }
        }
        for (int t : threads) {
            if (t < 1) {
                throw new IllegalArgumentException("threads must be at least 1: threads=" + t);
            }
        }
        if (hidden != null || layers != null || heads != null || kvHeads != null || ffn != null || vocab != null) {
            if (hidden == null || layers == null || heads == null || kvHeads == null || ffn == null || vocab == null) {
                throw new IllegalArgumentException("a custom size needs all of --hidden, --layers, --heads, "
                        + "--kv-heads, --ffn, --vocab: hidden=" + hidden + ", layers=" + layers + ", heads=" + heads
                        + ", kv-heads=" + kvHeads + ", ffn=" + ffn + ", vocab=" + vocab);
            }
            Size s = new Size("custom", hidden, layers, heads, kvHeads, ffn, vocab);
            s.config();
            return List.of(s);
        }
        List<Size> out = new ArrayList<>();
        for (String name : sizes) {
            Size s = PRESETS.get(name.strip().toLowerCase(Locale.ROOT));
            if (s == null) {
                throw new IllegalArgumentException("unknown size: size=" + name + ", expected small or large");
            }
            out.add(s);
        }
        return out;
    }

    @Override
    public Integer call() throws Exception {
        List<Size> selected;
        try {
            selected = selectedSizes();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage(), e);
        }
        PrintStream out = System.out;
        Path launcher = noPeer ? null : findPeer();
        String peerSkip = noPeer ? "--no-peer" : launcher == null
                ? "no peer launcher: peers/torch/run.sh not found under " + Path.of("").toAbsolutePath()
                        + " (run from the repository or bench folder, or pass --peer)" : null;
        if (!json) {
            out.printf(Locale.ROOT, "gemm backend=%s, blas=%s; training: batch %d x seq %d%s; generation: batch %d, "
                            + "prompt %d, %d new tokens (greedy, KV cache, prefill timed); %d repeats, medians%n",
                    Gemm.backend(), Blas.available() ? Blas.library().path() : "none", batch, seq,
                    optimizer ? " + AdamW" : " (no optimizer)", genBatch, prompt, newTokens, repeats);
        }
        List<Cell> cells = new ArrayList<>();
        Path tmp = Files.createTempDirectory("yatt-bench-model");
        try {
            for (Size size : selected) {
                Path dir = tmp.resolve(size.name());
                LlamaConfig config = size.config();
                LlamaCheckpoint.save(dir, config, Head.LANGUAGE_MODEL,
                        LlamaWeights.random(config, Head.LANGUAGE_MODEL, seed, 1), 1);
                Map<String, Cell> byKey = new LinkedHashMap<>();
                for (int t : threads) {
                    for (String op : List.of(trainOp(), "generate")) {
                        byKey.put(op + "/" + t, new Cell(size.name(), op, t, new ArrayList<>(), new ArrayList<>()));
                    }
                }
                for (int r = 0; r < repeats; r++) {
                    for (int t : threads) {
                        double[] ours = measureOurs(dir, t);
                        byKey.get(trainOp() + "/" + t).ours().add(ours[0]);
                        byKey.get("generate/" + t).ours().add(ours[1]);
                        System.err.printf(Locale.ROOT, "yatt bench model: %s repeat %d/%d, %d threads: ours %s %.1f, "
                                + "generate %.1f tokens/s%n", size.name(), r + 1, repeats, t, trainOp(), ours[0],
                                ours[1]);
                    }
                    if (peerSkip == null) {
                        String failure = runPeer(launcher, dir, byKey);
                        if (failure != null) {
                            peerSkip = failure;
                        }
                    }
                }
                cells.addAll(byKey.values());
            }
        } finally {
            deleteTree(tmp);
        }
        if (peerSkip != null) {
            System.err.println("yatt bench model: peer skipped: " + peerSkip);
        }
        print(out, cells, peerSkip);
        return 0;
    }

    private String trainOp() {
        return optimizer ? "train_step" : "forward_backward";
    }

    /** Our {training tokens/s, generation tokens/s} on {@code threads} threads, from a freshly loaded model. */
    double[] measureOurs(Path dir, int threadCount) {
        if (Blas.available() && Blas.openBlas()) {
            Blas.threads(threadCount);
        }
        Parallelism.threads(threadCount);
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(dir, 1);
        LlamaConfig config = loaded.config();
        try (LlamaModel model = LlamaModel.create(config, Head.LANGUAGE_MODEL,
                LlamaWeights.shard(config, Head.LANGUAGE_MODEL, loaded.weights(), 1, 0, 1), null, 1)) {
            SplittableRandom rng = new SplittableRandom(1);
            int[] tokens = new int[batch * seq];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = rng.nextInt(config.vocabSize());
            }
            Batch b = Batch.of(batch, seq, tokens);
            float[] logProbs = new float[b.rows()];
            float[] dLogProbs = new float[b.rows()];
            // d(mean cross-entropy) / d(log p) over the B*(T-1) predicted tokens
            Arrays.fill(dLogProbs, -1f / (batch * (seq - 1)));
            AdamW adam = optimizer ? AdamW.create(model.parameters(), AdamW.Settings.DEFAULT) : null;
            Runnable step = () -> {
                model.zeroGrad();
                model.logProbs(b, 1f, logProbs, null);
                model.backwardLogProbs(dLogProbs, null);
                if (adam != null) {
                    adam.step(1e-4);
                }
            };
            step.run(); // warm-up, as the peer
            step.run();
            long start = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                step.run();
            }
            double trainS = (System.nanoTime() - start) / 1e9;

            List<int[]> prompts = new ArrayList<>();
            SplittableRandom prng = new SplittableRandom(2);
            for (int s = 0; s < genBatch; s++) {
                int[] p = new int[prompt];
                for (int i = 0; i < prompt; i++) {
                    p[i] = prng.nextInt(config.vocabSize());
                }
                prompts.add(p);
            }
            long[] seeds = new long[genBatch];
            Generator gen = Generator.create(model, genBatch, prompt + newTokens);
            gen.generate(prompts, Generator.Sampling.greedy(2), seeds); // warm-up, as the peer
            gen.generate(prompts, Generator.Sampling.greedy(newTokens), seeds);
            start = System.nanoTime();
            for (int i = 0; i < genRepeats; i++) {
                gen.generate(prompts, Generator.Sampling.greedy(newTokens), seeds);
            }
            double genS = (System.nanoTime() - start) / 1e9;
            return new double[] {(double) batch * seq * steps / trainS,
                (double) genBatch * newTokens * genRepeats / genS};
        }
    }

    private Path findPeer() {
        if (peer != null) {
            return peer;
        }
        for (String candidate : List.of("peers/torch/run.sh", "bench/peers/torch/run.sh")) {
            Path p = Path.of(candidate);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    /** Runs the peer once over every thread count; returns null, or why the peer cannot run. */
    private String runPeer(Path launcher, Path dir, Map<String, Cell> byKey) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", launcher.toString(), "--checkpoint", dir.toString(),
                "--threads", String.join(",", threads.stream().map(String::valueOf).toList()),
                "--batch", String.valueOf(batch), "--seq", String.valueOf(seq), "--steps", String.valueOf(steps),
                "--gen-batch", String.valueOf(genBatch), "--prompt", String.valueOf(prompt),
                "--new-tokens", String.valueOf(newTokens), "--gen-repeats", String.valueOf(genRepeats)));
        if (optimizer) {
            command.add("--optimizer");
        }
        Optional<PeerProcess.Result> run = PeerProcess.run(command, PEER_TIMEOUT_S);
        if (run.isEmpty()) {
            return "peer timed out after " + PEER_TIMEOUT_S + " s";
        }
        if (run.get().code() != 0) {
            return "peer exited with " + run.get().code() + ": " + run.get().err().strip();
        }
        String stdout = run.get().out();
        for (String line : stdout.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode node = JSON.readTree(line);
            Cell cell = byKey.get(node.path("op").asText() + "/" + node.path("threads").asInt());
            if (cell == null) {
                return "unexpected peer line: " + line;
            }
            cell.peer().add(node.path("tokens_per_s").asDouble());
        }
        return null;
    }

    private void print(PrintStream out, List<Cell> cells, String peerSkip) {
        cells.sort(Comparator.comparing(Cell::size, Comparator.comparingInt(List.of("small", "large", "custom")
                ::indexOf)).thenComparing(Cell::op).thenComparingInt(Cell::threads));
        if (json) {
            for (Cell c : cells) {
                ObjectNode o = JSON.createObjectNode();
                o.put("size", c.size());
                o.put("op", c.op());
                o.put("threads", c.threads());
                o.put("oursTokensPerS", round(c.oursMedian()));
                o.putPOJO("oursRepeats", c.ours().stream().map(ModelBenchCommand::round).toList());
                if (!c.peer().isEmpty()) {
                    o.put("peerTokensPerS", round(c.peerMedian()));
                    o.putPOJO("peerRepeats", c.peer().stream().map(ModelBenchCommand::round).toList());
                    o.put("ratio", Math.round(c.ratio() * 1000) / 1000.0);
                    o.put("target", c.target());
                    o.put("met", c.ratio() >= c.target());
                } else {
                    o.put("peerSkipped", peerSkip);
                }
                out.println(o);
            }
            return;
        }
        out.printf(Locale.ROOT, "%-7s %-16s %7s %14s %14s %7s %7s %5s%n", "size", "op", "threads", "ours tok/s",
                "torch tok/s", "ratio", "target", "met");
        for (Cell c : cells) {
            boolean peerRan = !c.peer().isEmpty();
            out.printf(Locale.ROOT, "%-7s %-16s %7d %14.1f %14s %7s %7.1f %5s%n", c.size(), c.op(), c.threads(),
                    c.oursMedian(), peerRan ? String.format(Locale.ROOT, "%.1f", c.peerMedian()) : "-",
                    peerRan ? String.format(Locale.ROOT, "%.2f", c.ratio()) : "-", c.target(),
                    peerRan ? (c.ratio() >= c.target() ? "yes" : "no") : "-");
        }
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private static void deleteTree(Path root) throws IOException {
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
