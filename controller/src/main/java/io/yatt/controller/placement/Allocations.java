package io.yatt.controller.placement;

import java.util.ArrayList;
import java.util.List;

/**
 * Allocations of a cluster's GPUs to colocated sets. A set gets either a power of two that divides the node size
 * and is smaller than it (a slice of one node), or whole nodes. Such sizes form a divisibility chain, so placing sets
 * largest first on consecutive GPUs never splits a slice across nodes, and TP groups stay inside a node.
 */
final class Allocations {

    private Allocations() {
    }

    /**
     * The GPU counts a set may get on {@code gpus} GPUs in nodes of {@code gpusPerNode}, ascending.
     *
     * @throws IllegalArgumentException if {@code gpus} is not a positive multiple of {@code gpusPerNode}
     */
    static List<Integer> sizes(int gpus, int gpusPerNode) {
        if (gpusPerNode <= 0 || gpus <= 0 || gpus % gpusPerNode != 0) {
            throw new IllegalArgumentException("GPUs must be a positive multiple of the node size: gpus=" + gpus
                    + ", gpusPerNode=" + gpusPerNode);
        }
        List<Integer> sizes = new ArrayList<>();
        for (int s = 1; s < gpusPerNode && gpusPerNode % s == 0; s *= 2) {
            sizes.add(s);
        }
        for (int s = gpusPerNode; s <= gpus; s += gpusPerNode) {
            sizes.add(s);
        }
        return List.copyOf(sizes);
    }

    /**
     * Every ordered allocation of exactly {@code gpus} GPUs to {@code minimum.length} sets, set {@code i} getting an
     * allowed size of at least {@code minimum[i]}.
     *
     * @throws IllegalArgumentException if the sizes are invalid (see {@link #sizes})
     */
    static List<int[]> enumerate(int gpus, int gpusPerNode, int[] minimum) {
        List<Integer> sizes = sizes(gpus, gpusPerNode);
        List<List<Integer>> allowed = new ArrayList<>();
        for (int min : minimum) {
            allowed.add(sizes.stream().filter(s -> s >= min).toList());
        }
        List<int[]> out = new ArrayList<>();
        enumerate(gpus, allowed, 0, new int[minimum.length], true, out::add);
        return out;
    }

    /**
     * Every ordered allocation of at most {@code gpus} GPUs to {@code minimum.length} sets (whatever is left stays
     * idle), set {@code i} getting an allowed size of at least {@code minimum[i]}.
     *
     * @throws IllegalArgumentException if the sizes are invalid (see {@link #sizes})
     */
    static List<int[]> enumerateAtMost(int gpus, int gpusPerNode, int[] minimum) {
        List<Integer> sizes = sizes(gpus, gpusPerNode);
        List<List<Integer>> allowed = new ArrayList<>();
        for (int min : minimum) {
            allowed.add(sizes.stream().filter(s -> s >= min).toList());
        }
        List<int[]> out = new ArrayList<>();
        enumerate(gpus, allowed, 0, new int[minimum.length], false, out::add);
        return out;
    }

    /** Receives each allocation; the array is reused between calls. */
    interface Sink {
        void accept(int[] allocation);
    }

    /**
     * Calls {@code sink} with every allocation of exactly ({@code exact}) or at most {@code remaining} GPUs, set
     * {@code i} from {@code allowed.get(i)} (ascending).
     */
    static void enumerate(int remaining, List<List<Integer>> allowed, int set, int[] current, boolean exact,
                          Sink sink) {
        if (set == current.length) {
            if (!exact || remaining == 0) {
                sink.accept(current.clone());
            }
            return;
        }
        for (int s : allowed.get(set)) {
            if (s > remaining) {
                break;
            }
            current[set] = s;
            enumerate(remaining - s, allowed, set + 1, current, exact, sink);
        }
    }
}
