package io.yatt.trainer.loop;

import io.yatt.trainer.algo.AdvantageConfig;
import io.yatt.trainer.algo.AdvantageInput;
import io.yatt.trainer.algo.AdvantageResult;
import io.yatt.trainer.algo.AlgorithmRegistry;
import io.yatt.trainer.algo.BatchTensor;
import io.yatt.trainer.algo.KlController;
import io.yatt.trainer.algo.KlPenalty;
import io.yatt.trainer.algo.KlRewardResult;
import io.yatt.trainer.algo.KlRewards;
import io.yatt.trainer.algo.LagrangeMultiplier;
import io.yatt.trainer.algo.SafeRlhf;
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
 * One PPO step's batch as every trainer rank holds it: the prompts (drawn on the rank from the sampler position the
 * controller names), the rollout's responses, the roles' log-probs and values, the scores, and the rewards and
 * advantages computed from them. Every rank holds the same arrays (the roles' rows are all-gathered over the world,
 * {@link WorldRows}), so every rank computes the batch-global quantities (KL, whitening, group baselines, the
 * Lagrange multiplier's update) on the same arrays in the same order as one process would, and keeps the rows its
 * DP rank trains on; a controller sends sampler positions and coefficients and gets scalars back, whatever the batch
 * size. Arrays are row-major {@code [samples, R]} (responses right-padded) or {@code [samples, P + R]} (prompt
 * left-padded). Mutable; confined to the rank's call thread.
 */
final class StepBatch {
    final long step;
    final RlhfLoop.Shape shape;
    /** The step's prompts, index into the task's training prompts, {@code n} samples each. */
    final int[] promptIdx;
    /** Sample {@code i}'s prompt tokens (those of prompt {@code i / n}). */
    final List<int[]> promptIds;
    final int[] tokens;
    final int[] mask;
    final float[] responseMask;
    final int[] responses;
    final int[] lengths;
    final float[] rolloutLogProbs;
    float[] oldLogProbs;
    float[] refLogProbs;
    float[] values;
    float[] costValues;
    double[] score;
    double[] cost;
    /** ReMax: the greedy response per prompt ({@code [batchPrompts, R]}), its length and its score. */
    private int[] baselineResponses;
    private int[] baselineLengths;
    double[] baselineScores;
    float[] advantages;
    float[] returns;
    float[] costReturns;

    private StepBatch(long step, RlhfLoop.Shape shape, int[] promptIdx, List<int[]> promptIds, int[] responses,
                      int[] lengths, float[] rolloutLogProbs) {
        int samples = shape.samples();
        int resp = shape.responseLen();
        int tt = shape.tt();
        if (responses.length != samples * resp || lengths.length != samples
                || rolloutLogProbs.length != samples * resp) {
            throw new IllegalArgumentException("rollout does not fit the step's batch: responses="
                    + responses.length + ", lengths=" + lengths.length + ", logProbs=" + rolloutLogProbs.length
                    + ", expected samples=" + samples + " x responseLength=" + resp);
        }
        this.step = step;
        this.shape = shape;
        this.promptIdx = promptIdx;
        this.promptIds = promptIds;
        this.responses = responses;
        this.lengths = lengths;
        this.rolloutLogProbs = rolloutLogProbs;
        this.tokens = new int[samples * tt];
        this.mask = new int[samples * tt];
        this.responseMask = new float[samples * resp];
        for (int i = 0; i < samples; i++) {
            int[] p = promptIds.get(i);
            for (int j = 0; j < p.length; j++) {
                tokens[i * tt + shape.promptLen() - p.length + j] = p[j];
                mask[i * tt + shape.promptLen() - p.length + j] = 1;
            }
            if (lengths[i] < 0 || lengths[i] > resp) {
                throw new IllegalArgumentException("response length out of range: sample=" + i + ", length="
                        + lengths[i] + ", responseLength=" + resp);
            }
            for (int j = 0; j < lengths[i]; j++) {
                tokens[i * tt + shape.promptLen() + j] = responses[i * resp + j];
                mask[i * tt + shape.promptLen() + j] = 1;
                responseMask[i * resp + j] = 1f;
            }
        }
    }

    /**
     * The batch of step {@code step}: its prompts ({@code promptIdx}, {@code n} samples each, with their token ids
     * sample by sample) and the rollout's responses ({@code [samples, R]}, 0 after each length) and their log-probs.
     *
     * @throws IllegalArgumentException if the rollout does not fit the batch's shape
     */
    static StepBatch of(long step, RlhfLoop.Shape shape, int[] promptIdx, List<int[]> promptIds, int[] responses,
                        int[] lengths, float[] rolloutLogProbs) {
        return new StepBatch(step, shape, promptIdx, promptIds, responses, lengths, rolloutLogProbs);
    }

    /** The step's prompt indices: {@code batchPrompts} drawn from {@code drawnFrom}. */
    static int[] prompts(RlhfLoop.Shape shape, Task task, long dataSeed, PromptSampler.State drawnFrom) {
        return PromptSampler.restore(task.trainPrompts().size(), dataSeed, drawnFrom).next(shape.batchPrompts());
    }

    /** Sample by sample ({@code n} per prompt), the prompts' token ids. */
    static List<int[]> promptIds(RlhfLoop.Shape shape, Task task, int[] promptIdx) {
        List<int[]> ids = new ArrayList<>(shape.samples());
        for (int i = 0; i < shape.samples(); i++) {
            ids.add(task.tokenizer().encodePrompt(task.trainPrompts().get(promptIdx[i / shape.n()]).text()));
        }
        return ids;
    }

    /** ReMax: the greedy responses, one per prompt ({@code [batchPrompts, R]}), and their lengths. */
    void baselineRollout(int[] responses, int[] lengths) {
        if (responses.length != shape.batchPrompts() * shape.responseLen() || lengths.length != shape.batchPrompts()) {
            throw new IllegalArgumentException("baseline rollout does not fit the step's prompts: responses="
                    + responses.length + ", lengths=" + lengths.length + ", expected prompts=" + shape.batchPrompts()
                    + " x responseLength=" + shape.responseLen());
        }
        baselineResponses = responses;
        baselineLengths = lengths;
    }

    boolean hasBaselineRollout() {
        return baselineResponses != null;
    }

    /** The task's score and cost of prompt {@code p}'s greedy baseline response. */
    Task.Scored baselineScored(Task task, int p) {
        int resp = shape.responseLen();
        int[] r = java.util.Arrays.copyOfRange(baselineResponses, p * resp, p * resp + baselineLengths[p]);
        return task.score(task.trainPrompts().get(promptIdx[p]), r, 0, r.length);
    }

    /** Response {@code i} without its padding. */
    int[] response(int i) {
        int resp = shape.responseLen();
        return java.util.Arrays.copyOfRange(responses, i * resp, i * resp + lengths[i]);
    }

    /** The task's score and cost of sample {@code i}'s response. */
    Task.Scored scored(Task task, int i) {
        return task.score(task.trainPrompts().get(promptIdx[i / shape.n()]), response(i), 0, lengths[i]);
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
        int samples = shape.samples();
        int resp = shape.responseLen();
        require(oldLogProbs, "old_log_probs");
        require(refLogProbs, "ref_log_probs");
        require(score, "score");
        BatchTensor rmask = BatchTensor.of(samples, resp, responseMask);
        float[] scores = new float[samples * resp];
        float[] costs = new float[samples * resp];
        for (int i = 0; i < samples; i++) {
            int lastTok = Math.max(0, lengths[i] - 1);
            scores[i * resp + lastTok] = (float) score[i];
            costs[i * resp + lastTok] = (float) cost[i];
        }
        BatchTensor old = BatchTensor.of(samples, resp, oldLogProbs);
        BatchTensor refLp = BatchTensor.of(samples, resp, refLogProbs);
        BatchTensor tokenScores = BatchTensor.of(samples, resp, scores);
        BatchTensor tokenRewards = tokenScores;
        Map<String, Double> out = new LinkedHashMap<>();
        if (alg.useKlInReward()) {
            KlRewardResult kr = KlRewards.applyKlPenalty(tokenScores, old, refLp, rmask, KlController.fixed(klCoef),
                    KlPenalty.fromName(alg.klPenalty().configName()));
            tokenRewards = kr.tokenLevelRewards();
            out.put("current_kl", kr.currentKl());
        }
        AdvantageConfig ac = AdvantageConfig.DEFAULTS.withGammaLam(alg.gamma(), alg.lam())
                .withNormAdvByStd(alg.normAdvByStdInGrpo());
        AdvantageInput.Builder in = AdvantageInput.builder(tokenRewards, rmask);
        BatchTensor valuesT = values == null ? null : BatchTensor.of(samples, resp, values);
        if (valuesT != null) {
            in.values(valuesT);
        }
        int[] groups = new int[samples];
        for (int i = 0; i < samples; i++) {
            groups[i] = i / shape.n();
        }
        in.groupIds(groups);
        if (alg.advEstimator() == AdvantageEstimator.REMAX) {
            require(baselineScores, "baseline_scores");
            float[] base = new float[samples];
            for (int i = 0; i < samples; i++) {
                base[i] = (float) baselineScores[i / shape.n()];
            }
            in.rewardBaselines(base);
        }
        AdvantageResult adv;
        AdvantageResult cadv = null;
        BatchTensor adva;
        if (alg.advEstimator() == AdvantageEstimator.SAFE_RLHF) {
            require(costValues, "cost_values");
            adv = AlgorithmRegistry.advantageEstimator("gae").estimate(in.build(), ac);
            // the cost critic's values: GAE on the costs, whitened as the reward's
            cadv = SafeRlhf.costAdvantages(BatchTensor.of(samples, resp, costs),
                    BatchTensor.of(samples, resp, costValues), rmask, alg.gamma(), alg.lam(), true);
            TrainConfig.SafeRlhf safe = alg.safeRlhf();
            LagrangeMultiplier lagrange = LagrangeMultiplier.restore(logLambda, safe.lagrangeLr(), safe.costLimit(),
                    Double.MAX_VALUE);
            double lambda = lagrange.update(cost);
            adva = SafeRlhf.combinedAdvantages(adv.advantages(), cadv.advantages(), lambda);
            out.put("log_lambda", lagrange.logLambda());
            out.put("lambda", lambda);
            costReturns = cadv.returns().toArray();
        } else {
            adv = AlgorithmRegistry.advantageEstimator(alg.advEstimator().configName()).estimate(in.build(), ac);
            adva = adv.advantages();
        }
        advantages = adva.toArray();
        returns = adv.returns() == null ? null : adv.returns().toArray();

        double[] lengthsD = new double[samples];
        double tokensTotal = 0;
        for (int i = 0; i < samples; i++) {
            lengthsD[i] = lengths[i];
        }
        for (int i = 0; i < samples; i++) {
            tokensTotal += promptIds.get(i).length + lengthsD[i];
        }
        MetricsTracker m = MetricsTracker.create();
        m.recordStats("critic/score", score);
        m.record(MetricNames.REWARDS_MEAN, sumPerRow(tokenRewards));
        m.record(MetricNames.ADVANTAGES_MEAN, RlhfLoop.maskedMean(adva, rmask));
        if (valuesT != null) {
            m.record(MetricNames.VALUES_MEAN, RlhfLoop.maskedMean(valuesT, rmask));
            m.record(MetricNames.RETURNS_MEAN, RlhfLoop.maskedMean(adv.returns(), rmask));
        }
        if (cadv != null) {
            m.record(RlhfLoop.COST_VALUES_MEAN, RlhfLoop.maskedMean(BatchTensor.of(samples, resp, costValues), rmask));
            m.record(RlhfLoop.COST_RETURNS_MEAN, RlhfLoop.maskedMean(cadv.returns(), rmask));
        }
        m.record(MetricNames.COST_MEAN, mean(cost));
        m.recordStats("response_length", lengthsD);
        m.record(RlhfLoop.ROLLOUT_PROBS_DIFF_MAX, rolloutDiffMax());
        m.record(MetricNames.TOTAL_NUM_TOKENS, tokensTotal);
        out.putAll(m.commit(step).values());
        return out;
    }

    /** The largest {@code |log p_gen - log p_train|} over all response tokens; rounding only. */
    double rolloutDiffMax() {
        int resp = shape.responseLen();
        double max = 0;
        for (int i = 0; i < lengths.length; i++) {
            for (int j = 0; j < lengths[i]; j++) {
                max = Math.max(max, Math.abs((double) rolloutLogProbs[i * resp + j] - oldLogProbs[i * resp + j]));
            }
        }
        return max;
    }

    private static double sumPerRow(BatchTensor x) {
        double sum = 0;
        for (float v : x.toArray()) {
            sum += v;
        }
        return sum / x.batch();
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
