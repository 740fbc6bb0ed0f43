package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The model's worker threads: every item once, and the same bits for every thread count. */
class ParallelismTest {

    @AfterEach
    void restore() {
        Parallelism.threads(1);
    }

    @Test
    void shouldRejectFewerThanOneThread() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Parallelism.threads(0));
        assertEquals("threads must be at least 1: threads=0", e.getMessage());
    }

    @Test
    void shouldRunEveryItemExactlyOnceWithMoreThreadsThanItemsAndFewer() {
        Parallelism.threads(3);
        assertEquals(3, Parallelism.threads());
        for (int count : new int[] {0, 1, 2, 7, 100}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(count);
            Parallelism.forEach(count, hits::incrementAndGet);
            for (int i = 0; i < count; i++) {
                assertEquals(1, hits.get(i), "item " + i + " of " + count);
            }
        }
    }

    @Test
    void shouldPassAnItemsExceptionToTheCaller() {
        Parallelism.threads(2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallelism.forEach(10, i -> {
            if (i == 9) {
                throw new IllegalStateException("item 9 failed");
            }
        }));
        assertEquals("item 9 failed", e.getMessage());
    }

    /** Log-probs, every gradient and greedy samples on 1 and on 3 threads (odd: uneven splits). */
    private static List<float[]> run(int threads) {
        Parallelism.threads(threads);
        List<float[]> out = new ArrayList<>();
        try (LlamaModel model = GeneratorTest.model()) {
            int[] tokens = {4, 9, 1, 3, 2, 7, 7, 12, 0, 5, 11, 6, 1, 1, 8, 2, 3, 10};
            Batch batch = new Batch(3, 6, tokens, new int[] {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1});
            float[] lp = new float[18];
            float[] ent = new float[18];
            model.logProbs(batch, 0.8f, lp, ent);
            float[] d = new float[18];
            for (int i = 0; i < d.length; i++) {
                d[i] = (i % 5) - 2f;
            }
            model.backwardLogProbs(d, ent);
            out.add(lp);
            out.add(ent);
            for (Parameter p : model.parameters()) {
                out.add(p.grad().clone());
            }
            List<Generator.Sample> samples = Generator.create(model, 4, 16).generate(
                    List.of(new int[] {4, 9, 1}, new int[] {2, 7, 7, 12, 0}, new int[] {3}),
                    Generator.Sampling.greedy(5), new long[] {1, 2, 3});
            for (Generator.Sample s : samples) {
                float[] tok = new float[s.tokens().length];
                for (int i = 0; i < tok.length; i++) {
                    tok[i] = s.tokens()[i];
                }
                out.add(tok);
                out.add(s.logProbs());
            }
        }
        return out;
    }

    @Test
    void shouldGiveBitIdenticalLogProbsGradientsAndSamplesOnOneAndThreeThreads() {
        List<float[]> one = run(1);
        List<float[]> three = run(3);

        assertEquals(one.size(), three.size());
        for (int i = 0; i < one.size(); i++) {
            assertArrayEquals(one.get(i), three.get(i), "output " + i);
        }
    }
}
