package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * TP = 2 and 4 (in-process ranks) against TP = 1 on the same whole weights: logits, log-probs, entropies and values
 * within 1e-5 absolute; gradients (gathered back to whole tensors) within {@code 1e-5 + 1e-4 * |g|}.
 */
class TensorParallelTest {
    static final LlamaConfig CONFIG = new LlamaConfig(16, 24, 8, 4, 2, 13, 1e-5, 10000.0, 64, false);
    static final int PAD = 4;
    static final double TOLERANCE = 1e-5;
    static final double GRAD_RTOL = 1e-4;

    static Batch batch() {
        return new Batch(2, 6, new int[] {3, 7, 1, 12, 4, 8, 0, 0, 9, 2, 5, 11},
                new int[] {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1});
    }

    record RankResult(float[] logitsShard, float[] logProbs, float[] entropy, Map<String, float[]> grads) {
    }

    /** Runs {@code body} on every rank of an in-process world of {@code t}, in rank order. */
    static <R> List<R> onRanks(int t, Function<Communicator, R> body) throws Exception {
        List<R> results = new ArrayList<>();
        try (InProcessWorld world = InProcessWorld.create(t)) {
            ExecutorService pool = Executors.newFixedThreadPool(t);
            try {
                List<Future<R>> futures = new ArrayList<>();
                for (int r = 0; r < t; r++) {
                    Communicator comm = world.communicator(r);
                    futures.add(pool.submit(() -> body.apply(comm)));
                }
                for (Future<R> f : futures) {
                    results.add(f.get());
                }
            } finally {
                pool.shutdownNow();
            }
        }
        return results;
    }

