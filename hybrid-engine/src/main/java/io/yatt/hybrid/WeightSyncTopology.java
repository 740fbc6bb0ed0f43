package io.yatt.hybrid;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Who sends which generation shard to whom when weights sync to a separate rollout group.
 *
 * <p>The sync communicator spans {@code trainerSize() + rolloutSize} ranks: trainer rank {@code r} (the rank of the
 * {@link HybridLayout}) is sync rank {@code r}, rollout rank {@code j} is sync rank {@code trainerSize() + j} (make it
 * with {@code world.split(0, key)}, keys ordering trainers first). Rollout ranks use the generation layout: rollout
 * rank {@code j = replica*t_g*p_g + genPp*t_g + genTp}, so {@code rolloutSize} is a multiple of {@code t_g*p_g}.
 *
 * <p>Source of a rollout rank: the trainer ranks whose generation coordinates {@code (genTp, genPp)} match it all hold
 * the same generation shard ({@code d*d_g} of them, one per micro-DP rank and DP replica); in ascending rank order,
 * rollout replica {@code k} takes candidate {@code k mod (d*d_g)}. One replica reads from the lowest rank (micro-DP
 * rank 0 of DP replica 0); more replicas spread over distinct trainer ranks, so their streams use different senders.
 * Immutable and thread-safe.
 *
 * @param layout the trainer's layouts
 * @param rolloutSize number of rollout ranks
 */
public record WeightSyncTopology(HybridLayout layout, int rolloutSize) {

    /**
     * A rollout rank's place in the generation layout.
     *
     * @param rolloutRank the rollout rank
     * @param replica which rollout replica
     * @param genTp generation tensor-parallel rank
     * @param genPp generation pipeline stage
     */
    public record RolloutCoordinates(int rolloutRank, int replica, int genTp, int genPp) {
    }

    /**
     * @throws IllegalArgumentException if {@code rolloutSize} is not a positive multiple of {@code t_g*p_g}, or the
     *         total number of ranks overflows an int
     */
    public WeightSyncTopology {
        Objects.requireNonNull(layout, "layout");
        int tg = layout.gen().tg();
        int pg = layout.gen().pg();
        if (rolloutSize <= 0 || rolloutSize % (tg * pg) != 0) {
            throw new IllegalArgumentException("rollout group size must be a positive multiple of t_g*p_g: rolloutSize="
                    + rolloutSize + ", t_g=" + tg + ", p_g=" + pg);
        }
        if ((long) layout.worldSize() + rolloutSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many ranks: trainerSize=" + layout.worldSize() + ", rolloutSize="
                    + rolloutSize);
        }
    }

    /** Shorthand factory. */
    public static WeightSyncTopology of(HybridLayout layout, int rolloutSize) {
        return new WeightSyncTopology(layout, rolloutSize);
    }

    /** Number of trainer ranks, {@code p*t*d}. */
    public int trainerSize() {
        return layout.worldSize();
    }

    /** Number of ranks of the sync communicator: trainers, then rollout ranks. */
    public int worldSize() {
        return trainerSize() + rolloutSize;
    }

    /** Number of rollout replicas, {@code rolloutSize/(t_g*p_g)}. */
    public int rolloutReplicas() {
        return rolloutSize / (layout.gen().tg() * layout.gen().pg());
    }

    /**
     * The sync-communicator rank of a rollout rank.
     *
     * @throws IllegalArgumentException if the rollout rank is out of range
     */
    public int syncRankOfRollout(int rolloutRank) {
        checkRollout(rolloutRank);
        return trainerSize() + rolloutRank;
    }

    /**
     * A rollout rank's generation coordinates.
     *
     * @throws IllegalArgumentException if the rollout rank is out of range
     */
    public RolloutCoordinates rolloutCoordinates(int rolloutRank) {
        checkRollout(rolloutRank);
        int tg = layout.gen().tg();
        int pg = layout.gen().pg();
        return new RolloutCoordinates(rolloutRank, rolloutRank / (tg * pg), rolloutRank % tg,
                (rolloutRank / tg) % pg);
    }

    /**
     * The trainer ranks holding the generation shard {@code (genTp, genPp)}, ascending.
     *
     * @throws IllegalArgumentException if a coordinate is out of range
     */
    public List<Integer> candidates(int genTp, int genPp) {
        if (genTp < 0 || genTp >= layout.gen().tg() || genPp < 0 || genPp >= layout.gen().pg()) {
            throw new IllegalArgumentException("generation coordinates out of range: genTp=" + genTp + ", genPp="
                    + genPp + ", t_g=" + layout.gen().tg() + ", p_g=" + layout.gen().pg());
        }
        List<Integer> ranks = new ArrayList<>();
        for (int r = 0; r < trainerSize(); r++) {
            RankCoordinates c = layout.coordinates(r);
            if (c.genTp() == genTp && c.genPp() == genPp) {
                ranks.add(r);
            }
        }
        return List.copyOf(ranks);
    }

    /**
     * The trainer rank that sends its generation shard to a rollout rank.
     *
     * @throws IllegalArgumentException if the rollout rank is out of range
     */
    public int sourceOf(int rolloutRank) {
        RolloutCoordinates c = rolloutCoordinates(rolloutRank);
        List<Integer> candidates = candidates(c.genTp(), c.genPp());
        return candidates.get(c.replica() % candidates.size());
    }

    /**
     * The rollout ranks a trainer rank sends to, ascending; empty for most trainer ranks.
     *
     * @throws IllegalArgumentException if the trainer rank is out of range
     */
    public List<Integer> destinations(int trainerRank) {
        if (trainerRank < 0 || trainerRank >= trainerSize()) {
            throw new IllegalArgumentException("trainer rank out of range: rank=" + trainerRank + ", trainerSize="
                    + trainerSize());
        }
        List<Integer> result = new ArrayList<>();
        for (int j = 0; j < rolloutSize; j++) {
            if (sourceOf(j) == trainerRank) {
                result.add(j);
            }
        }
        return List.copyOf(result);
    }

    /** {@code trainer r} for trainer sync ranks, {@code rollout j} for the others, as messages name ranks. */
    public String describeSyncRank(int syncRank) {
        return syncRank < trainerSize() ? "trainer " + syncRank : "rollout " + (syncRank - trainerSize());
    }

    private void checkRollout(int rolloutRank) {
        if (rolloutRank < 0 || rolloutRank >= rolloutSize) {
            throw new IllegalArgumentException("rollout rank out of range: rank=" + rolloutRank + ", rolloutSize="
                    + rolloutSize);
        }
    }
}
