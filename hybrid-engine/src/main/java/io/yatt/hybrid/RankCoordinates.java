package io.yatt.hybrid;

/**
 * Where one rank sits in a training layout and its generation layout, in the paper's order
 * {@code rank = dp*p*t + pp*t + tp}, with {@code tp = genTp*k_t + microTp} and {@code pp = genPp*k_p + microPp}.
 * Immutable and thread-safe.
 *
 * @param rank global rank
 * @param dp data-parallel index {@code delta < d}
 * @param pp training pipeline stage {@code sigma < p}
 * @param tp training tensor-parallel rank {@code tau < t}
 * @param genTp generation tensor-parallel rank {@code tau_g < t_g}
 * @param genPp generation pipeline stage {@code sigma_g < p_g}
 * @param microTp {@code mu_t < k_t}: which slice of the generation TP shard this rank's training TP shard is
 * @param microPp {@code mu_p < k_p}: which training stage inside the merged generation stage this rank's stage is
 * @param microDpRank position inside the micro-DP group, {@code microPp*k_t + microTp} (ascending rank order)
 */
public record RankCoordinates(int rank, int dp, int pp, int tp, int genTp, int genPp, int microTp, int microPp,
                              int microDpRank) {

    @Override
    public String toString() {
        return "rank " + rank + " (dp=" + dp + ", pp=" + pp + ", tp=" + tp + ", genTp=" + genTp + ", genPp=" + genPp
                + ", microTp=" + microTp + ", microPp=" + microPp + ", microDpRank=" + microDpRank + ")";
    }
}
