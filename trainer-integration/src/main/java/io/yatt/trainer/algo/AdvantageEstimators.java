package io.yatt.trainer.algo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Advantage estimators of verl's {@code verl/trainer/ppo/core_algos.py}, one static method each, registered in
 * {@link AlgorithmRegistry}. Outcome estimators score a response by the plain sum of its token-level rewards over
 * all positions ({@code token_level_rewards.sum(-1)}, as verl), group responses by {@code groupIds} in order of first
 * appearance, and broadcast the per-response scalar over the response mask. Stateless and thread-safe.
 */
public final class AdvantageEstimators {

    /** verl's epsilon in the optimal token baseline's denominator. */
    public static final double OTB_EPSILON = 1e-8;

    private AdvantageEstimators() {
    }

    /**
     * Generalised advantage estimation, {@code compute_gae_advantage_return}: backwards over t,
     * {@code delta = r_t + gamma * V_next - V_t}, {@code A_t = delta + gamma * lam * A_next}, where masked positions
     * (observation tokens, padding) pass {@code V_next} and {@code A_next} through unchanged. Returns are
     * {@code A + V} before whitening; advantages are then {@link TensorFunctions#maskedWhiten whitened} over the mask
     * (masked positions are whitened too and are not zeroed, as in verl).
     *
     * @throws IllegalArgumentException if values are missing or fewer than two tokens are unmasked
     */
    public static AdvantageResult gae(AdvantageInput in, AdvantageConfig cfg) {
        return gae(in, cfg, BatchShard.whole(in.tokenLevelRewards().batch()));
    }

    private static AdvantageResult gae(AdvantageInput in, AdvantageConfig cfg, BatchShard shard) {
        AdvantageResult raw = gaeUnwhitened(in, cfg);
        return new AdvantageResult(TensorFunctions.maskedWhiten(raw.advantages(), in.responseMask(), true, shard),
                raw.returns());
    }

    /** The GAE recursion of {@link #gae} without the final whitening. */
    static AdvantageResult gaeUnwhitened(AdvantageInput in, AdvantageConfig cfg) {
        BatchTensor r = in.tokenLevelRewards();
        BatchTensor m = in.responseMask();
        BatchTensor v = in.values("gae");
        int batch = r.batch();
        int seq = r.seq();
        float[] adv = new float[r.count()];
        float[] ret = new float[r.count()];
        for (int b = 0; b < batch; b++) {
            double nextValue = 0;
            double lastGae = 0;
            for (int t = seq - 1; t >= 0; t--) {
                int i = b * seq + t;
                double mask = m.at(i);
                double delta = r.at(i) + cfg.gamma() * nextValue - v.at(i);
                double gae = delta + cfg.gamma() * cfg.lam() * lastGae;
                nextValue = v.at(i) * mask + (1 - mask) * nextValue;
                lastGae = gae * mask + (1 - mask) * lastGae;
                adv[i] = (float) lastGae;
                ret[i] = (float) (lastGae + v.at(i));
            }
        }
        return new AdvantageResult(BatchTensor.wrap(batch, seq, adv), BatchTensor.wrap(batch, seq, ret));
    }

    /**
     * GRPO outcome advantage, {@code compute_grpo_outcome_advantage}: {@code (s - mean_g) / (std_g + epsilon)} with
     * the unbiased group standard deviation, or {@code s - mean_g} when {@code normAdvByStdInGrpo} is off (Dr. GRPO).
     * A group of one has mean 0 and std 1, so its advantage is {@code s / (1 + epsilon)}. Returns equal advantages.
     *
     * @throws IllegalArgumentException if group ids are missing
     */
    public static AdvantageResult grpo(AdvantageInput in, AdvantageConfig cfg) {
        return outcome(in, grpo(scores(in), in.groupIds("grpo"), cfg));
    }

