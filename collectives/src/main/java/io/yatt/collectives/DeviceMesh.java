package io.yatt.collectives;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;

/**
 * A world communicator viewed as an n-dimensional grid of ranks with named dimensions, e.g. {@code pp=2, dp=2,
 * tp=2}. Row-major: the last dimension varies fastest, so {@code rank = ((pp * dpSize) + dp) * tpSize + tp}. The
 * sub-communicator of a set of dimensions groups the ranks that differ only in those dimensions; inside it, ranks are
 * numbered row-major over the chosen dimensions in mesh order (the order the caller names them in does not matter).
 *
 * <p>{@link #communicator(String...)} is collective over the world the first time a set of dimensions is asked for
 * (every rank must ask for the same sets in the same order); later calls return the cached communicator. Confined to
 * the rank's thread. {@link #close()} closes the sub-communicators it made, not the world.
 */
public final class DeviceMesh implements AutoCloseable {
    private final Communicator world;
    private final List<String> dimNames;
    private final int[] dimSizes;
    private final int[] coordinates;
    private final Map<Integer, Communicator> subCommunicators = new HashMap<>();
    private boolean closed;

    private DeviceMesh(Communicator world, List<String> dimNames, int[] dimSizes) {
        this.world = world;
        this.dimNames = dimNames;
        this.dimSizes = dimSizes;
        this.coordinates = coordinatesOf(world.rank());
    }