    static RankResult runLogProbs(Map<String, float[]> whole, LlamaConfig config, Communicator comm) {
        int t = comm == null ? 1 : comm.size();
        int rank = comm == null ? 0 : comm.rank();
        Map<String, float[]> shard = LlamaWeights.shard(config, Head.LANGUAGE_MODEL, whole, t, rank, PAD);
        try (LlamaModel model = LlamaModel.create(config, Head.LANGUAGE_MODEL, shard, comm, PAD)) {
            Batch batch = batch();
            float[] logits = model.logitsShard(batch);
            float[] lp = new float[12];
            float[] ent = new float[12];
            model.logProbs(batch, 0.8f, lp, ent);
            float[] dl = new float[12];
            float[] de = new float[12];
            for (int i = 0; i < 12; i++) {
                dl[i] = 0.1f * (i % 5) - 0.2f;
                de[i] = 0.05f * (i % 3) - 0.05f;
            }
            model.backwardLogProbs(dl, de);
            Map<String, float[]> grads = new LinkedHashMap<>();
            for (Parameter p : model.parameters()) {
                grads.put(p.name(), p.grad().clone());
            }
            return new RankResult(logits, lp, ent, grads);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void shouldMatchSingleRankOnLogitsLogProbsEntropyAndGradients(int t) throws Exception {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 5, PAD);
        LlamaModelTest.scaleUp(whole);
        RankResult one = runLogProbs(whole, CONFIG, null);
        List<RankResult> ranks = onRanks(t, comm -> runLogProbs(whole, CONFIG, comm));
        int vp = CONFIG.paddedVocab(PAD);
        int vl = vp / t;
        for (int r = 0; r < t; r++) {
            RankResult rr = ranks.get(r);
            for (int i = 0; i < 12; i++) {
                assertEquals(one.logProbs()[i], rr.logProbs()[i], TOLERANCE, "logprob " + i + " rank " + r);
                assertEquals(one.entropy()[i], rr.entropy()[i], TOLERANCE, "entropy " + i + " rank " + r);
                for (int j = 0; j < vl; j++) {
                    assertEquals(one.logitsShard()[i * vp + r * vl + j], rr.logitsShard()[i * vl + j], TOLERANCE,
                            "logit " + i + "," + (r * vl + j));
                }
            }
        }
        List<Map<String, float[]>> shards = ranks.stream().map(RankResult::grads).toList();
        Map<String, float[]> gathered = LlamaWeights.gather(CONFIG, Head.LANGUAGE_MODEL, shards, PAD);
        for (Map.Entry<String, float[]> e : one.grads().entrySet()) {
            float[] expected = e.getValue();
            float[] actual = gathered.get(e.getKey());
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], TOLERANCE + GRAD_RTOL * Math.abs(expected[i]),
                        "gradient " + e.getKey() + "[" + i + "]");
            }
        }
    }

    @Test
    void shouldMatchSingleRankOnValuesWithTwoRanks() throws Exception {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.VALUE, 9, PAD);
        Function<Communicator, float[]> run = comm -> {
            int t = comm == null ? 1 : comm.size();
            int rank = comm == null ? 0 : comm.rank();
            try (LlamaModel model = LlamaModel.create(CONFIG, Head.VALUE,
                    LlamaWeights.shard(CONFIG, Head.VALUE, whole, t, rank, PAD), comm, PAD)) {
                float[] v = new float[12];
                model.values(batch(), v);
                return v;
            }
        };
        float[] one = run.apply(null);
        for (float[] v : onRanks(2, run)) {
            for (int i = 0; i < 12; i++) {
                assertEquals(one[i], v[i], TOLERANCE, "value " + i);
            }
        }
    }

    @Test
    void shouldGatherTheWholeWeightsOnEveryRank() throws Exception {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.VALUE, 4, PAD);
        List<Map<String, float[]>> gathered = onRanks(4, comm -> {
            try (LlamaModel model = LlamaModel.create(CONFIG, Head.VALUE,
                    LlamaWeights.shard(CONFIG, Head.VALUE, whole, 4, comm.rank(), PAD), comm, PAD)) {
                return model.wholeWeights();
            }
        });
        for (Map<String, float[]> g : gathered) {
            assertEquals(whole.keySet(), g.keySet());
            for (String name : whole.keySet()) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(whole.get(name), g.get(name), name);
            }
        }
    }

    /**
     * TP 2 x DP 2 (world ranks {@code dp*2 + tp}): each DP rank takes half the batch with the loss averaged over its
     * half; after {@link Gradients#allReduceMean} over DP and clipping, the gathered gradients and the norm equal the
     * single rank's on the whole batch (same tolerances).
     */
    @Test
    void shouldMatchSingleRankWithTensorAndDataParallelTogether() throws Exception {
        Map<String, float[]> whole = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 6, PAD);
        LlamaModelTest.scaleUp(whole);
        Batch full = batch();
        int t = full.seqLen();
        record Out(Map<String, float[]> grads, double norm) {
        }
        Function<Communicator[], Out> run = comms -> {
            Communicator tp = comms[0];
            Communicator dp = comms[1];
            int dpRank = dp == null ? 0 : dp.rank();
            int dpSize = dp == null ? 1 : dp.size();
            int tpSize = tp == null ? 1 : tp.size();
            int b = full.batchSize() / dpSize;
            int[] tokens = java.util.Arrays.copyOfRange(full.tokens(), dpRank * b * t, (dpRank + 1) * b * t);
            int[] mask = java.util.Arrays.copyOfRange(full.attentionMask(), dpRank * b * t, (dpRank + 1) * b * t);
            Batch mine = new Batch(b, t, tokens, mask);
            try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, LlamaWeights.shard(CONFIG,
                    Head.LANGUAGE_MODEL, whole, tpSize, tp == null ? 0 : tp.rank(), PAD), tp, PAD)) {
                float[] lp = new float[b * t];
                model.logProbs(mine, 1f, lp, null);
                float[] d = new float[b * t];
                java.util.Arrays.fill(d, -1f / (b * (t - 1)));
                model.backwardLogProbs(d, null);
                Gradients.allReduceMean(model.parameters(), dp);
                double norm = Gradients.clipGlobalNorm(model.parameters(), 0.5, tp);
                Map<String, float[]> grads = new LinkedHashMap<>();
                for (Parameter p : model.parameters()) {
                    grads.put(p.name(), p.grad().clone());
                }
                return new Out(grads, norm);
            }
        };
        Out one = run.apply(new Communicator[] {null, null});
        List<Out> ranks = onRanks(4, world -> {
            int tpRank = world.rank() % 2;
            int dpRank = world.rank() / 2;
            Communicator tp = world.split(dpRank, tpRank).orElseThrow();
            Communicator dp = world.split(10 + tpRank, dpRank).orElseThrow();
            try {
                return run.apply(new Communicator[] {tp, dp});
            } finally {
                tp.close();
                dp.close();
            }
        });
        for (int dpRank = 0; dpRank < 2; dpRank++) {
            assertEquals(one.norm(), ranks.get(dpRank * 2).norm(), 1e-4 * one.norm());
            List<Map<String, float[]>> shards = List.of(ranks.get(dpRank * 2).grads(), ranks.get(dpRank * 2 + 1).grads());
            Map<String, float[]> gathered = LlamaWeights.gather(CONFIG, Head.LANGUAGE_MODEL, shards, PAD);
            for (Map.Entry<String, float[]> e : one.grads().entrySet()) {
                float[] expected = e.getValue();
                float[] actual = gathered.get(e.getKey());
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], actual[i], TOLERANCE + GRAD_RTOL * Math.abs(expected[i]),
                            "gradient " + e.getKey() + "[" + i + "] dp " + dpRank);
                }
            }
        }
    }

    @Test
    void shouldRejectTensorParallelDegreeNotFittingKvHeads() {
        LlamaConfig config = new LlamaConfig(24, 24, 12, 4, 1, 12, 1e-5, 10000.0, 64, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaWeights.shard(config, Head.LANGUAGE_MODEL,
                        LlamaWeights.random(config, Head.LANGUAGE_MODEL, 1, 6), 6, 0, 6));
        assertEquals("tensor-parallel degree and num_key_value_heads must divide one another: "
                + "num_key_value_heads=4, tp=6", e.getMessage());
        assertEquals("tensor-parallel degree must divide num_attention_heads: num_attention_heads=12, tp=8",
                assertThrows(IllegalArgumentException.class, () -> config.requireTensorParallel(8)).getMessage());
    }

    /**
     * TP 8 over 4 KV heads and TP 4 over 2 (each KV head on 2 ranks): logits, log-probs, entropies and the gathered
     * gradients (the replicated KV rows summed over their replicas) match one rank; the clipping norm counts each
     * replicated KV head once.
     */
    @ParameterizedTest
    @ValueSource(ints = {2, 4})
    void shouldMatchSingleRankWithReplicatedKvHeads(int kvHeads) throws Exception {
        LlamaConfig config = new LlamaConfig(16, 24, 8, kvHeads, 2, 13, 1e-5, 10000.0, 64, false);
        int t = kvHeads * 2;
        assertEquals(2, config.kvReplicas(t));
        Map<String, float[]> whole = LlamaWeights.random(config, Head.LANGUAGE_MODEL, 5, 8);
        LlamaModelTest.scaleUp(whole);
        record Out(RankResult result, double norm, Map<String, float[]> grads) {
        }
        Function<Communicator, Out> run = comm -> {
            int size = comm == null ? 1 : comm.size();
            int rank = comm == null ? 0 : comm.rank();
            try (LlamaModel model = LlamaModel.create(config, Head.LANGUAGE_MODEL,
                    LlamaWeights.shard(config, Head.LANGUAGE_MODEL, whole, size, rank, 8), comm, 8)) {
                float[] lp = new float[12];
                float[] ent = new float[12];
                model.logProbs(batch(), 0.8f, lp, ent);
                float[] dl = new float[12];
                for (int i = 0; i < 12; i++) {
                    dl[i] = 0.1f * (i % 5) - 0.2f;
                }
                model.backwardLogProbs(dl, null);
                double norm = Gradients.globalNorm(model.parameters(), comm);
                Map<String, float[]> grads = new LinkedHashMap<>();
                for (Parameter p : model.parameters()) {
                    grads.put(p.name(), p.grad().clone());
                }
                return new Out(new RankResult(null, lp, ent, grads), norm, grads);
            }
        };
        Out one = run.apply(null);
        List<Out> ranks = onRanks(t, run);
        for (Out r : ranks) {
            for (int i = 0; i < 12; i++) {
                assertEquals(one.result().logProbs()[i], r.result().logProbs()[i], TOLERANCE, "logprob " + i);
                assertEquals(one.result().entropy()[i], r.result().entropy()[i], TOLERANCE, "entropy " + i);
            }
            assertEquals(one.norm(), r.norm(), 1e-4 * one.norm(), "norm");
        }
        Map<String, float[]> gathered = LlamaWeights.gather(config, Head.LANGUAGE_MODEL,
                ranks.stream().map(Out::grads).toList(), 8);
        for (Map.Entry<String, float[]> e : one.grads().entrySet()) {
            float[] expected = e.getValue();
            float[] actual = gathered.get(e.getKey());
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], TOLERANCE + GRAD_RTOL * Math.abs(expected[i]),
                        "gradient " + e.getKey() + "[" + i + "]");
            }
        }
    }
}
