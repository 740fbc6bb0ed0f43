package io.yatt.bench.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.trainer.model.Batch;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import io.yatt.trainer.model.LlamaConfig;
import io.yatt.trainer.model.LlamaModel;
import io.yatt.trainer.model.LlamaWeights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Our checkpoints, read by the PyTorch peer ({@code bench/peers/torch/llama_peer.py}, Hugging Face's
 * {@code LlamaForCausalLM} forward in plain torch, loading the folder by its Hugging Face names), give the logits our
 * {@link LlamaModel} computes from the same folder through {@link LlamaCheckpoint#load}: at TP = 1 and TP = 2
 * (in-process ranks), for sequences of different lengths, left-padded into one batch on our side and run one by one
 * by the peer, within {@value #TOLERANCE} absolute (f32 on both sides). Skips when no {@code python3} on PATH nor
 * {@code /usr/bin/python3} imports torch (Debian: python3-torch, which {@code bench/peers/torch/run.sh} installs).
 */
class HuggingFaceLogitsTest {
    private static final int PAD = 8;
    private static final double TOLERANCE = 1e-4;
    /** Non-norm weights are init-model's normal(0, 0.02) times this, so that logits spread over several units. */
    private static final float SCALE = 15f;
    private static final int[][] SEQUENCES = {
            {3, 17, 42, 8, 8, 0, 49, 21, 5, 33, 12},
            {49, 1, 27, 36},
            {7},
            {10, 20, 30, 40, 45, 2, 11},
    };

    @TempDir
    Path tmp;

    static Stream<Arguments> configs() {
        return Stream.of(
                // GQA 8 heads / 2 kv heads, untied lm_head, rope_theta 500, 3 layers
                Arguments.of("gqa-untied", new LlamaConfig(64, 96, 8, 2, 3, 50, 1e-5, 500.0, 64, false), 11L),
                // MQA 4 heads / 1 kv head (replicated over both TP ranks), tied lm_head, rope_theta 1e6, 2 layers
                Arguments.of("mqa-tied", new LlamaConfig(64, 80, 4, 1, 2, 50, 1e-6, 1_000_000.0, 64, true), 12L),
                // head_dim 12, 2 kv heads, untied, rope_theta 20000, 2 layers, vocab not a multiple of the pad
                Arguments.of("hd12-untied", new LlamaConfig(48, 64, 4, 2, 2, 45, 1e-5, 20000.0, 32, false), 13L));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldGiveThePeersLogitsFromTheSameCheckpointAtTp1AndTp2(String name, LlamaConfig config, long seed)
            throws Exception {
        Path dir = tmp.resolve(name);
        LlamaCheckpoint.save(dir, config, Head.LANGUAGE_MODEL, weights(config, seed), PAD);
        int vocab = config.vocabSize();
        int[][] sequences = clampToVocab(vocab);

        List<float[][]> peer = peerLogits(dir, sequences);
        LlamaCheckpoint.Loaded loaded = LlamaCheckpoint.load(dir, PAD);
        for (int tp : new int[] {1, 2}) {
            List<float[][]> ours = ourLogits(loaded, sequences, tp);
            double maxDiff = 0;
            double maxAbs = 0;
            for (int s = 0; s < sequences.length; s++) {
                for (int i = 0; i < sequences[s].length; i++) {
                    for (int v = 0; v < vocab; v++) {
                        double expected = peer.get(s)[i][v];
                        maxDiff = Math.max(maxDiff, Math.abs(expected - ours.get(s)[i][v]));
                        maxAbs = Math.max(maxAbs, Math.abs(expected));
                    }
                }
            }
            // weights with real spread: a logit check on near-zero logits would pass for almost any forward
            assertTrue(maxAbs > 1, name + ": peer logits too small to test anything: max |logit| = " + maxAbs);
            assertTrue(maxDiff <= TOLERANCE, name + " tp=" + tp + ": max |ours - peer| = " + maxDiff
                    + " (max |logit| " + maxAbs + "), tolerance " + TOLERANCE);
        }
    }

    /**
     * init-model's seeded weights scaled by {@link #SCALE}; norm weights 1 + uniform noise of std 0.3, so that they
     * matter too.
     */
    private static Map<String, float[]> weights(LlamaConfig config, long seed) {
        Map<String, float[]> whole = LlamaWeights.random(config, Head.LANGUAGE_MODEL, seed, PAD);
        SplittableRandom rng = new SplittableRandom(seed + 1000);
        for (Map.Entry<String, float[]> e : whole.entrySet()) {
            float[] w = e.getValue();
            boolean norm = e.getKey().endsWith("norm.weight");
            for (int i = 0; i < w.length; i++) {
                w[i] = norm ? (float) (1 + 0.3 * (rng.nextDouble() * 2 - 1) * Math.sqrt(3)) : w[i] * SCALE;
            }
        }
        return whole;
    }

    private static int[][] clampToVocab(int vocab) {
        int[][] out = new int[SEQUENCES.length][];
        for (int s = 0; s < SEQUENCES.length; s++) {
            out[s] = IntStream.of(SEQUENCES[s]).map(t -> t % vocab).toArray();
        }
        return out;
    }

    /** Our logits per sequence {@code [len][vocab]}: all sequences left-padded into one batch, on tp ranks. */
    private static List<float[][]> ourLogits(LlamaCheckpoint.Loaded loaded, int[][] sequences, int tp)
            throws Exception {
        LlamaConfig config = loaded.config();
        int b = sequences.length;
        int t = 0;
        for (int[] seq : sequences) {
            t = Math.max(t, seq.length);
        }
        int[] tokens = new int[b * t];
        int[] mask = new int[b * t];
        for (int s = 0; s < b; s++) {
            int offset = t - sequences[s].length;
            for (int i = 0; i < sequences[s].length; i++) {
                tokens[s * t + offset + i] = sequences[s][i];
                mask[s * t + offset + i] = 1;
            }
        }
        Batch batch = new Batch(b, t, tokens, mask);
        int vp = config.paddedVocab(PAD);
        int local = vp / tp;
        List<float[]> shards = new ArrayList<>();
        try (InProcessWorld world = InProcessWorld.create(tp)) {
            ExecutorService pool = Executors.newFixedThreadPool(tp);
            try {
                List<Future<float[]>> futures = new ArrayList<>();
                for (int r = 0; r < tp; r++) {
                    Communicator comm = world.communicator(r);
                    int rank = r;
                    futures.add(pool.submit(() -> {
                        Map<String, float[]> shard = LlamaWeights.shard(config, loaded.head(), loaded.weights(), tp,
                                rank, PAD);
                        try (LlamaModel model = LlamaModel.create(config, loaded.head(), shard, comm, PAD)) {
                            return model.logitsShard(batch);
                        }
                    }));
                }
                for (Future<float[]> f : futures) {
                    shards.add(f.get());
                }
            } finally {
                pool.shutdownNow();
            }
        }
        List<float[][]> out = new ArrayList<>();
        for (int s = 0; s < b; s++) {
            int offset = t - sequences[s].length;
            float[][] rows = new float[sequences[s].length][config.vocabSize()];
            for (int i = 0; i < sequences[s].length; i++) {
                int row = s * t + offset + i;
                for (int v = 0; v < config.vocabSize(); v++) {
                    rows[i][v] = shards.get(v / local)[row * local + v % local];
                }
            }
            out.add(rows);
        }
        return out;
    }

    private static List<float[][]> peerLogits(Path dir, int[][] sequences) throws Exception {
        String arg = Stream.of(sequences)
                .map(seq -> IntStream.of(seq).mapToObj(Integer::toString).collect(Collectors.joining(",")))
                .collect(Collectors.joining(";"));
        PeerProcess.Result run = TorchPeer.run("--checkpoint", dir.toString(), "--logits", arg);
        assertEquals(0, run.code(), run.err());
        List<String> lines = run.out().strip().lines().toList();
        assertEquals(sequences.length, lines.size(), run.out());
        ObjectMapper mapper = new ObjectMapper();
        List<float[][]> out = new ArrayList<>();
        for (int s = 0; s < sequences.length; s++) {
            JsonNode line = mapper.readTree(lines.get(s));
            JsonNode logits = line.get("logits");
            assertEquals(sequences[s].length, logits.size(), lines.get(s));
            float[][] rows = new float[logits.size()][];
            for (int i = 0; i < rows.length; i++) {
                JsonNode row = logits.get(i);
                rows[i] = new float[row.size()];
                for (int v = 0; v < row.size(); v++) {
                    rows[i][v] = (float) row.get(v).asDouble();
                }
            }
            out.add(rows);
        }
        return out;
    }

}