    private static double[] grpo(double[] s, int[] ids, AdvantageConfig cfg) {
        double[] out = new double[s.length];
        for (List<Integer> g : groups(ids).values()) {
            double mean = g.size() == 1 ? 0 : mean(s, g);
            double std = g.size() == 1 ? 1 : std(s, g, mean);
            for (int i : g) {
                out[i] = cfg.normAdvByStdInGrpo() ? (s[i] - mean) / (std + cfg.epsilon()) : s[i] - mean;
            }
        }
        return out;
    }

    /**
     * Vectorised GRPO, {@code compute_grpo_vectorized_outcome_advantage} with verl's {@code group_mean_std}: the
     * group variance is the one-pass {@code (sum s^2 - (sum s)^2 / n) / (n - 1)} floored at epsilon before the square
     * root, so {@code std = sqrt(max(var, epsilon))} and then {@code (s - mean) / (std + epsilon)}; a group of one has
     * mean 0 and std 1. It differs from {@link #grpo} only for groups whose variance is below epsilon.
     *
     * @throws IllegalArgumentException if group ids are missing
     */
    public static AdvantageResult grpoVectorized(AdvantageInput in, AdvantageConfig cfg) {
        return outcome(in, grpoVectorized(scores(in), in.groupIds("grpo_vectorized"), cfg));
    }

    private static double[] grpoVectorized(double[] s, int[] ids, AdvantageConfig cfg) {
        double[] out = new double[s.length];
        for (List<Integer> g : groups(ids).values()) {
            int n = g.size();
            double s1 = 0;
            double s2 = 0;
            for (int i : g) {
                s1 += s[i];
                s2 += s[i] * s[i];
            }
            double mean = n <= 1 ? 0 : s1 / n;
            double std = n <= 1 ? 1 : Math.sqrt(Math.max((s2 - s1 * s1 / n) / Math.max(n - 1, 1), cfg.epsilon()));
            for (int i : g) {
                out[i] = cfg.normAdvByStdInGrpo() ? (s[i] - mean) / (std + cfg.epsilon()) : s[i] - mean;
            }
        }
        return out;
    }

    /**
     * GDPO with the token-level rewards as its only component, as verl's {@code compute_gdpo_outcome_advantage}
     * when no reward keys are configured: see {@link #gdpo(List, double[], AdvantageInput, AdvantageConfig)}.
     *
     * @throws IllegalArgumentException if group ids are missing or fewer than two tokens are unmasked
     */
    public static AdvantageResult gdpo(AdvantageInput in, AdvantageConfig cfg) {
        return gdpo(List.of(in.tokenLevelRewards()), new double[] {1.0}, in, cfg);
    }

    /**
     * GDPO, {@code compute_gdpo_outcome_advantage}: {@link #grpo} on each reward component separately (each a
     * {@code [batch, seq]} token-level reward, e.g. format and accuracy), the weighted sum of those advantages, then
     * {@link TensorFunctions#maskedWhiten whitened} over the whole batch's mask and multiplied by it. The input's own
     * token-level rewards are not used here.
     *
     * @throws IllegalArgumentException if there are no components, the weights do not match them, a component's
     *         shape differs from the mask, group ids are missing or fewer than two tokens are unmasked
     */
    public static AdvantageResult gdpo(List<BatchTensor> components, double[] weights, AdvantageInput in,
                                       AdvantageConfig cfg) {
        if (components.isEmpty() || components.size() != weights.length) {
            throw new IllegalArgumentException("GDPO needs one weight per reward component: components="
                    + components.size() + ", weights=" + weights.length);
        }
        BatchTensor m = in.responseMask();
        int[] ids = in.groupIds("gdpo");
        float[] sum = new float[m.count()];
        for (int c = 0; c < components.size(); c++) {
            BatchTensor part = components.get(c);
            m.requireSameShape("responseMask", part, "components[" + c + "]");
            AdvantageInput single = AdvantageInput.builder(part, m).groupIds(ids).build();
            BatchTensor a = grpo(single, cfg).advantages();
            for (int i = 0; i < sum.length; i++) {
                sum[i] = (float) (sum[i] + weights[c] * a.at(i));
            }
        }
        BatchTensor combined = BatchTensor.wrap(m.batch(), m.seq(), sum);
        BatchTensor adv = times(TensorFunctions.maskedWhiten(combined, m, true), m);
        return new AdvantageResult(adv, adv);
    }

