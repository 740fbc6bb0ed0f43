package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SetPartitionsTest {

    @Test
    void shouldCountBellNumbers() {
        int[] bell = {1, 2, 5, 15, 52};
        for (int n = 1; n <= bell.length; n++) {
            assertEquals(bell[n - 1], SetPartitions.of(n).size(), "n=" + n);
        }
    }

    @Test
    void shouldCoverEveryItemOnceAndNeverRepeatAPartition() {
        List<List<Integer>> partitions = SetPartitions.of(4);
        Set<Set<Integer>> seen = new HashSet<>();
        for (List<Integer> blocks : partitions) {
            int union = 0;
            for (int mask : blocks) {
                assertEquals(0, union & mask, "blocks overlap: " + blocks);
                union |= mask;
            }
            assertEquals(0b1111, union, "blocks do not cover the items: " + blocks);
            assertEquals(true, seen.add(Set.copyOf(blocks)), "repeated partition: " + blocks);
        }
    }

    @Test
    void shouldListThePartitionsOfThreeItems() {
        assertEquals(List.of(List.of(0b111), List.of(0b011, 0b100), List.of(0b101, 0b010), List.of(0b001, 0b110),
                List.of(0b001, 0b010, 0b100)), SetPartitions.of(3));
    }

    @Test
    void shouldRejectItemCountOutOfRange() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SetPartitions.of(0));
        assertEquals("items out of range: n=0, expected 1..10", e.getMessage());
    }
}
