package io.yatt.controller;

import io.yatt.tensor.Device;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Processes on nodes, each bound to one device ({@code host} or {@code cuda:N}), as verl's ResourcePool: worker
 * groups are placed on a pool, one worker per process. Slices and splits keep the processes' identity, so two groups
 * placed on the same pool or on overlapping slices are colocated: they live in the same processes and time-share
 * them. An immutable value; thread-safe.
 */
public final class ResourcePool {
    private final String name;
    private final Object root;
    private final List<Slot> slots;

    private ResourcePool(String name, Object root, List<Slot> slots) {
        this.name = name;
        this.root = root;
        this.slots = List.copyOf(slots);
    }

    /**
     * One process of a pool.
     *
     * @param id        the process's index in the root pool, kept by slices and splits
     * @param node      the node (host) index
     * @param localRank the process's index on its node
     * @param device    the device the process is bound to
     */
    public record Slot(int id, int node, int localRank, Device device) {

        /** @throws IllegalArgumentException if an index is negative */
        public Slot {
            Objects.requireNonNull(device, "device");
            if (id < 0 || node < 0 || localRank < 0) {
                throw new IllegalArgumentException("slot index negative: id=" + id + ", node=" + node
                        + ", localRank=" + localRank);
            }
        }
    }

    /**
     * {@code nodes x gpusPerNode} processes, process {@code l} of each node bound to {@code cuda:l}.
     *
     * @throws IllegalArgumentException if the name is empty or a count is not positive
     */
    public static ResourcePool cuda(String name, int nodes, int gpusPerNode) {
        checkCounts(name, nodes, gpusPerNode);
        Device[][] devices = new Device[nodes][gpusPerNode];
        for (Device[] node : devices) {
            for (int l = 0; l < gpusPerNode; l++) {
                node[l] = Device.cuda(l);
            }
        }
        return of(name, devices);
    }

    /**
     * {@code nodes x processesPerNode} processes bound to the host (CPU ranks).
     *
     * @throws IllegalArgumentException if the name is empty or a count is not positive
     */
    public static ResourcePool host(String name, int nodes, int processesPerNode) {
        checkCounts(name, nodes, processesPerNode);
        Device[][] devices = new Device[nodes][processesPerNode];
        for (Device[] node : devices) {
            Arrays.fill(node, Device.host());
        }
        return of(name, devices);
    }

    /**
     * A pool with the given devices per node ({@code devicesPerNode[n][l]} binds process {@code l} of node
     * {@code n}); several processes may share a CUDA device (the cuda-local backend's testing setup).
     *
     * @throws IllegalArgumentException if the name is empty, there are no nodes, or a node has no process
     */
    public static ResourcePool of(String name, Device[][] devicesPerNode) {
        checkName(name);
        if (devicesPerNode.length == 0) {
            throw new IllegalArgumentException("resource pool needs at least one node: name=" + name + ", nodes=0");
        }
        List<Slot> slots = new ArrayList<>();
        for (int n = 0; n < devicesPerNode.length; n++) {
            if (devicesPerNode[n].length == 0) {
                throw new IllegalArgumentException("resource pool node has no process: name=" + name + ", node=" + n);
            }
            for (int l = 0; l < devicesPerNode[n].length; l++) {
                slots.add(new Slot(slots.size(), n, l, devicesPerNode[n][l]));
            }
        }
        return new ResourcePool(name, new Object(), slots);
    }

    /** The pool's name; a slice's name says which processes it holds, e.g. {@code "global[2:6]"}. */
    public String name() {
        return name;
    }

    /** Number of processes. */
    public int worldSize() {
        return slots.size();
    }

    /** The processes in rank order: worker {@code i} of a group placed on this pool runs in {@code slots().get(i)}. */
    public List<Slot> slots() {
        return slots;
    }

    /**
     * The process of pool rank {@code rank}.
     *
     * @throws IndexOutOfBoundsException if the rank is outside {@code [0, worldSize)}
     */
    public Slot slot(int rank) {
        if (rank < 0 || rank >= slots.size()) {
            throw new IndexOutOfBoundsException("pool rank out of range: rank=" + rank + ", worldSize="
                    + slots.size() + ", pool=" + name);
        }
        return slots.get(rank);
    }

    /** The distinct node indices, in order. */
    public List<Integer> nodes() {
        List<Integer> nodes = new ArrayList<>();
        for (Slot slot : slots) {
            if (!nodes.contains(slot.node())) {
                nodes.add(slot.node());
            }
        }
        return Collections.unmodifiableList(nodes);
    }

    /** Number of this pool's processes on each of {@link #nodes()}. */
    public List<Integer> processesPerNode() {
        List<Integer> nodes = nodes();
        int[] counts = new int[nodes.size()];
        for (Slot slot : slots) {
            counts[nodes.indexOf(slot.node())]++;
        }
        return Arrays.stream(counts).boxed().toList();
    }

    /**
     * The {@code count} processes from pool rank {@code start}.
     *
     * @throws IllegalArgumentException if the range is empty or outside {@code [0, worldSize)}
     */
    public ResourcePool slice(int start, int count) {
        if (count <= 0 || start < 0 || start > slots.size() - count) {
            throw new IllegalArgumentException("pool slice out of range: start=" + start + ", count=" + count
                    + ", worldSize=" + slots.size() + ", pool=" + name);
        }
        return new ResourcePool(name + "[" + start + ":" + (start + count) + "]", root,
                slots.subList(start, start + count));
    }

    /**
     * Consecutive slices of the given sizes, which must add up to the world size (split placement: each role on
     * its own processes).
     *
     * @throws IllegalArgumentException if a size is not positive or the sizes do not add up to the world size
     */
    public List<ResourcePool> split(int... sizes) {
        long total = 0;
        for (int size : sizes) {
            if (size <= 0) {
                throw new IllegalArgumentException("pool split sizes must be positive: sizes=" + Arrays.toString(sizes)
                        + ", pool=" + name);
            }
            total += size;
        }
        if (total != slots.size()) {
            throw new IllegalArgumentException("pool split sizes do not add up to the world size: sizes="
                    + Arrays.toString(sizes) + ", sum=" + total + ", worldSize=" + slots.size() + ", pool=" + name);
        }
        List<ResourcePool> parts = new ArrayList<>(sizes.length);
        int start = 0;
        for (int size : sizes) {
            parts.add(slice(start, size));
            start += size;
        }
        return Collections.unmodifiableList(parts);
    }

    /**
     * Whether groups placed on this pool and on {@code other} would share a process (colocation): both come from
     * the same root pool and hold a common process.
     */
    public boolean sharesProcessesWith(ResourcePool other) {
        if (root != other.root) {
            return false;
        }
        Set<Integer> mine = new HashSet<>();
        for (Slot slot : slots) {
            mine.add(slot.id());
        }
        for (Slot slot : other.slots) {
            if (mine.contains(slot.id())) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "ResourcePool[name=" + name + ", worldSize=" + slots.size() + ", processesPerNode="
                + processesPerNode() + "]";
    }

    private static void checkCounts(String name, int nodes, int perNode) {
        checkName(name);
        if (nodes <= 0 || perNode <= 0) {
            throw new IllegalArgumentException("resource pool counts must be positive: name=" + name + ", nodes="
                    + nodes + ", processesPerNode=" + perNode);
        }
    }

    private static void checkName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("invalid resource pool name: name=" + name
                    + ", expected a non-empty name");
        }
    }
}