    /**
     * Pass@k GRPO, {@code compute_grpo_passk_outcome_advantage}: only the best response of each group gets a non-zero
     * advantage, {@code r_max - r_second}, divided by {@code std_g + epsilon} when normalising. Ties for the maximum
     * go to the response that comes first in the batch.
     *
     * @throws IllegalArgumentException if group ids are missing or a group has fewer than two responses
     */
    public static AdvantageResult grpoPassK(AdvantageInput in, AdvantageConfig cfg) {
        double[] s = scores(in);
        int[] ids = in.groupIds("grpo_passk");
        double[] out = new double[s.length];
        for (Map.Entry<Integer, List<Integer>> e : groups(ids).entrySet()) {
            List<Integer> g = e.getValue();
            if (g.size() < 2) {
                throw new IllegalArgumentException("pass@k needs at least two responses per group: group="
                        + e.getKey() + ", responses=" + g.size());
            }
            int best = g.get(0);
            for (int i : g) {
                if (s[i] > s[best]) {
                    best = i;
                }
            }
            double second = Double.NEGATIVE_INFINITY;
            for (int i : g) {
                if (i != best) {
                    second = Math.max(second, s[i]);
                }
            }
            double a = s[best] - second;
            if (cfg.normAdvByStdInGrpo()) {
                a /= std(s, g, mean(s, g)) + cfg.epsilon();
            }
            out[best] = a;
        }
        return outcome(in, out);
    }

    /**
     * RLOO, {@code compute_rloo_outcome_advantage}: in a group of n > 1, {@code s * n/(n-1) - mean * n/(n-1)} (the
     * score minus the mean of the others); a group of one keeps its score.
     *
     * @throws IllegalArgumentException if group ids are missing
     */
    public static AdvantageResult rloo(AdvantageInput in, AdvantageConfig cfg) {
        return outcome(in, rloo(scores(in), in.groupIds("rloo")));
    }

    private static double[] rloo(double[] s, int[] ids) {
        double[] out = s.clone();
        for (List<Integer> g : groups(ids).values()) {
            int n = g.size();
            if (n > 1) {
                double mean = mean(s, g);
                for (int i : g) {
                    out[i] = s[i] * n / (n - 1) - mean * n / (n - 1);
                }
            }
        }
        return out;
    }

    /**
     * Vectorised RLOO, {@code compute_rloo_vectorized_outcome_advantage}: {@code (n * s - sum_g) / (n - 1)} for
     * groups of n > 1, and 0 (not the score, unlike {@link #rloo}) for a group of one.
     *
     * @throws IllegalArgumentException if group ids are missing
     */
    public static AdvantageResult rlooVectorized(AdvantageInput in, AdvantageConfig cfg) {
        return outcome(in, rlooVectorized(scores(in), in.groupIds("rloo_vectorized")));
    }

    private static double[] rlooVectorized(double[] s, int[] ids) {
        double[] out = new double[s.length];
        for (List<Integer> g : groups(ids).values()) {
            int n = g.size();
            double sum = 0;
            for (int i : g) {
                sum += s[i];
            }
            for (int i : g) {
                out[i] = n > 1 ? (n * s[i] - sum) / (n - 1) : 0;
            }
        }
        return out;
    }

