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
     * {@code M_g}: bytes of all generation shards of the TP-sharded parameters together, {@code M - M_kv + M_kv *
     * max(t_g, K)/K} with {@code M_kv} the k and v rows ({@link ModelSpec#kvByteSize()}) and {@code K} the KV heads:
     * {@code M} unless the generation TP degree exceeds the KV heads, which replicates them.
     */
    public long generationModelBytes() {
        int k = spec.kvHeads();
        long kv = spec.kvByteSize();
        return k == 0 ? modelBytes() : modelBytes() - kv + kv / k * Math.max(layout.gen().tg(), k);
    }

    /**
     * The Table 2 value of bytes received per rank for a stage-balanced model: HybridFlow {@code (d_g-1)*M/(t*p)},
     * HybridFlow-V {@code (tp-1)/(tp)*M}, DS-Chat {@code (tpd-1)/(tpd)*M}, extended for KV heads replicated over TP
     * ranks (docs/hybrid-engine.md). With {@code M_s = M - M_kv}, {@code h = M_kv/K} (one KV head of every layer),
     * HybridFlow receives {@code (d_g-1)*M_s/(t*p) + h*(K/min(t_g,K))/p_g - h*max(t_g,K)/(t*p)} (0 for the KV part
     * when {@code p_g = p} and {@code t_g >= K}: every member holds the head), the baselines {@code (n-1)/n * M_g}
     * ({@link #generationModelBytes()}); for DS-Chat with replicated KV heads that is the mean over ranks.
     */
    public long formulaBytesReceived() {
        ParallelLayout train = layout.train();
        long tp = (long) train.t() * train.p();
        long mg = generationModelBytes();
        return switch (scheme) {
            case HYBRIDFLOW -> hybridFlowBytesReceived();
            case HYBRIDFLOW_V -> (tp - 1) * mg / tp;
            case DS_CHAT -> (tp * train.d() - 1) * mg / (tp * train.d());
        };
    }

    private long hybridFlowBytesReceived() {
        long m = modelBytes();
        int t = layout.train().t();
        int p = layout.train().p();
        long tp = (long) t * p;
        int k = spec.kvHeads();
        if (k == 0 || t <= k) {
            return (layout.dg() - 1) * m / tp;
        }
        int tg = layout.gen().tg();
        int pg = layout.gen().pg();
        long kv = spec.kvByteSize();
        long head = kv / k;
        long sharded = (layout.dg() - 1) * (m - kv) / tp;
        if (layout.kp() == 1 && tg >= k) {
            return sharded;
        }
        long holders = t / Math.max(tg, k);
        return sharded + head * (k / Math.min(tg, k)) / pg - head / p / holders;
    }

    /**
     * The Table 2 value of peak parameter bytes: HybridFlow the generation shard {@code M/(t_g*p_g)}, the baselines
     * the whole generation model {@code M_g} ({@code M} unless {@code t_g > K}); with replicated KV heads the
     * generation shard is {@code M_s/(t_g*p_g) + h*(K/min(t_g,K))/p_g}.
     */
    public long formulaPeakParameterBytes() {
        long m = modelBytes();
        int tg = layout.gen().tg();
        int pg = layout.gen().pg();
        if (scheme != ReshardScheme.HYBRIDFLOW) {
            return generationModelBytes();
        }
        int k = spec.kvHeads();
        if (k == 0 || tg <= k) {
            return m / ((long) tg * pg);
        }
        long kv = spec.kvByteSize();
        return (m - kv) / ((long) tg * pg) + kv / k / pg;
    }

    @Override
    public String toString() {
        return "ReshardPlan{" + scheme + ", " + layout + ", modelBytes=" + modelBytes() + "}";
    }
}
