package io.yatt.hybrid;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.ToLongFunction;

/**
 * A validated pair of a training layout and a generation layout, with the rank-to-coordinate mapping in the
 * paper's order {@code r = delta*p*t + sigma*t + tau} and every rank group. Groups are sorted rank lists, and the
 * groups of one kind are ordered by their smallest rank. Immutable and thread-safe.
 */
public final class HybridLayout {

    /** The group kinds printed by {@code yatt plan layout}, in output order. */
    public static final List<GroupKind> LAYOUT_GROUPS = List.of(
            GroupKind.TP, GroupKind.PP, GroupKind.DP, GroupKind.GEN_TP, GroupKind.GEN_PP, GroupKind.MICRO_DP);

    private final ParallelLayout train;
    private final GenerationLayout gen;
    private final int kt;
    private final int kp;
    private final RankCoordinates[] coordinates;
    private final Map<GroupKind, List<List<Integer>>> groups = new EnumMap<>(GroupKind.class);
    private final Map<GroupKind, int[]> groupIndexOfRank = new EnumMap<>(GroupKind.class);

    private HybridLayout(ParallelLayout train, GenerationLayout gen) {
        this.train = train;
        this.gen = gen;
        this.kt = train.t() / gen.tg();
        this.kp = train.p() / gen.pg();
        int world = train.worldSize();
        this.coordinates = new RankCoordinates[world];
        for (int r = 0; r < world; r++) {
            int tau = r % train.t();
            int sigma = (r / train.t()) % train.p();
            int delta = r / (train.t() * train.p());
            int muT = tau % kt;
            int muP = sigma % kp;
            coordinates[r] = new RankCoordinates(r, delta, sigma, tau, tau / kt, sigma / kp, muT, muP, muP * kt + muT);
        }
        long p = train.p();
        long t = train.t();
        long pg = gen.pg();
        long tg = gen.tg();
        build(GroupKind.TP, c -> c.dp() * p + c.pp());
        build(GroupKind.PP, c -> c.dp() * t + c.tp());
        build(GroupKind.DP, c -> (long) c.pp() * t + c.tp());
        build(GroupKind.GEN_TP, c -> (c.dp() * p + c.pp()) * kt + c.microTp());
        build(GroupKind.GEN_PP, c -> (c.dp() * kp + c.microPp()) * t + c.tp());
        build(GroupKind.MICRO_DP, c -> (c.dp() * pg + c.genPp()) * tg + c.genTp());
        build(GroupKind.MICRO_TP, c -> (c.dp() * p + c.pp()) * tg + c.genTp());
        build(GroupKind.MICRO_PP, c -> (c.dp() * pg + c.genPp()) * t + c.tp());
        build(GroupKind.MODEL_PARALLEL, c -> c.dp());
        build(GroupKind.WORLD, c -> 0L);
    }

    /**
     * The validated pair.
     *
     * @throws IllegalArgumentException if the generation layout does not fit the training layout (see
     *         {@link GenerationLayout#validateAgainst(ParallelLayout)})
     */
    public static HybridLayout of(ParallelLayout train, GenerationLayout gen) {
        Objects.requireNonNull(train, "train");
        Objects.requireNonNull(gen, "gen");
        gen.validateAgainst(train);
        return new HybridLayout(train, gen);
    }

    /**
     * Parses {@code p-t-d} and {@code p_g-t_g-d_g} or {@code p_g-t_g-d_g-d}.
     *
     * @throws IllegalArgumentException if either text is malformed or the layouts do not fit
     */
    public static HybridLayout parse(String train, String gen) {
        ParallelLayout trainLayout = ParallelLayout.parse(train);
        return new HybridLayout(trainLayout, GenerationLayout.parse(gen, trainLayout));
    }

    /** The training layout. */
    public ParallelLayout train() {
        return train;
    }

    /** The generation layout. */
    public GenerationLayout gen() {
        return gen;
    }

    /** {@code k_t = t/t_g}: training TP shards per generation TP shard. */
    public int kt() {
        return kt;
    }

    /** {@code k_p = p/p_g}: training stages per generation stage. */
    public int kp() {
        return kp;
    }

    /** {@code d_g = k_t*k_p}. */
    public int dg() {
        return gen.dg();
    }