    /**
     * OPO, {@code compute_opo_outcome_advantage}: the baseline of a group of n > 1 is the length-weighted mean score
     * {@code sum(len * s) / sum(len)} with {@code len} the unmasked length; a group of one has baseline 0. A group
     * whose responses are all empty divides 0 by 0 (NaN), as verl.
     *
     * @throws IllegalArgumentException if group ids are missing
     */
    public static AdvantageResult opo(AdvantageInput in, AdvantageConfig cfg) {
        double[] s = scores(in);
        double[] len = TensorFunctions.rowCounts(in.responseMask());
        double[] out = new double[s.length];
        for (List<Integer> g : groups(in.groupIds("opo")).values()) {
            double baseline = 0;
            if (g.size() > 1) {
                double num = 0;
                double den = 0;
                for (int i : g) {
                    num += len[i] * s[i];
                    den += len[i];
                }
                baseline = num / den;
            }
            for (int i : g) {
                out[i] = s[i] - baseline;
            }
        }
        return outcome(in, out);
    }

    /**
     * GPG, {@code compute_gpg_outcome_advantage}: {@code alpha * (s - mean_g) / f_norm} with
     * {@code alpha = batch / max(1, count of non-zero scores)} and {@code f_norm = 1} (verl's trainer never passes
     * another); a group of one has mean 0.
     *
     * @throws IllegalArgumentException if group ids are missing
     */
    public static AdvantageResult gpg(AdvantageInput in, AdvantageConfig cfg) {
        double[] s = scores(in);
        int nonZero = 0;
        for (double x : s) {
            if (x != 0) {
                nonZero++;
            }
        }
        double alpha = (double) s.length / Math.max(nonZero, 1);
        double fNorm = 1.0;
        double[] out = new double[s.length];
        for (List<Integer> g : groups(in.groupIds("gpg")).values()) {
            double mean = g.size() == 1 ? 0 : mean(s, g);
            for (int i : g) {
                out[i] = alpha * (s[i] - mean) / fNorm;
            }
        }
        return outcome(in, out);
    }

    /**
     * REINFORCE++, {@code compute_reinforce_plus_plus_outcome_advantage}: discounted returns
     * {@code G_t = r_t + gamma * G_{t+1}} with the running return reset to 0 at masked positions, whitened over the
     * mask and multiplied by it; returns are the unwhitened {@code G}.
     *
     * @throws IllegalArgumentException if fewer than two tokens are unmasked
     */
    public static AdvantageResult reinforcePlusPlus(AdvantageInput in, AdvantageConfig cfg) {
        return reinforcePlusPlus(in, cfg, BatchShard.whole(in.tokenLevelRewards().batch()));
    }

    private static AdvantageResult reinforcePlusPlus(AdvantageInput in, AdvantageConfig cfg, BatchShard shard) {
        BatchTensor r = in.tokenLevelRewards();
        BatchTensor m = in.responseMask();
        int seq = r.seq();
        float[] ret = new float[r.count()];
        for (int b = 0; b < r.batch(); b++) {
            double running = 0;
            for (int t = seq - 1; t >= 0; t--) {
                int i = b * seq + t;
                running = r.at(i) + cfg.gamma() * running;
                ret[i] = (float) running;
                running *= m.at(i);
            }
        }
        BatchTensor returns = BatchTensor.wrap(r.batch(), seq, ret);
        return new AdvantageResult(times(TensorFunctions.maskedWhiten(returns, m, true, shard), m), returns);
    }

    /**
     * REINFORCE++ with a group baseline, {@code compute_reinforce_plus_plus_baseline_outcome_advantage}:
     * {@code s - mean_g} (0 for a group of one) broadcast over the mask, whitened over the whole batch's mask and
     * multiplied by it. Returns equal advantages.
     *
     * @throws IllegalArgumentException if group ids are missing or fewer than two tokens are unmasked
     */
    public static AdvantageResult reinforcePlusPlusBaseline(AdvantageInput in, AdvantageConfig cfg) {
        return reinforcePlusPlusBaseline(in, BatchShard.whole(in.tokenLevelRewards().batch()));
    }