    /**
     * A mesh over {@code world} with the given dimension names and sizes (their product must be the world size).
     *
     * @throws IllegalArgumentException for no dimensions, names and sizes of different lengths, blank or duplicate
     *         names, sizes below 1, or a product other than the world size
     */
    public static DeviceMesh create(Communicator world, List<String> dimNames, int... dimSizes) {
        Objects.requireNonNull(world, "world");
        Objects.requireNonNull(dimNames, "dimNames");
        Objects.requireNonNull(dimSizes, "dimSizes");
        if (dimNames.isEmpty()) {
            throw new IllegalArgumentException("mesh has no dimensions: expected at least one name");
        }
        if (dimNames.size() != dimSizes.length) {
            throw new IllegalArgumentException("mesh dimension count mismatch: names=" + dimNames + ", sizes="
                    + java.util.Arrays.toString(dimSizes));
        }
        Set<String> seen = new HashSet<>();
        long product = 1;
        for (int i = 0; i < dimSizes.length; i++) {
            String name = dimNames.get(i);
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("invalid mesh dimension name: name=" + name + ", index=" + i);
            }
            if (!seen.add(name)) {
                throw new IllegalArgumentException("duplicate mesh dimension: name=" + name + ", dims=" + dimNames);
            }
            if (dimSizes[i] < 1) {
                throw new IllegalArgumentException("invalid mesh dimension size: " + name + "=" + dimSizes[i]
                        + ", expected >= 1");
            }
            product *= dimSizes[i];
        }
        List<String> names = List.copyOf(dimNames);
        int[] sizes = dimSizes.clone();
        if (product != world.size()) {
            throw new IllegalArgumentException("mesh size mismatch: product=" + product + ", worldSize=" + world.size()
                    + ", dims=" + describe(names, sizes));
        }
        return new DeviceMesh(world, names, sizes);
    }

    /** The world communicator this mesh views. */
    public Communicator world() {
        return world;
    }

    /** The dimension names, outermost first. */
    public List<String> dimNames() {
        return dimNames;
    }

    /** The number of dimensions. */
    public int ndim() {
        return dimSizes.length;
    }

    /** The number of ranks, the product of the dimension sizes. */
    public int size() {
        return world.size();
    }

    /**
     * The size of dimension {@code dim}.
     *
     * @throws IllegalArgumentException for an unknown dimension
     */
    public int size(String dim) {
        return dimSizes[indexOf(dim)];
    }

    /**
     * This rank's coordinate along {@code dim}.
     *
     * @throws IllegalArgumentException for an unknown dimension
     */
    public int coordinate(String dim) {
        return coordinates[indexOf(dim)];
    }

    /**
     * Rank {@code rank}'s coordinate along {@code dim}.
     *
     * @throws IllegalArgumentException for an unknown dimension or a rank out of range
     */
    public int coordinate(int rank, String dim) {
        if (rank < 0 || rank >= world.size()) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", size=" + world.size());
        }
        return coordinatesOf(rank)[indexOf(dim)];
    }

    /**
     * The world rank at the given coordinates, one per dimension in mesh order.
     *
     * @throws IllegalArgumentException for the wrong number of coordinates or one out of range
     */
    public int rankOf(int... coordinates) {
        if (coordinates.length != dimSizes.length) {
            throw new IllegalArgumentException("coordinate count mismatch: coordinates="
                    + java.util.Arrays.toString(coordinates) + ", dims=" + describe(dimNames, dimSizes));
        }
        int rank = 0;
        for (int i = 0; i < dimSizes.length; i++) {
            if (coordinates[i] < 0 || coordinates[i] >= dimSizes[i]) {
                throw new IllegalArgumentException("coordinate out of range: " + dimNames.get(i) + "=" + coordinates[i]
                        + ", size=" + dimSizes[i]);
            }
            rank = rank * dimSizes[i] + coordinates[i];
        }
        return rank;
    }

    /**
     * The ranks of this rank's sub-communicator over {@code dims}, in its rank order (world numbering).
     *
     * @throws IllegalArgumentException for no, unknown or repeated dimensions
     */
    public List<Integer> groupRanks(String... dims) {
        int mask = maskOf(dims);
        List<Integer> ranks = new ArrayList<>();
        for (int r = 0; r < world.size(); r++) {
            int[] c = coordinatesOf(r);
            boolean same = true;
            for (int i = 0; i < dimSizes.length && same; i++) {
                same = (mask & (1 << i)) != 0 || c[i] == coordinates[i];
            }
            if (same) {
                ranks.add(r);
            }
        }
        return ranks;
    }

    /**
     * The sub-communicator over {@code dims}: collective over the world on first use for that set, cached after.
     *
     * @throws IllegalArgumentException for no, unknown or repeated dimensions
     * @throws IllegalStateException if the mesh is closed
     */
    public Communicator communicator(String... dims) {
        int mask = maskOf(dims);
        if (closed) {
            throw new IllegalStateException("device mesh closed: dims=" + describe(dimNames, dimSizes));
        }
        Communicator cached = subCommunicators.get(mask);
        if (cached != null) {
            return cached;
        }
        int color = 0;
        int key = 0;
        for (int i = 0; i < dimSizes.length; i++) {
            if ((mask & (1 << i)) != 0) {
                key = key * dimSizes[i] + coordinates[i];
            } else {
                color = color * dimSizes[i] + coordinates[i];
            }
        }
        Communicator sub = world.split(color, key).orElseThrow(
                () -> new IllegalStateException("split returned no communicator for a non-negative color"));
        subCommunicators.put(mask, sub);
        return sub;
    }

    /**
     * Closes the sub-communicators this mesh made (collecting failures as suppressed exceptions).
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("device mesh already closed: dims=" + describe(dimNames, dimSizes));
        }
        closed = true;
        RuntimeException failure = null;
        for (Communicator sub : subCommunicators.values()) {
            try {
                sub.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        subCommunicators.clear();
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "DeviceMesh" + describe(dimNames, dimSizes);
    }

    private int[] coordinatesOf(int rank) {
        int[] c = new int[dimSizes.length];
        int rest = rank;
        for (int i = dimSizes.length - 1; i >= 0; i--) {
            c[i] = rest % dimSizes[i];
            rest /= dimSizes[i];
        }
        return c;
    }

    private int indexOf(String dim) {
        int index = dimNames.indexOf(dim);
        if (index < 0) {
            throw new IllegalArgumentException("unknown mesh dimension: name=" + dim + ", dims=" + dimNames);
        }
        return index;
    }

    private int maskOf(String... dims) {
        if (dims.length == 0) {
            throw new IllegalArgumentException("no mesh dimensions given: expected some of " + dimNames);
        }
        int mask = 0;
        for (String dim : dims) {
            int bit = 1 << indexOf(dim);
            if ((mask & bit) != 0) {
                throw new IllegalArgumentException("repeated mesh dimension: name=" + dim + ", dims="
                        + java.util.Arrays.toString(dims));
            }
            mask |= bit;
        }
        return mask;
    }

    private static String describe(List<String> names, int[] sizes) {
        StringJoiner joiner = new StringJoiner(", ", "[", "]");
        for (int i = 0; i < sizes.length; i++) {
            joiner.add(names.get(i) + "=" + sizes[i]);
        }
        return joiner.toString();
    }
}
