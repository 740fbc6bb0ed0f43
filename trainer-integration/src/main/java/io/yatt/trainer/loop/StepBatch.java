package io.yatt.trainer.loop;

import io.yatt.trainer.algo.AdvantageConfig;
import io.yatt.trainer.algo.AdvantageInput;
import io.yatt.trainer.algo.AdvantageResult;
import io.yatt.trainer.algo.AdvantageEstimators;
import io.yatt.trainer.algo.BatchShard;
import io.yatt.trainer.algo.BatchTensor;
import io.yatt.trainer.algo.KlController;
import io.yatt.trainer.algo.KlPenalty;
import io.yatt.trainer.algo.KlRewardResult;
import io.yatt.trainer.algo.KlRewards;
import io.yatt.trainer.algo.LagrangeMultiplier;
import io.yatt.trainer.algo.SafeRlhf;
import io.yatt.trainer.algo.TensorFunctions;
import io.yatt.trainer.config.AdvantageEstimator;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.MetricsTracker;
import io.yatt.trainer.task.PromptSampler;
import io.yatt.trainer.task.Task;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One PPO step's batch as a trainer rank holds it: the rows its training DP rank trains on (for each mini-batch
 * {@code u}, rows {@code [u*mini + d*mini/D, u*mini + (d+1)*mini/D)}, in that order: the {@link BatchShard} of the
 * step) with their prompts, responses, the roles' log-probs and values, and the rewards and advantages computed from
 * them; and, for the whole batch, only per-sample scalars (every response's length, score and cost, ReMax's baseline
 * scores). The batch-wide quantities (KL, whitening, group baselines, the metrics' means) are reduced from per-row
 * values gathered over the rank's DP group in batch order, so every rank gets the numbers one process holding the
 * whole batch would, whatever the DP size; the Lagrange multiplier's update reads the per-sample costs every rank
 * holds. A rank holds {@code S/D} rows of {@code [P + R]} and {@code [R]} arrays, not {@code S}; a controller sends
 * sampler positions and coefficients and gets scalars back, whatever the batch size. Arrays are row-major
 * {@code [rows, R]} (responses right-padded) or {@code [rows, P + R]} (prompt left-padded). Mutable; confined to the
 * rank's call thread.
 */
final class StepBatch {
    final long step;
    final RlhfLoop.Shape shape;
    /** The step's prompts, index into the task's training prompts, {@code n} samples each. */
    final int[] promptIdx;
    /** The token count of each of the step's prompts (by prompt). */
    private final int[] promptTokens;
    /** Where the step's rows are: this rank's rows and the gather over its DP group. */
    final BatchShard shard;
    /** This rank's rows: their sample indices in the whole batch, in local order. */
    final int[] rows;
    /** Every sample's response length (the whole batch, by sample). */
    final int[] lengths;
    /** Local row {@code k}'s prompt tokens (those of prompt {@code rows[k] / n}). */
    final List<int[]> promptIds;
    final int[] tokens;
    final int[] mask;
    final float[] responseMask;
    final int[] responses;
    final float[] rolloutLogProbs;
    float[] oldLogProbs;
    float[] refLogProbs;
    float[] values;
    float[] costValues;
    /** Every sample's score and cost (the whole batch, by sample). */
    double[] score;
    double[] cost;
    /** ReMax: the greedy baseline rows this rank scores ({@code [k, R]}), the prompt of each (-1: padding). */
    private int[] baselinePrompts;
    private int[] baselineResponses;
    private int[] baselineLengths;
    /** ReMax: every prompt's baseline score (by prompt). */
    double[] baselineScores;
    float[] advantages;
    float[] returns;
    float[] costReturns;

    private StepBatch(long step, RlhfLoop.Shape shape, BatchShard shard, int[] promptIdx, int[] promptTokens,
                      List<int[]> promptIds, int[] responses, int[] lengths, float[] rolloutLogProbs) {
        int samples = shape.samples();
        int resp = shape.responseLen();
        int tt = shape.tt();
        int local = shard.localRows();
        if (shard.batch() != samples || promptIds.size() != local || responses.length != local * resp
                || lengths.length != samples || rolloutLogProbs.length != local * resp) {
            throw new IllegalArgumentException("rollout does not fit the step's batch: rows=" + shard.batch()
                    + ", localRows=" + local + ", prompts=" + promptIds.size() + ", responses=" + responses.length
                    + ", lengths=" + lengths.length + ", logProbs=" + rolloutLogProbs.length + ", expected samples="
                    + samples + " x responseLength=" + resp + " (" + local + " local rows)");
        }
        if (promptIdx.length != shape.batchPrompts() || promptTokens.length != shape.batchPrompts()) {
            throw new IllegalArgumentException("prompts do not fit the step's batch: prompts=" + promptIdx.length
                    + ", promptTokens=" + promptTokens.length + ", expected=" + shape.batchPrompts());
        }
        for (int i = 0; i < samples; i++) {
            if (lengths[i] < 0 || lengths[i] > resp) {
                throw new IllegalArgumentException("response length out of range: sample=" + i + ", length="
                        + lengths[i] + ", responseLength=" + resp);
            }
        }
        this.step = step;
        this.shape = shape;
        this.shard = shard;
        this.rows = shard.rows();
        this.promptIdx = promptIdx;
        this.promptTokens = promptTokens;
        this.promptIds = promptIds;
        this.responses = responses;
        this.lengths = lengths;
        this.rolloutLogProbs = rolloutLogProbs;
        this.tokens = new int[local * tt];
        this.mask = new int[local * tt];
        this.responseMask = new float[local * resp];
        for (int k = 0; k < local; k++) {
            int[] p = promptIds.get(k);
            for (int j = 0; j < p.length; j++) {
                tokens[k * tt + shape.promptLen() - p.length + j] = p[j];
                mask[k * tt + shape.promptLen() - p.length + j] = 1;
            }
            int length = lengths[rows[k]];
            for (int j = 0; j < length; j++) {
                tokens[k * tt + shape.promptLen() + j] = responses[k * resp + j];
                mask[k * tt + shape.promptLen() + j] = 1;
                responseMask[k * resp + j] = 1f;
            }
        }
    }

    /**
     * The batch of step {@code step} on the rank of {@code shard}: the step's prompts ({@code promptIdx},
     * {@code n} samples each, and each prompt's token count), this rank's rows of the rollout (their prompts' token
     * ids, responses {@code [rows, R]} with 0 after each length, and their log-probs) and every sample's response
     * length.
     *
     * @throws IllegalArgumentException if the rollout does not fit the batch's shape or the shard's rows
     */
    static StepBatch of(long step, RlhfLoop.Shape shape, BatchShard shard, int[] promptIdx, int[] promptTokens,
                        List<int[]> promptIds, int[] responses, int[] lengths, float[] rolloutLogProbs) {
        return new StepBatch(step, shape, shard, promptIdx, promptTokens, promptIds, responses, lengths,
                rolloutLogProbs);
    }

    /** The step's prompt indices: {@code batchPrompts} drawn from {@code drawnFrom}. */
    static int[] prompts(RlhfLoop.Shape shape, Task task, long dataSeed, PromptSampler.State drawnFrom) {
        return PromptSampler.restore(task.trainPrompts().size(), dataSeed, drawnFrom).next(shape.batchPrompts());
    }

    /** The prompts' token ids of the samples {@code rows}, in that order. */
    static List<int[]> promptIds(RlhfLoop.Shape shape, Task task, int[] promptIdx, int[] rows) {
        List<int[]> ids = new ArrayList<>(rows.length);
        for (int row : rows) {
            ids.add(task.tokenizer().encodePrompt(task.trainPrompts().get(promptIdx[row / shape.n()]).text()));
        }
        return ids;
    }

    /** The token count of each prompt of {@code promptIdx}. */
    static int[] promptTokens(Task task, int[] promptIdx) {
        int[] out = new int[promptIdx.length];
        for (int p = 0; p < promptIdx.length; p++) {
            out[p] = task.tokenizer().encodePrompt(task.trainPrompts().get(promptIdx[p]).text()).length;
        }
        return out;
    }

    /**
     * ReMax: the greedy baseline rows this rank scores ({@link #baselineScored}): {@code prompts[k]} is row
     * {@code k}'s prompt (by its index in the step's prompts, -1 for a padding row), {@code responses} its response
     * ({@code [k, R]}) and {@code lengths} its length. Every rank passes the same number of rows.
     *
     * @throws IllegalArgumentException if the rows do not fit together or a prompt is out of range
     */
    void baselineRows(int[] prompts, int[] responses, int[] lengths) {
        if (responses.length != prompts.length * shape.responseLen() || lengths.length != prompts.length) {
            throw new IllegalArgumentException("baseline rows do not fit together: prompts=" + prompts.length
                    + ", responses=" + responses.length + ", lengths=" + lengths.length + ", responseLength="
                    + shape.responseLen());
        }
        for (int k = 0; k < prompts.length; k++) {
            if (prompts[k] < -1 || prompts[k] >= shape.batchPrompts()) {
                throw new IllegalArgumentException("baseline prompt out of range: row=" + k + ", prompt=" + prompts[k]
                        + ", prompts=" + shape.batchPrompts());
            }
            if (lengths[k] < 0 || lengths[k] > shape.responseLen()) {
                throw new IllegalArgumentException("baseline length out of range: row=" + k + ", length="
                        + lengths[k] + ", responseLength=" + shape.responseLen());
            }
        }
        baselinePrompts = prompts;
        baselineResponses = responses;
        baselineLengths = lengths;
    }

    /** ReMax: the prompts of the baseline rows this rank scores (-1: padding); {@code null} without a baseline. */
    int[] baselinePrompts() {
        return baselinePrompts;
    }

    /** The task's score and cost of this rank's baseline row {@code k}. */
    Task.Scored baselineScored(Task task, int k) {
        int resp = shape.responseLen();
        int[] r = java.util.Arrays.copyOfRange(baselineResponses, k * resp, k * resp + baselineLengths[k]);
        return task.score(task.trainPrompts().get(promptIdx[baselinePrompts[k]]), r, 0, r.length);
    }

    /** Local row {@code k}'s response without its padding. */
    int[] response(int k) {
        int resp = shape.responseLen();
        return java.util.Arrays.copyOfRange(responses, k * resp, k * resp + lengths[rows[k]]);
    }

    /** The task's score and cost of local row {@code k}'s response. */
    Task.Scored scored(Task task, int k) {
        return task.score(task.trainPrompts().get(promptIdx[rows[k] / shape.n()]), response(k), 0,
                lengths[rows[k]]);
    }

    /**
     * Rewards (the task's score at each response's last token, minus the KL penalty when the algorithm puts it in
     * the reward) and advantages (and returns) of the configured estimator; Safe-RLHF also the cost critic's
     * advantages and the Lagrange multiplier's update. Returns the scalars the controller needs: the batch's KL
     * ({@code current_kl}, when in the reward), the multiplier's new {@code log_lambda} and {@code lambda}
     * (Safe-RLHF), and the step's batch metrics by their metric names.
     *
     * @param klCoef    the KL controller's coefficient for this step
     * @param logLambda Safe-RLHF's multiplier before this step's update (ignored otherwise)
     * @throws IllegalStateException if a role's result is missing
     */
    Map<String, Double> computeAdvantages(TrainConfig cfg, double klCoef, double logLambda) {
        TrainConfig.Algorithm alg = cfg.algorithm();
        int local = rows.length;
        int resp = shape.responseLen();
        require(oldLogProbs, "old_log_probs");
        require(refLogProbs, "ref_log_probs");
        require(score, "score");
        BatchTensor rmask = BatchTensor.of(local, resp, responseMask);
        float[] scores = new float[local * resp];
        float[] costs = new float[local * resp];
        for (int k = 0; k < local; k++) {
            int lastTok = Math.max(0, lengths[rows[k]] - 1);
            scores[k * resp + lastTok] = (float) score[rows[k]];
            costs[k * resp + lastTok] = (float) cost[rows[k]];
        }
        BatchTensor old = BatchTensor.of(local, resp, oldLogProbs);
        BatchTensor refLp = BatchTensor.of(local, resp, refLogProbs);
        BatchTensor tokenScores = BatchTensor.of(local, resp, scores);
        BatchTensor tokenRewards = tokenScores;
        Map<String, Double> out = new LinkedHashMap<>();
        if (alg.useKlInReward()) {
            KlRewardResult kr = KlRewards.applyKlPenalty(tokenScores, old, refLp, rmask, KlController.fixed(klCoef),
                    KlPenalty.fromName(alg.klPenalty().configName()), shard);
            tokenRewards = kr.tokenLevelRewards();
            out.put("current_kl", kr.currentKl());
        }
        AdvantageConfig ac = AdvantageConfig.DEFAULTS.withGammaLam(alg.gamma(), alg.lam())
                .withNormAdvByStd(alg.normAdvByStdInGrpo());
        AdvantageInput.Builder in = AdvantageInput.builder(tokenRewards, rmask);
        BatchTensor valuesT = values == null ? null : BatchTensor.of(local, resp, values);
        if (valuesT != null) {
            in.values(valuesT);
        }
        int[] groups = new int[local];
        for (int k = 0; k < local; k++) {
            groups[k] = rows[k] / shape.n();
        }
        in.groupIds(groups);
        if (alg.advEstimator() == AdvantageEstimator.REMAX) {
            require(baselineScores, "baseline_scores");
            float[] base = new float[local];
            for (int k = 0; k < local; k++) {
                base[k] = (float) baselineScores[rows[k] / shape.n()];
            }
            in.rewardBaselines(base);
        }
        AdvantageResult adv;
        AdvantageResult cadv = null;
        BatchTensor adva;
        if (alg.advEstimator() == AdvantageEstimator.SAFE_RLHF) {
            require(costValues, "cost_values");
            adv = AdvantageEstimators.estimate("gae", in.build(), ac, shard);
            // the cost critic's values: GAE on the costs, whitened as the reward's
            cadv = SafeRlhf.costAdvantages(BatchTensor.of(local, resp, costs),
                    BatchTensor.of(local, resp, costValues), rmask, alg.gamma(), alg.lam(), true, shard);
            TrainConfig.SafeRlhf safe = alg.safeRlhf();
            LagrangeMultiplier lagrange = LagrangeMultiplier.restore(logLambda, safe.lagrangeLr(), safe.costLimit(),
                    Double.MAX_VALUE);
            double lambda = lagrange.update(cost);
            adva = SafeRlhf.combinedAdvantages(adv.advantages(), cadv.advantages(), lambda);
            out.put("log_lambda", lagrange.logLambda());
            out.put("lambda", lambda);
            costReturns = cadv.returns().toArray();
        } else {
            adv = AdvantageEstimators.estimate(alg.advEstimator().configName(), in.build(), ac, shard);
            adva = adv.advantages();
        }
        advantages = adva.toArray();
        returns = adv.returns() == null ? null : adv.returns().toArray();

        int samples = shape.samples();
        double[] lengthsD = new double[samples];
        double tokensTotal = 0;
        for (int i = 0; i < samples; i++) {
            lengthsD[i] = lengths[i];
        }
        for (int i = 0; i < samples; i++) {
            tokensTotal += promptTokens[i / shape.n()] + lengthsD[i];
        }
        MetricsTracker m = MetricsTracker.create();
        m.recordStats("critic/score", score);
        m.record(MetricNames.REWARDS_MEAN, meanRowSum(tokenRewards));
        m.record(MetricNames.ADVANTAGES_MEAN, maskedMean(adva, rmask));
        if (valuesT != null) {
            m.record(MetricNames.VALUES_MEAN, maskedMean(valuesT, rmask));
            m.record(MetricNames.RETURNS_MEAN, maskedMean(adv.returns(), rmask));
        }
        if (cadv != null) {
            m.record(RlhfLoop.COST_VALUES_MEAN, maskedMean(BatchTensor.of(local, resp, costValues), rmask));
            m.record(RlhfLoop.COST_RETURNS_MEAN, maskedMean(cadv.returns(), rmask));
        }
        m.record(MetricNames.COST_MEAN, mean(cost));
        m.recordStats("response_length", lengthsD);
        m.record(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX, rolloutDiffMax());
        m.record(MetricNames.TOTAL_NUM_TOKENS, tokensTotal);
        m.record(MetricNames.STEP_BATCH_BYTES, heldBytes());
        out.putAll(m.commit(step).values());
        return out;
    }

    /**
     * The bytes of the arrays this batch holds now: its rows' arrays (prompt ids, tokens, masks, responses, the
     * roles' log-probs and values, advantages and returns) and the whole batch's per-sample scalars, counted from the
     * arrays themselves (element bytes, no object headers).
     */
    long heldBytes() {
        long ints = (long) promptIdx.length + promptTokens.length + lengths.length + rows.length + tokens.length
                + mask.length + responses.length + length(baselinePrompts) + length(baselineResponses)
                + length(baselineLengths);
        for (int[] p : promptIds) {
            ints += p.length;
        }
        long floats = (long) responseMask.length + rolloutLogProbs.length + length(oldLogProbs)
                + length(refLogProbs) + length(values) + length(costValues) + length(advantages) + length(returns)
                + length(costReturns);
        long doubles = (long) length(score) + length(cost) + length(baselineScores);
        return ints * Integer.BYTES + floats * Float.BYTES + doubles * Double.BYTES;
    }

    private static int length(int[] a) {
        return a == null ? 0 : a.length;
    }

    private static int length(float[] a) {
        return a == null ? 0 : a.length;
    }

    private static int length(double[] a) {
        return a == null ? 0 : a.length;
    }

    /** The largest {@code |log p_gen - log p_train|} over all response tokens of the whole batch; rounding only. */
    double rolloutDiffMax() {
        int resp = shape.responseLen();
        double[] mine = new double[rows.length];
        for (int k = 0; k < rows.length; k++) {
            for (int j = 0; j < lengths[rows[k]]; j++) {
                mine[k] = Math.max(mine[k], Math.abs((double) rolloutLogProbs[k * resp + j]
                        - oldLogProbs[k * resp + j]));
            }
        }
        double max = 0;
        for (double x : shard.allRows(mine, 1)) {
            max = Math.max(max, x);
        }
        return max;
    }

    /** The whole batch's mean over rows of each row's sum (every position), row sums added in batch order. */
    private double meanRowSum(BatchTensor x) {
        int seq = x.seq();
        double[] mine = new double[x.batch()];
        for (int k = 0; k < x.batch(); k++) {
            for (int t = 0; t < seq; t++) {
                mine[k] += x.get(k, t);
            }
        }
        double sum = 0;
        for (double s : shard.allRows(mine, 1)) {
            sum += s;
        }
        return sum / shard.batch();
    }

    /** The whole batch's masked mean, {@code sum / count} (0 when nothing is unmasked), as the metrics take it. */
    private double maskedMean(BatchTensor x, BatchTensor mask) {
        double[] totals = TensorFunctions.maskedTotals(x, mask, shard);
        return totals[1] == 0 ? 0 : totals[0] / totals[1];
    }

    private static double mean(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return x.length == 0 ? 0 : s / x.length;
    }

    private void require(Object array, String name) {
        if (array == null) {
            throw new IllegalStateException("step batch lacks a role's result: step=" + step + ", missing=" + name);
        }
    }
}
