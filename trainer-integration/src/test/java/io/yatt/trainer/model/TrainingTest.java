package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.Communicator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Steps of next-token cross-entropy with AdamW, clipping and a warm-up + cosine schedule. */
class TrainingTest {
    static final LlamaConfig CONFIG = new LlamaConfig(16, 32, 4, 2, 2, 12, 1e-5, 10000.0, 64, false);
    static final int PAD = 2;

    /** Sequences that count up modulo 12 from different starts: the next token is always the current plus one. */
    static Batch countingBatch() {
        int b = 4;
        int t = 8;
        int[] tokens = new int[b * t];
        for (int s = 0; s < b; s++) {
            for (int i = 0; i < t; i++) {
                tokens[s * t + i] = (3 * s + i) % 12;
            }
        }
        return Batch.of(b, t, tokens);
    }

    /** Trains for {@code steps} and returns [losses..., then the weights of every parameter flattened]. */
    static Map<String, float[]> train(Communicator tp, int steps, float[] losses) {
        int t = tp == null ? 1 : tp.size();
        int rank = tp == null ? 0 : tp.rank();
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 42, PAD);
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL,
                LlamaWeights.shard(CONFIG, Head.LANGUAGE_MODEL, whole, t, rank, PAD), tp, PAD)) {
            AdamW opt = AdamW.create(model.parameters(), AdamW.Settings.DEFAULT);
            LrSchedule schedule = new LrSchedule.WarmupCosine(1e-2, 3, steps, 0.1);
            Batch batch = countingBatch();
            int n = batch.rows();
            float[] lp = new float[n];
            float[] dl = new float[n];
            int targets = batch.batchSize() * (batch.seqLen() - 1);
            java.util.Arrays.fill(dl, -1f / targets);
            for (int s = 0; s < steps; s++) {
                model.zeroGrad();
                model.logProbs(batch, 1f, lp, null);
                double loss = 0;
                for (int i = 0; i < n; i++) {
                    loss -= lp[i];
                }
                if (losses != null) {
                    losses[s] = (float) (loss / targets);
                }
                model.backwardLogProbs(dl, null);
                Gradients.clipGlobalNorm(model.parameters(), 1.0, tp);
                opt.step(schedule.lr(s));
            }
            Map<String, float[]> out = new LinkedHashMap<>();
            for (Parameter p : model.parameters()) {
                out.put(p.name(), p.data().clone());
            }
            return out;
        }
    }

    @Test
    void shouldLowerTheLossOnACountingTask() {
        float[] losses = new float[40];
        train(null, 40, losses);
        assertTrue(losses[0] > 2.3f, "initial loss near ln(12)=2.48: " + losses[0]);
        assertTrue(losses[39] < 0.5f * losses[0], "loss " + losses[0] + " -> " + losses[39]);
    }

    /** 3 steps, checkpoint (weights + optimizer), 3 more steps from the files == 6 steps without stopping. */
    @Test
    void shouldResumeFromACheckpointBitForBit(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        int total = 6;
        Map<String, float[]> straight = trainFrom(LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 42, PAD), null,
                0, total, null);
        Map<String, float[]> half = trainFrom(LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 42, PAD), null, 0, 3,
                dir.resolve("optimizer.rank0.safetensors"));
        LlamaCheckpoint.save(dir, CONFIG, Head.LANGUAGE_MODEL, half, PAD);
        Map<String, float[]> resumed = trainFrom(LlamaCheckpoint.load(dir, PAD).weights(),
                dir.resolve("optimizer.rank0.safetensors"), 3, total, null);
        for (String name : straight.keySet()) {
            assertArrayEquals(straight.get(name), resumed.get(name), name);
        }
    }

    /** Steps {@code from..to-1} of the schedule (total 6) from whole weights; optionally loads and saves state. */
    private static Map<String, float[]> trainFrom(Map<String, float[]> whole, java.nio.file.Path loadState, int from,
                                                  int to, java.nio.file.Path saveState) {
        try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, whole, null, PAD)) {
            AdamW opt = AdamW.create(model.parameters(), AdamW.Settings.DEFAULT);
            if (loadState != null) {
                opt.load(loadState);
                assertEquals(from, opt.steps());
            }
            LrSchedule schedule = new LrSchedule.WarmupCosine(1e-2, 2, 6, 0.1);
            Batch batch = countingBatch();
            float[] lp = new float[batch.rows()];
            float[] dl = new float[batch.rows()];
            java.util.Arrays.fill(dl, -1f / batch.rows());
            for (int s = from; s < to; s++) {
                model.zeroGrad();
                model.logProbs(batch, 1f, lp, null);
                model.backwardLogProbs(dl, null);
                Gradients.clipGlobalNorm(model.parameters(), 1.0, null);
                opt.step(schedule.lr(s));
            }
            if (saveState != null) {
                opt.save(saveState);
            }
            return model.wholeWeights();
        }
    }

    @Test
    void shouldGiveBitIdenticalWeightsForTheSameSeed() {
        Map<String, float[]> a = train(null, 5, null);
        Map<String, float[]> b = train(null, 5, null);
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name), b.get(name), name);
        }
    }

    @Test
    void shouldGiveBitIdenticalWeightsForTheSameSeedWithTwoRanks() throws Exception {
        List<Map<String, float[]>> a = TensorParallelTest.onRanks(2, comm -> train(comm, 5, null));
        List<Map<String, float[]>> b = TensorParallelTest.onRanks(2, comm -> train(comm, 5, null));
        for (int r = 0; r < 2; r++) {
            for (String name : a.get(r).keySet()) {
                assertArrayEquals(a.get(r).get(name), b.get(r).get(name), name + " rank " + r);
            }
        }
    }
    /**
     * TP 4 over 2 KV heads (each KV head on 2 ranks): after 5 AdamW steps the replicas of each KV head are
     * bit-identical (their gradients are summed over the replica group every step) and the gathered weights equal the
     * single rank's within 1e-4 absolute.
     */
    @Test
    void shouldKeepReplicatedKvHeadsIdenticalAndMatchOneRank() throws Exception {
        float[] oneLosses = new float[5];
        float[] tpLosses = new float[5];
        Map<String, float[]> one = train(null, 5, oneLosses);
        List<Map<String, float[]>> ranks = TensorParallelTest.onRanks(4, comm -> {
            float[] losses = comm.rank() == 0 ? tpLosses : new float[5];
            return train(comm, 5, losses);
        });
        // rank shard of qkv: [q (1 head of 4); k (1 head of 4); v (1 head of 4)] rows of hidden 16
        int kvFrom = 4 * 16;
        for (int l = 0; l < CONFIG.numHiddenLayers(); l++) {
            String name = "layers." + l + ".self_attn.qkv_proj.weight";
            for (int r = 0; r < 4; r += 2) {
                float[] a = ranks.get(r).get(name);
                float[] b = ranks.get(r + 1).get(name);
                assertEquals(3 * 4 * 16, a.length);
                assertArrayEquals(java.util.Arrays.copyOfRange(a, kvFrom, a.length),
                        java.util.Arrays.copyOfRange(b, kvFrom, b.length), name + " replicas " + r + ", " + (r + 1));
                assertTrue(!java.util.Arrays.equals(java.util.Arrays.copyOfRange(a, 0, kvFrom),
                        java.util.Arrays.copyOfRange(b, 0, kvFrom)), name + " query heads differ");
            }
        }
        Map<String, float[]> gathered = LlamaWeights.gather(CONFIG, Head.LANGUAGE_MODEL, ranks, PAD);
        for (Map.Entry<String, float[]> e : one.entrySet()) {
            float[] expected = e.getValue();
            float[] actual = gathered.get(e.getKey());
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-4, e.getKey() + "[" + i + "]");
            }
        }
        for (int s = 0; s < 5; s++) {
            assertEquals(oneLosses[s], tpLosses[s], 1e-4, "loss at step " + s);
        }
    }
}
