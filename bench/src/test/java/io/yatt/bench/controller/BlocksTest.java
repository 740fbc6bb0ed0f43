package io.yatt.bench.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
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
        List<Blocks.Result> results = Blocks.run(List.of(a, b), 7, 5, 2);
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
}