    private static AdvantageResult reinforcePlusPlusBaseline(AdvantageInput in, BatchShard shard) {
        String name = "reinforce_plus_plus_baseline";
        double[] mine = shard.mine(reinforcePlusPlusBaseline(wholeScores(in, shard),
                wholeGroupIds(in, name, shard)), 1);
        BatchTensor m = in.responseMask();
        BatchTensor tiled = outcome(in, mine).advantages();
        BatchTensor adv = times(TensorFunctions.maskedWhiten(tiled, m, true, shard), m);
        return new AdvantageResult(adv, adv);
    }

    private static double[] reinforcePlusPlusBaseline(double[] s, int[] ids) {
        double[] out = new double[s.length];
        for (List<Integer> g : groups(ids).values()) {
            double mean = g.size() == 1 ? 0 : mean(s, g);
            for (int i : g) {
                out[i] = s[i] - mean;
            }
        }
        return out;
    }

    /**
     * ReMax, {@code compute_remax_outcome_advantage}: returns {@code G_t = sum_{s >= t} r_s * m_s} and advantages
     * {@code G_t - baseline_b * m_t}, where the baseline is the reward of the greedy response.
     *
     * @throws IllegalArgumentException if reward baselines are missing
     */
    public static AdvantageResult remax(AdvantageInput in, AdvantageConfig cfg) {
        BatchTensor m = in.responseMask();
        float[] base = in.rewardBaselines("remax");
        BatchTensor ret = rewardToGo(in.tokenLevelRewards(), m);
        int seq = m.seq();
        float[] adv = new float[m.count()];
        for (int i = 0; i < adv.length; i++) {
            adv[i] = (float) (ret.at(i) - (double) base[i / seq] * m.at(i));
        }
        return new AdvantageResult(BatchTensor.wrap(m.batch(), seq, adv), ret);
    }

    /**
     * Optimal token baseline, {@code compute_optimal_token_baseline_advantage} (single turn, handle_zero_tail off):
     * see {@link #optimalTokenBaseline(AdvantageInput, boolean)}.
     *
     * @throws IllegalArgumentException if group ids, old log-probs or sum_pi_squared are missing
     */
    public static AdvantageResult optimalTokenBaseline(AdvantageInput in, AdvantageConfig cfg) {
        return optimalTokenBaseline(in, false);
    }

    /**
     * Optimal token baseline, {@code compute_optimal_token_baseline_advantage}: with returns
     * {@code G_t = sum_{s >= t} r_s m_s}, per-token weight {@code w_t = 1 - 2 exp(oldLogProb_t) + sumPiSquared_t}
     * (times {@code isWeight_t^2} when rollout weights are given) and cumulative {@code W_t = sum_{s <= t} w_s m_s},
     * each position t of a group of n > 1 gets the baseline {@code B_t = sum_i G_it W_it m_it / (sum_i W_it m_it +
     * 1e-8)}; a group of one gets 0. Advantages are {@code (G - B) * m}. With handleZeroTail, the positions of a
     * group's unique longest response past the second-longest length get baseline 0.
     *
     * @throws IllegalArgumentException if group ids, old log-probs or sum_pi_squared are missing
     */
    public static AdvantageResult optimalTokenBaseline(AdvantageInput in, boolean handleZeroTail) {
        String name = "optimal_token_baseline";
        BatchTensor m = in.responseMask();
        int seq = m.seq();
        BatchTensor ret = rewardToGo(in.tokenLevelRewards(), m);
        double[] wCum = cumulativeVariance(in, name);
        double[] len = TensorFunctions.rowCounts(m);
        double[] base = new double[m.count()];
        for (List<Integer> g : groups(in.groupIds(name)).values()) {
            if (g.size() == 1) {
                continue;
            }
            for (int t = 0; t < seq; t++) {
                double num = 0;
                double den = 0;
                for (int b : g) {
                    int i = b * seq + t;
                    num += ret.at(i) * wCum[i] * m.at(i);
                    den += wCum[i] * m.at(i);
                }
                double bt = num / (den + OTB_EPSILON);
                for (int b : g) {
                    base[b * seq + t] = bt;
                }
            }
            if (handleZeroTail) {
                zeroTail(g, len, base, seq);
            }
        }
        float[] adv = new float[m.count()];
        for (int i = 0; i < adv.length; i++) {
            adv[i] = (float) ((ret.at(i) - base[i]) * m.at(i));
        }
        return new AdvantageResult(BatchTensor.wrap(m.batch(), seq, adv), ret);
    }