    /** Number of ranks. */
    public int worldSize() {
        return train.worldSize();
    }

    /**
     * The global rank of training coordinates, {@code dp*p*t + pp*t + tp}.
     *
     * @throws IllegalArgumentException if a coordinate is out of range
     */
    public int rank(int dp, int pp, int tp) {
        if (dp < 0 || dp >= train.d() || pp < 0 || pp >= train.p() || tp < 0 || tp >= train.t()) {
            throw new IllegalArgumentException("coordinates out of range: dp=" + dp + ", pp=" + pp + ", tp=" + tp
                    + ", layout=" + train);
        }
        return dp * train.p() * train.t() + pp * train.t() + tp;
    }

    /**
     * The coordinates of a rank.
     *
     * @throws IllegalArgumentException if the rank is outside {@code [0, worldSize)}
     */
    public RankCoordinates coordinates(int rank) {
        checkRank(rank);
        return coordinates[rank];
    }

    /** All groups of one kind, each a sorted rank list, ordered by smallest rank. */
    public List<List<Integer>> groups(GroupKind kind) {
        return groups.get(kind);
    }

    /**
     * The group of one kind that holds a rank.
     *
     * @throws IllegalArgumentException if the rank is outside {@code [0, worldSize)}
     */
    public List<Integer> group(GroupKind kind, int rank) {
        checkRank(rank);
        return groups.get(kind).get(groupIndexOfRank.get(kind)[rank]);
    }

    /** Training TP groups. */
    public List<List<Integer>> tpGroups() {
        return groups(GroupKind.TP);
    }

    /** Training PP groups. */
    public List<List<Integer>> ppGroups() {
        return groups(GroupKind.PP);
    }

    /** Training DP groups. */
    public List<List<Integer>> dpGroups() {
        return groups(GroupKind.DP);
    }

    /** Generation TP groups. */
    public List<List<Integer>> genTpGroups() {
        return groups(GroupKind.GEN_TP);
    }

    /** Generation PP groups. */
    public List<List<Integer>> genPpGroups() {
        return groups(GroupKind.GEN_PP);
    }

    /** Micro-DP groups (HybridFlow's all-gather groups). */
    public List<List<Integer>> microDpGroups() {
        return groups(GroupKind.MICRO_DP);
    }

    /** The vanilla grouping (HybridFlow-V): one training TP x PP group per data-parallel replica. */
    public List<List<Integer>> vanillaGroups() {
        return groups(GroupKind.MODEL_PARALLEL);
    }

    /**
     * The JSON fields of {@code yatt plan layout}: {@code tpGroups}, {@code ppGroups}, {@code dpGroups},
     * {@code genTpGroups}, {@code genPpGroups}, {@code microDpGroups}, in this order, each a list of rank lists.
     */
    public Map<String, List<List<Integer>>> groupFields() {
        Map<String, List<List<Integer>>> fields = new LinkedHashMap<>();
        for (GroupKind kind : LAYOUT_GROUPS) {
            fields.put(kind.jsonName(), groups(kind));
        }
        return fields;
    }

    private void build(GroupKind kind, ToLongFunction<RankCoordinates> key) {
        Map<Long, List<Integer>> byKey = new LinkedHashMap<>();
        int[] index = new int[coordinates.length];
        Map<Long, Integer> indexByKey = new LinkedHashMap<>();
        for (RankCoordinates c : coordinates) {
            long k = key.applyAsLong(c);
            byKey.computeIfAbsent(k, ignored -> new ArrayList<>()).add(c.rank());
            index[c.rank()] = indexByKey.computeIfAbsent(k, ignored -> indexByKey.size());
        }
        List<List<Integer>> result = new ArrayList<>(byKey.size());
        for (List<Integer> group : byKey.values()) {
            result.add(List.copyOf(group));
        }
        groups.put(kind, List.copyOf(result));
        groupIndexOfRank.put(kind, index);
    }

    private void checkRank(int rank) {
        if (rank < 0 || rank >= coordinates.length) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", worldSize=" + coordinates.length);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HybridLayout other && train.equals(other.train) && gen.equals(other.gen);
    }

    @Override
    public int hashCode() {
        return 31 * train.hashCode() + gen.hashCode();
    }

    @Override
    public String toString() {
        return "train " + train + " -> gen " + gen;
    }
}
