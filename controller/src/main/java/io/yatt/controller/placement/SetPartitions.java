package io.yatt.controller.placement;

import java.util.ArrayList;
import java.util.List;

/** Set partitions of {@code n} items, as lists of bit masks (bit {@code i} = item {@code i}); Bell(n) of them. */
final class SetPartitions {

    /** Beyond this the Bell number (4,213,597 at 12) is more than a planner should enumerate. */
    static final int MAX_ITEMS = 10;

    private SetPartitions() {
    }

    /**
     * Every partition of {@code n} items, each a list of non-empty disjoint masks covering all items, blocks ordered by
     * their smallest item (restricted growth strings in lexicographic order).
     *
     * @throws IllegalArgumentException if {@code n} is not in {@code [1, MAX_ITEMS]}
     */
    static List<List<Integer>> of(int n) {
        if (n < 1 || n > MAX_ITEMS) {
            throw new IllegalArgumentException("items out of range: n=" + n + ", expected 1.." + MAX_ITEMS);
        }
        List<List<Integer>> result = new ArrayList<>();
        grow(new int[n], 1, 1, result);
        return result;
    }

    private static void grow(int[] block, int item, int blocks, List<List<Integer>> out) {
        if (item == block.length) {
            int[] masks = new int[blocks];
            for (int i = 0; i < block.length; i++) {
                masks[block[i]] |= 1 << i;
            }
            List<Integer> partition = new ArrayList<>(blocks);
            for (int m : masks) {
                partition.add(m);
            }
            out.add(List.copyOf(partition));
            return;
        }
        for (int b = 0; b <= blocks; b++) {
            block[item] = b;
            grow(block, item + 1, Math.max(blocks, b + 1), out);
        }
    }
}
