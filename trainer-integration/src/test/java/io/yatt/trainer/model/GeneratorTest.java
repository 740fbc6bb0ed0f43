package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** KV-cache generation against full-sequence scoring (log-probs within 1e-5), batch and TP independence. */
class GeneratorTest {
    static final LlamaConfig CONFIG = TensorParallelTest.CONFIG;
    static final int PAD = 4;
    static final Map<String, float[]> WHOLE = weights();

    static Map<String, float[]> weights() {
        Map<String, float[]> w = LlamaWeights.random(CONFIG, Head.LANGUAGE_MODEL, 3, PAD);
        LlamaModelTest.scaleUp(w);
        return w;
    }

    static LlamaModel model() {
        return LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL, WHOLE, null, PAD);
    }

    @Test
    void shouldMatchScoringOfTheGeneratedSequences() {
        List<int[]> prompts = List.of(new int[] {4, 9, 1}, new int[] {2, 7, 7, 12, 0});
        try (LlamaModel model = model()) {
            List<Generator.Sample> samples = Generator.create(model, 4, 16)
                    .generate(prompts, Generator.Sampling.greedy(4), new long[] {1, 2});
            for (int s = 0; s < 2; s++) {
                int[] prompt = prompts.get(s);
                Generator.Sample sample = samples.get(s);
                assertEquals(4, sample.tokens().length);
                int[] full = new int[prompt.length + 4];
                System.arraycopy(prompt, 0, full, 0, prompt.length);
                System.arraycopy(sample.tokens(), 0, full, prompt.length, 4);
                Batch batch = Batch.single(full);
                float[] lp = new float[full.length];
                model.logProbs(batch, 1f, lp, null);
                float[] logits = model.logitsShard(batch);
                int vp = CONFIG.paddedVocab(PAD);
                for (int k = 0; k < 4; k++) {
                    int row = prompt.length - 1 + k;
                    assertEquals(lp[row], sample.logProbs()[k], 1e-5, "logprob of new token " + k);
                    int argmax = 0;
                    for (int v = 1; v < CONFIG.vocabSize(); v++) {
                        if (logits[row * vp + v] > logits[row * vp + argmax]) {
                            argmax = v;
                        }
                    }
                    assertEquals(argmax, sample.tokens()[k], "greedy token " + k);
                }
            }
        }
    }

    @Test
    void shouldGiveTheSameSampleAloneAndInABatch() {
        Generator.Sampling sampling = new Generator.Sampling(6, 0.9f, 8, 0.95f, null);
        try (LlamaModel model = model()) {
            Generator gen = Generator.create(model, 3, 16);
            Generator.Sample alone = gen.generate(List.of(new int[] {5, 6}), sampling, new long[] {77}).getFirst();
            List<Generator.Sample> batch = gen.generate(
                    List.of(new int[] {1, 2, 3, 4, 5}, new int[] {5, 6}, new int[] {8}), sampling,
                    new long[] {3, 77, 4});
            assertArrayEquals(alone.tokens(), batch.get(1).tokens());
            assertArrayEquals(alone.logProbs(), batch.get(1).logProbs());
        }
    }

    /**
     * Five prompts in passes of two (a cache of two sequences) give the tokens of one pass of five, and their
     * log-probs up to the last bits (bit for bit with OpenBLAS's SkylakeX kernels; its Haswell sgemm rounds a row
     * differently at another position of the matrix).
     */
    @Test
    void shouldGiveTheSameSamplesInPassesAsInOne() {
        Generator.Sampling sampling = new Generator.Sampling(6, 0.9f, 8, 0.95f, null);
        List<int[]> prompts = List.of(new int[] {1, 2, 3, 4, 5}, new int[] {5, 6}, new int[] {8}, new int[] {9, 3, 3},
                new int[] {4});
        long[] seeds = {3, 77, 4, 12, 5};
        try (LlamaModel model = model()) {
            List<Generator.Sample> one = Generator.create(model, 5, 16).generate(prompts, sampling, seeds);
            List<Generator.Sample> passes = Generator.create(model, 2, 16).generateAll(prompts, sampling, seeds);
            assertEquals(5, passes.size());
            for (int i = 0; i < 5; i++) {
                assertArrayEquals(one.get(i).tokens(), passes.get(i).tokens(), "tokens of sample " + i);
                assertArrayEquals(one.get(i).logProbs(), passes.get(i).logProbs(), 1e-5f, "log-probs of sample " + i);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Generator.create(model, 2, 16).generateAll(prompts, sampling, new long[4]));
            assertEquals("need prompts and one seed per prompt: prompts=5, seeds=4", e.getMessage());
        }
    }

    @Test
    void shouldKeepOnlyTheTopTokenWithTopKOne() {
        try (LlamaModel model = model()) {
            Generator gen = Generator.create(model, 1, 16);
            int[] greedy = gen.generate(List.of(new int[] {3}), Generator.Sampling.greedy(5), new long[] {0})
                    .getFirst().tokens();
            int[] topOne = gen.generate(List.of(new int[] {3}), new Generator.Sampling(5, 1.3f, 1, 1f, null),
                    new long[] {9}).getFirst().tokens();
            assertArrayEquals(greedy, topOne);
        }
    }

    @Test
    void shouldKeepOnlyTheTopTokenWithATinyTopP() {
        try (LlamaModel model = model()) {
            Generator gen = Generator.create(model, 1, 16);
            int[] greedy = gen.generate(List.of(new int[] {6, 2}), Generator.Sampling.greedy(5), new long[] {0})
                    .getFirst().tokens();
            int[] nucleus = gen.generate(List.of(new int[] {6, 2}), new Generator.Sampling(5, 1f, 0, 1e-6f, null),
                    new long[] {5}).getFirst().tokens();
            assertArrayEquals(greedy, nucleus);
        }
    }

    @Test
    void shouldSampleOnlyAmongTheTopKTokens() {
        try (LlamaModel model = model()) {
            Generator gen = Generator.create(model, 1, 16);
            for (long seed = 0; seed < 20; seed++) {
                Generator.Sample s = gen.generate(List.of(new int[] {6, 2}),
                        new Generator.Sampling(1, 2f, 3, 1f, null), new long[] {seed}).getFirst();
                float[] logits = model.logitsShard(Batch.single(6, 2));
                int vp = CONFIG.paddedVocab(PAD);
                int higher = 0;
                for (int v = 0; v < CONFIG.vocabSize(); v++) {
                    if (logits[vp + v] > logits[vp + s.tokens()[0]]) {
                        higher++;
                    }
                }
                assertTrue(higher < 3, "token " + s.tokens()[0] + " has " + higher + " more likely tokens");
            }
        }
    }

    @Test
    void shouldStopAfterAStopToken() {
        try (LlamaModel model = model()) {
            Generator gen = Generator.create(model, 1, 16);
            int[] greedy = gen.generate(List.of(new int[] {3, 1}), Generator.Sampling.greedy(6), new long[] {0})
                    .getFirst().tokens();
            int stop = greedy[2];
            int first = 0;
            while (greedy[first] != stop) {
                first++;
            }
            Generator.Sample s = gen.generate(List.of(new int[] {3, 1}),
                    new Generator.Sampling(6, 0f, 0, 1f, new int[] {stop}), new long[] {0}).getFirst();
            assertTrue(s.stopped());
            assertArrayEquals(java.util.Arrays.copyOf(greedy, first + 1), s.tokens());
            assertFalse(gen.generate(List.of(new int[] {3, 1}), Generator.Sampling.greedy(6), new long[] {0})
                    .getFirst().stopped());
        }
    }

    @Test
    void shouldGenerateTheSameGreedyTokensWithTwoRanks() throws Exception {
        List<int[]> prompts = List.of(new int[] {4, 9, 1}, new int[] {2, 7});
        List<Generator.Sample> one;
        try (LlamaModel model = model()) {
            one = Generator.create(model, 2, 12).generate(prompts, Generator.Sampling.greedy(5), new long[] {1, 2});
        }
        List<List<Generator.Sample>> ranks = TensorParallelTest.onRanks(2, comm -> {
            try (LlamaModel model = LlamaModel.create(CONFIG, Head.LANGUAGE_MODEL,
                    LlamaWeights.shard(CONFIG, Head.LANGUAGE_MODEL, WHOLE, 2, comm.rank(), PAD), comm, PAD)) {
                return Generator.create(model, 2, 12).generate(prompts, Generator.Sampling.greedy(5),
                        new long[] {1, 2});
            }
        });
        for (List<Generator.Sample> r : ranks) {
            for (int s = 0; s < 2; s++) {
                assertArrayEquals(one.get(s).tokens(), r.get(s).tokens());
                for (int k = 0; k < 5; k++) {
                    assertEquals(one.get(s).logProbs()[k], r.get(s).logProbs()[k], 1e-5);
                }
            }
        }
    }

    @Test
    void shouldRejectPromptTokenOutsideVocab() {
        try (LlamaModel model = model()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Generator.create(model,
                    1, 8).generate(List.of(new int[] {1, 13}), Generator.Sampling.greedy(2), new long[] {0}));
            assertEquals("token id out of range: token=13, vocab=13, prompt=0", e.getMessage());
        }
    }

    @Test
    void shouldRejectPromptPlusNewTokensBeyondTheCache() {
        try (LlamaModel model = model()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Generator.create(model,
                    1, 8).generate(List.of(new int[] {1, 2, 3}), Generator.Sampling.greedy(6), new long[] {0}));
            assertEquals("prompt plus new tokens exceed the cache: prompt=3, maxNewTokens=6, maxSeqLen=8",
                    e.getMessage());
        }
    }
}
