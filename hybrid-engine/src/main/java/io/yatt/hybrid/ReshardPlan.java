package io.yatt.hybrid;

import java.util.List;

/**
 * An immutable plan for one (layout pair, model, scheme): per rank, the steps the executor runs (local moves and
 * gathers of pieces, {@link ReshardStep}) and the bytes it will receive and hold, computed from those steps. Made by
 * {@link ReshardPlanner}; executed, as it is, by {@link HybridEngine}. Thread-safe.
 */
public final class ReshardPlan {

    private final HybridLayout layout;
    private final ModelSpec spec;
    private final ReshardScheme scheme;
    private final List<RankPlan> ranks;

    ReshardPlan(HybridLayout layout, ModelSpec spec, ReshardScheme scheme, List<RankPlan> ranks) {
        this.layout = layout;
        this.spec = spec;
        this.scheme = scheme;
        this.ranks = List.copyOf(ranks);
    }

    /** The layouts. */
    public HybridLayout layout() {
        return layout;
    }

    /** The model. */
    public ModelSpec spec() {
        return spec;
    }

    /** The scheme. */
    public ReshardScheme scheme() {
        return scheme;
    }

    /**
     * One rank's plan.
     *
     * @throws IllegalArgumentException if the rank is out of range
     */
    public RankPlan rank(int rank) {
        if (rank < 0 || rank >= ranks.size()) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", worldSize=" + ranks.size());
        }
        return ranks.get(rank);
    }

    /** Every rank's plan, in rank order. */
    public List<RankPlan> ranks() {
        return ranks;
    }

    /** {@code M}: bytes of the TP-sharded parameters. */
    public long modelBytes() {
        return spec.shardedByteSize();
    }

    /** Bytes received per rank, in rank order. */
    public long[] bytesReceivedPerRank() {
        return ranks.stream().mapToLong(RankPlan::bytesReceived).toArray();
    }

    /** Peak parameter bytes per rank, in rank order. */
    public long[] peakParameterBytesPerRank() {
        return ranks.stream().mapToLong(RankPlan::peakParameterBytes).toArray();
    }

    /**
     * The Table 2 value of bytes received per rank for a stage-balanced model: HybridFlow {@code (d_g-1)*M/(t*p)},
     * HybridFlow-V {@code (tp-1)/(tp)*M}, DS-Chat {@code (tpd-1)/(tpd)*M}.
     */
    public long formulaBytesReceived() {
        long m = modelBytes();
        ParallelLayout train = layout.train();
        long tp = (long) train.t() * train.p();
        return switch (scheme) {
            case HYBRIDFLOW -> (layout.dg() - 1) * m / tp;
            case HYBRIDFLOW_V -> (tp - 1) * m / tp;
            case DS_CHAT -> (tp * train.d() - 1) * m / (tp * train.d());
        };
    }

    /** The Table 2 value of peak parameter bytes: HybridFlow {@code M/(t_g*p_g)}, the baselines {@code M}. */
    public long formulaPeakParameterBytes() {
        long m = modelBytes();
        return scheme == ReshardScheme.HYBRIDFLOW ? m / ((long) layout.gen().tg() * layout.gen().pg()) : m;
    }

    @Override
    public String toString() {
        return "ReshardPlan{" + scheme + ", " + layout + ", modelBytes=" + modelBytes() + "}";
    }
}