    /**
     * Multi-turn optimal token baseline, {@code compute_multi_turn_optimal_token_baseline_advantage} (handle_zero_tail
     * on): see {@link #multiTurnOptimalTokenBaseline(AdvantageInput, boolean)}.
     *
     * @throws IllegalArgumentException if group ids, old log-probs or sum_pi_squared are missing
     */
    public static AdvantageResult multiTurnOptimalTokenBaseline(AdvantageInput in, AdvantageConfig cfg) {
        return multiTurnOptimalTokenBaseline(in, true);
    }

    /**
     * Multi-turn optimal token baseline, {@code compute_multi_turn_optimal_token_baseline_advantage}: as
     * {@link #optimalTokenBaseline(AdvantageInput, boolean)} but each response's unmasked positions (its own turns,
     * with tool output masked out) are packed to the left first, so the k-th generated token of every response in a
     * group shares a baseline, {@code B_k = sum_i G_ik W_ik / (sum_i W_ik + 1e-8)} over the responses, padded with 0
     * past their length. Empty responses are skipped; advantages are scattered back and multiplied by the mask.
     *
     * @throws IllegalArgumentException if group ids, old log-probs or sum_pi_squared are missing
     */
    public static AdvantageResult multiTurnOptimalTokenBaseline(AdvantageInput in, boolean handleZeroTail) {
        String name = "tir_optimal_token_baseline";
        BatchTensor m = in.responseMask();
        int batch = m.batch();
        int seq = m.seq();
        BatchTensor ret = rewardToGo(in.tokenLevelRewards(), m);
        double[] wCum = cumulativeVariance(in, name);
        int[] ids = in.groupIds(name);
        double[] len = TensorFunctions.rowCounts(m);
        int maxLen = 0;
        for (double l : len) {
            maxLen = Math.max(maxLen, (int) l);
        }
        double[] packedW = new double[batch * maxLen];
        double[] packedG = new double[batch * maxLen];
        for (int b = 0; b < batch; b++) {
            int k = 0;
            for (int t = 0; t < seq; t++) {
                int i = b * seq + t;
                if (m.at(i) != 0f) {
                    packedW[b * maxLen + k] = wCum[i];
                    packedG[b * maxLen + k] = ret.at(i);
                    k++;
                }
            }
        }
        Map<Integer, List<Integer>> groups = new LinkedHashMap<>();
        for (int b = 0; b < batch; b++) {
            if (len[b] > 0) {
                groups.computeIfAbsent(ids[b], x -> new ArrayList<>()).add(b);
            }
        }
        double[] base = new double[batch * maxLen];
        for (List<Integer> g : groups.values()) {
            if (g.size() == 1) {
                continue;
            }
            for (int k = 0; k < maxLen; k++) {
                double num = 0;
                double den = 0;
                for (int b : g) {
                    num += packedG[b * maxLen + k] * packedW[b * maxLen + k];
                    den += packedW[b * maxLen + k];
                }
                double bk = num / (den + OTB_EPSILON);
                for (int b : g) {
                    base[b * maxLen + k] = bk;
                }
            }
            if (handleZeroTail) {
                zeroTail(g, len, base, maxLen);
            }
        }
        float[] adv = new float[m.count()];
        for (int b = 0; b < batch; b++) {
            if (len[b] == 0) {
                continue;
            }
            int k = 0;
            for (int t = 0; t < seq; t++) {
                int i = b * seq + t;
                if (m.at(i) != 0f) {
                    adv[i] = (float) ((packedG[b * maxLen + k] - base[b * maxLen + k]) * m.at(i));
                    k++;
                }
            }
        }
        return new AdvantageResult(BatchTensor.wrap(batch, seq, adv), ret);
    }

