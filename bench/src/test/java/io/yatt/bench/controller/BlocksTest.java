package io.yatt.bench.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;

class BlocksTest {

    @Test
    void shouldSplitIterationsEvenlyWithTheRemainderInTheFirstBlocks() {
        assertArrayEquals(new int[] {4, 3, 3}, Blocks.sizes(10, 3));
        assertArrayEquals(new int[] {5, 5}, Blocks.sizes(10, 2));
        assertArrayEquals(new int[] {1}, Blocks.sizes(1, 1));
    }

    @Test
    void shouldRejectMoreBlocksThanIterations() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Blocks.sizes(3, 4));
        assertEquals("blocks out of range: blocks=4, expected=1..3 (the iterations)", e.getMessage());
    }

    @Test
    void shouldWarmEveryPathThenAlternateTheirBlocksAndMergeEachPathsHistogram() throws Exception {
        List<String> log = new ArrayList<>();
        // path A records 1000 ns per round trip, path B 3000 ns in its first block and 5000 ns after
        Blocks.Path a = (count, into) -> {
            log.add("A" + (into == null ? "w" : "") + count);
            for (int i = 0; into != null && i < count; i++) {
                into.recordValue(1000);
            }
        };
        int[] bBlocks = {0};
        Blocks.Path b = (count, into) -> {
            log.add("B" + (into == null ? "w" : "") + count);
            if (into != null) {
                into.recordValueWithCount(bBlocks[0]++ == 0 ? 3000 : 5000, count);
            }
        };
        List<Blocks.Result> results = Blocks.run(List.of(a, b), new Blocks.Fixed(7), 5, 2);
        assertEquals(List.of("Aw7", "Bw7", "A3", "B3", "A2", "B2"), log);
        assertEquals(5, results.get(0).merged().getTotalCount());
        assertEquals(5, results.get(1).merged().getTotalCount());
        assertEquals(List.of(1000L, 1000L), results.get(0).blockP50sNs());
        // HdrHistogram at 3 significant digits reports the highest value equivalent to the recorded one
        assertEquals(List.of(results.get(1).merged().highestEquivalentValue(3000),
            results.get(1).merged().highestEquivalentValue(5000)), results.get(1).blockP50sNs());
        // merged: 3 of 3000 and 2 of 5000, so the median is 3000
        assertEquals(results.get(1).merged().highestEquivalentValue(3000),
            results.get(1).merged().getValueAtPercentile(50));
    }

    /** A path whose round trips take {@code latencyNs.applyAsLong(callIndex)} on a clock it advances itself. */
    private static Blocks.Path clocked(long[] clockNs, long[] callsRun, LongUnaryOperator latencyNs) {
        return (count, into) -> {
            for (int i = 0; i < count; i++) {
                long ns = latencyNs.applyAsLong(callsRun[0]++);
                clockNs[0] += ns;
                if (into != null) {
                    into.recordValue(ns);
                }
            }
        };
    }

    @Test
    void shouldWarmUpUntilTheChunkP50sStopFallingAfterTheMinimumCallsAndTime() throws Exception {
        long[] clock = {0};
        long[] calls = {0};
        // 10 us per call for the first 30 100 calls (the JIT's first tiers), then 2 us
        Blocks.Path path = clocked(clock, calls, c -> c < 30_100 ? 10_000 : 2_000);
        Blocks.WarmedUp w = Blocks.warmUp(path, new Blocks.Steady(20_000, 500_000_000L, 60_000_000_000L),
            () -> clock[0]);
        assertTrue(w.steady());
        assertEquals(calls[0], w.calls());
        assertEquals(clock[0], w.elapsedNs());
        // chunks: 100 calls (1 ms), then 10 000 (100 ms each) up to 30 100 calls (three without a fall, 301 ms, under
        // the minimum time); the 2 us calls make the chunk of 30 100..40 100 fall (20 ms), then 50 000 calls a chunk
        // (100 ms each): after three of them without a fall, 621 ms
        assertEquals(100 + 3 * 10_000 + 10_000 + 3 * 50_000, w.calls());
        assertEquals(30_100 * 10_000L + (w.calls() - 30_100) * 2_000L, w.elapsedNs());
    }

    @Test
    void shouldKeepWarmingUntilTheMinimumTimeEvenWhenSteady() throws Exception {
        long[] clock = {0};
        long[] calls = {0};
        // always 1 ms: steady at once, 20 calls reach the minimum count in 20 ms, but the minimum time is 1 s
        Blocks.Path path = clocked(clock, calls, c -> 1_000_000);
        Blocks.WarmedUp w = Blocks.warmUp(path, new Blocks.Steady(20, 1_000_000_000L, 60_000_000_000L),
            () -> clock[0]);
        assertTrue(w.steady());
        // 100 calls (100 ms), then chunks of 100 (100 ms each): 1 s after 10 chunks
        assertEquals(1_000, w.calls());
        assertEquals(1_000_000_000L, w.elapsedNs());
    }

    @Test
    void shouldStopWarmingAtTheTimeLimitWhileStillFalling() throws Exception {
        long[] clock = {0};
        long[] calls = {0};
        // every chunk's calls half as long as the previous chunk's: never steady
        int[] chunks = {0};
        Blocks.Path halving = clocked(clock, calls, c -> 1_000_000 >> Math.min(19, chunks[0] - 1));
        Blocks.Path path = (count, into) -> {
            chunks[0]++;
            halving.run(count, into);
        };
        Blocks.WarmedUp w = Blocks.warmUp(path, new Blocks.Steady(1, 0, 500_000_000L), () -> clock[0]);
        assertFalse(w.steady());
        assertTrue(w.elapsedNs() >= 500_000_000L, Long.toString(w.elapsedNs()));
        // 100 ms, then about 50 ms a chunk: the limit is reached within the ninth or tenth chunk, still falling
        assertTrue(chunks[0] >= 9 && chunks[0] <= 10, Integer.toString(chunks[0]));
    }
}