    private static void zeroTail(List<Integer> g, double[] len, double[] base, int width) {
        double max = Double.NEGATIVE_INFINITY;
        double second = Double.NEGATIVE_INFINITY;
        int argMax = -1;
        int atMax = 0;
        for (int b : g) {
            if (len[b] > max) {
                second = max;
                max = len[b];
                argMax = b;
                atMax = 1;
            } else if (len[b] == max) {
                atMax++;
                second = max;
            } else if (len[b] > second) {
                second = len[b];
            }
        }
        if (atMax == 1 && max > second) {
            for (int k = (int) second; k < width; k++) {
                base[argMax * width + k] = 0;
            }
        }
    }

    private static double[] cumulativeVariance(AdvantageInput in, String name) {
        BatchTensor m = in.responseMask();
        BatchTensor old = in.oldLogProbs(name);
        BatchTensor piSq = in.sumPiSquared(name);
        BatchTensor is = in.rolloutIsWeightsOrNull();
        int seq = m.seq();
        double[] w = new double[m.count()];
        for (int b = 0; b < m.batch(); b++) {
            double cum = 0;
            for (int t = 0; t < seq; t++) {
                int i = b * seq + t;
                double wt = 1 - 2 * Math.exp(old.at(i)) + piSq.at(i);
                if (is != null) {
                    wt *= (double) is.at(i) * is.at(i);
                }
                cum += wt * m.at(i);
                w[i] = cum;
            }
        }
        return w;
    }

    /** {@code flip(cumsum(flip(r * m)))}. */
    static BatchTensor rewardToGo(BatchTensor r, BatchTensor m) {
        int seq = r.seq();
        float[] out = new float[r.count()];
        for (int b = 0; b < r.batch(); b++) {
            double run = 0;
            for (int t = seq - 1; t >= 0; t--) {
                int i = b * seq + t;
                run += (double) r.at(i) * m.at(i);
                out[i] = (float) run;
            }
        }
        return BatchTensor.wrap(r.batch(), seq, out);
    }

    /** The estimators {@link #estimate(String, AdvantageInput, AdvantageConfig, BatchShard)} runs on a spread batch. */
    public static final List<String> SHARDABLE = List.of("gae", "grpo", "grpo_vectorized", "rloo", "rloo_vectorized",
            "reinforce_plus_plus", "reinforce_plus_plus_baseline", "remax");

    /**
     * The estimator {@code name} over a batch spread over ranks: {@code in} holds this rank's rows (group ids and
     * reward baselines of those rows too), and the result is this rank's rows of what the estimator gives on the
     * whole batch. Row-local work stays on the rank; the batch-wide quantities are reduced from per-row values
     * gathered over the shard (group statistics from every row's score and group id, whitening from per-row sums),
     * so the advantages are bit for bit those of the whole-batch function on one rank, for any spread of the rows.
     * Collective over the shard's ranks: every rank calls it with the same name and config.
     *
     * @throws IllegalArgumentException if the estimator is not in {@link #SHARDABLE}, an input it needs is missing,
     *         fewer than two tokens of the whole batch are unmasked (whitening estimators), or {@code in} does not
     *         hold the shard's local rows
     */
    public static AdvantageResult estimate(String name, AdvantageInput in, AdvantageConfig cfg, BatchShard shard) {
        shard.requireLocal("tokenLevelRewards", in.tokenLevelRewards());
        return switch (name) {
            case "gae" -> gae(in, cfg, shard);
            case "grpo" -> outcome(in, shard.mine(grpo(wholeScores(in, shard), wholeGroupIds(in, name, shard), cfg),
                    1));
            case "grpo_vectorized" -> outcome(in, shard.mine(grpoVectorized(wholeScores(in, shard),
                    wholeGroupIds(in, name, shard), cfg), 1));
            case "rloo" -> outcome(in, shard.mine(rloo(wholeScores(in, shard), wholeGroupIds(in, name, shard)), 1));
            case "rloo_vectorized" -> outcome(in, shard.mine(rlooVectorized(wholeScores(in, shard),
                    wholeGroupIds(in, name, shard)), 1));
            case "reinforce_plus_plus" -> reinforcePlusPlus(in, cfg, shard);
            case "reinforce_plus_plus_baseline" -> reinforcePlusPlusBaseline(in, shard);
            case "remax" -> remax(in, cfg);
            default -> throw new IllegalArgumentException("advantage estimator does not run on a batch spread over "
                    + "ranks: estimator=" + name + ", expected one of " + SHARDABLE);
        };
    }

    /** Every row's score ({@link #scores}), in batch order, from this rank's rows. */
    private static double[] wholeScores(AdvantageInput in, BatchShard shard) {
        return shard.allRows(scores(in), 1);
    }

    /** Every row's group id, in batch order, from this rank's rows (ids travel as doubles, exact for ints). */
    private static int[] wholeGroupIds(AdvantageInput in, String name, BatchShard shard) {
        int[] mine = in.groupIds(name);
        double[] asDoubles = new double[mine.length];
        for (int k = 0; k < mine.length; k++) {
            asDoubles[k] = mine[k];
        }
        double[] all = shard.allRows(asDoubles, 1);
        int[] ids = new int[all.length];
        for (int k = 0; k < all.length; k++) {
            ids[k] = (int) all[k];
        }
        return ids;
    }

    /** Per-sequence score: the sum of token-level rewards over all positions. */
    static double[] scores(AdvantageInput in) {
        BatchTensor r = in.tokenLevelRewards();
        double[] s = new double[r.batch()];
        int seq = r.seq();
        for (int i = 0; i < r.count(); i++) {
            s[i / seq] += r.at(i);
        }
        return s;
    }

    /** Group members by id, groups in order of first appearance. */
    static Map<Integer, List<Integer>> groups(int[] ids) {
        Map<Integer, List<Integer>> g = new LinkedHashMap<>();
        for (int i = 0; i < ids.length; i++) {
            g.computeIfAbsent(ids[i], k -> new ArrayList<>()).add(i);
        }
        return g;
    }

    static double mean(double[] s, List<Integer> g) {
        double sum = 0;
        for (int i : g) {
            sum += s[i];
        }
        return sum / g.size();
    }

    /** Unbiased standard deviation ({@code torch.std}); NaN for a single element. */
    static double std(double[] s, List<Integer> g, double mean) {
        double ss = 0;
        for (int i : g) {
            double c = s[i] - mean;
            ss += c * c;
        }
        return Math.sqrt(ss / (g.size() - 1));
    }

    /** {@code scalar.unsqueeze(-1) * mask}. */
    private static AdvantageResult outcome(AdvantageInput in, double[] perSequence) {
        BatchTensor m = in.responseMask();
        int seq = m.seq();
        float[] adv = new float[m.count()];
        for (int i = 0; i < adv.length; i++) {
            adv[i] = (float) (perSequence[i / seq] * m.at(i));
        }
        BatchTensor a = BatchTensor.wrap(m.batch(), seq, adv);
        return new AdvantageResult(a, a);
    }

    static BatchTensor times(BatchTensor x, BatchTensor m) {
        float[] out = new float[x.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = x.at(i) * m.at(i);
        }
        return BatchTensor.wrap(x.batch(), x.seq(), out);
    }
}
