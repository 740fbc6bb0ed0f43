package io.yatt.trainer.algo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Policy losses of verl's {@code verl/trainer/ppo/core_algos.py}, one static method each, registered in
 * {@link AlgorithmRegistry}. Each builds the per-token loss {@code L} and {@code dL/dlog_prob}, multiplies both by
 * the rollout importance weights when given, and aggregates them with the {@link LossAggMode}; the gradient is the
 * one autograd gives in verl, including its conventions at ties ({@code torch.maximum} and {@code torch.minimum}
 * split the gradient equally; a clamp passes it at its bounds). Stateless and thread-safe.
 */
public final class PolicyLosses {

    /** verl clamps {@code log_prob - old_log_prob} to this magnitude before {@code exp} (vanilla, SAPO, CISPO). */
    public static final double LOG_RATIO_CLAMP = 20.0;
    /** GSPO clamps the sequence log-ratio from above at this value. */
    public static final double GSPO_LOG_RATIO_MAX = 10.0;

    private PolicyLosses() {
    }

    /**
     * Vanilla PPO with dual clip, {@code compute_policy_loss_vanilla}: with {@code r = exp(clamp(lp - old, -20, 20))},
     * {@code L = max(-A r, -A clip(r, 1 - low, 1 + high))}, and for {@code A < 0} additionally
     * {@code min(L, -A c)}. {@code pgClipfrac} is the masked mean of {@code -A clip(r) > -A r};
     * {@code pgClipfracLower} that of {@code L > -A c} with {@code A < 0}; {@code ppoKl} is the masked mean of
     * {@code -clamp(lp - old)}.
     */
    public static PolicyLossResult vanilla(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        int n = in.logProb().count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] clipped = new float[n];
        float[] clippedLower = new float[n];
        float[] negKl = new float[n];
        double lo = 1 - cfg.clipRatioLow();
        double hi = 1 + cfg.clipRatioHigh();
        double c = cfg.clipRatioC();
        for (int i = 0; i < n; i++) {
            double x = (double) in.logProb().at(i) - in.oldLogProb().at(i);
            double xc = clamp(x, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
            double dxc = passes(x, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
            negKl[i] = (float) -xc;
            double r = Math.exp(xc);
            double a = in.advantages().at(i);
            double l1 = -a * r;
            double l2 = -a * clamp(r, lo, hi);
            double g1 = -a;
            double g2 = -a * passes(r, lo, hi);
            double clip1 = Math.max(l1, l2);
            double gClip1 = maxGrad(l1, g1, l2, g2);
            clipped[i] = l2 > l1 ? 1f : 0f;
            double l3 = -a * c;
            double clip2 = Math.min(l3, clip1);
            double gClip2 = minGrad(l3, 0, clip1, gClip1);
            clippedLower[i] = clip1 > l3 && a < 0 ? 1f : 0f;
            boolean negative = a < 0;
            loss[i] = (float) (negative ? clip2 : clip1);
            dLoss[i] = (float) ((negative ? gClip2 : gClip1) * r * dxc);
        }
        return finish(in, mode, cfg, loss, dLoss, mean(in, clipped), mean(in, negKl), mean(in, clippedLower));
    }

    /**
     * DPPO with a total-variation trust region, {@code compute_policy_loss_dppo_tv}: a token counts only while
     * {@code p - p_old <= high} (for {@code A > 0}) or {@code p - p_old >= -low} (otherwise), with
     * {@code p = exp(lp)}; then {@code L = -A * sg(min(r, c)) * lp} with {@code r = exp(clamp(lp - old, -20, 20))}
     * and {@code c = clipRatioC} (verl reads {@code clip_ratio_c}, which the actor config sets to 3).
     * {@code pgClipfrac} is the masked fraction of tokens outside the region, {@code pgClipfracLower} that of valid
     * tokens with {@code r > c}.
     */
    public static PolicyLossResult dppoTv(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        return dppo(in, mode, cfg, false);
    }

    /**
     * DPPO with a binary-KL trust region, {@code compute_policy_loss_dppo_kl}: with
     * {@code kl = p_old (old - lp) + (1 - p_old) log((1 - p_old + 1e-8) / (1 - p + 1e-8))}, a token counts while
     * {@code kl <= high or p <= p_old} (for {@code A > 0}) or {@code kl <= low or p >= p_old} (otherwise); the loss
     * and metrics are those of {@link #dppoTv}.
     */
    public static PolicyLossResult dppoKl(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        return dppo(in, mode, cfg, true);
    }

    private static PolicyLossResult dppo(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg,
                                         boolean binaryKl) {
        int n = in.logProb().count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] negKl = new float[n];
        float[] invalid = new float[n];
        float[] truncated = new float[n];
        double c = cfg.clipRatioC();
        for (int i = 0; i < n; i++) {
            double lp = in.logProb().at(i);
            double old = in.oldLogProb().at(i);
            double xc = clamp(lp - old, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
            negKl[i] = (float) -xc;
            double r = Math.exp(xc);
            double tr = Math.min(r, c);
            double p = Math.exp(lp);
            double pOld = Math.exp(old);
            double a = in.advantages().at(i);
            boolean valid;
            if (binaryKl) {
                double kl = pOld * (old - lp) + (1 - pOld) * Math.log((1.0 - pOld + 1e-8) / (1.0 - p + 1e-8));
                valid = a > 0 ? kl <= cfg.clipRatioHigh() || p <= pOld : kl <= cfg.clipRatioLow() || p >= pOld;
            } else {
                valid = a > 0 ? p - pOld <= cfg.clipRatioHigh() : p - pOld >= -cfg.clipRatioLow();
            }
            double v = valid ? 1 : 0;
            loss[i] = (float) (-a * tr * lp * v);
            dLoss[i] = (float) (-a * tr * v);
            invalid[i] = (float) (1 - v);
            truncated[i] = r > c && valid ? 1f : 0f;
        }
        return finish(in, mode, cfg, loss, dLoss, mean(in, invalid), mean(in, negKl), mean(in, truncated));
    }

    /**
     * GSPO, {@code compute_policy_loss_gspo}: the sequence ratio {@code s = exp(min(mean_t(lp - old), 10))} (mean over
     * the mask, length at least 1) replaces the token ratio in the clipped objective, the gradient reaching each
     * token through its own {@code lp} ({@code ds/dlp_t = s}). Always aggregated seq-mean-token-mean, whatever mode is
     * passed, as verl. {@code pgClipfracLower} is 0.
     */
    public static PolicyLossResult gspo(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        BatchTensor m = in.responseMask();
        int seq = m.seq();
        int n = m.count();
        float[] negKl = new float[n];
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            double d = (double) in.logProb().at(i) - in.oldLogProb().at(i);
            x[i] = (float) d;
            negKl[i] = (float) -d;
        }
        double[] seqKl = new double[m.batch()];
        double[] len = TensorFunctions.rowCounts(m);
        for (int b = 0; b < m.batch(); b++) {
            double s = 0;
            for (int t = 0; t < seq; t++) {
                s += (double) x[b * seq + t] * m.at(b * seq + t);
            }
            seqKl[b] = s / Math.max(len[b], 1);
        }
        double lo = 1 - cfg.clipRatioLow();
        double hi = 1 + cfg.clipRatioHigh();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] clipped = new float[n];
        for (int i = 0; i < n; i++) {
            double logS = seqKl[i / seq];
            double s = Math.exp(Math.min(logS, GSPO_LOG_RATIO_MAX));
            double ds = logS <= GSPO_LOG_RATIO_MAX ? s : 0;
            double a = in.advantages().at(i);
            double l1 = -a * s;
            double l2 = -a * clamp(s, lo, hi);
            loss[i] = (float) Math.max(l1, l2);
            dLoss[i] = (float) (maxGrad(l1, -a, l2, -a * passes(s, lo, hi)) * ds);
            clipped[i] = l2 > l1 ? 1f : 0f;
        }
        return finish(in, LossAggMode.SEQ_MEAN_TOKEN_MEAN, cfg, loss, dLoss, mean(in, clipped), mean(in, negKl), 0);
    }

    /**
     * SAPO, {@code compute_policy_loss_sapo}: {@code L = -A * sigmoid(tau (r - 1)) * 4 / tau} with
     * {@code r = exp(clamp(lp - old, -20, 20))} and {@code tau = tauPos} where {@code A > 0}, else {@code tauNeg}.
     * Always aggregated seq-mean-token-mean, as verl. Clip fractions are 0.
     */
    public static PolicyLossResult sapo(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        int n = in.logProb().count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] negKl = new float[n];
        for (int i = 0; i < n; i++) {
            double x = (double) in.logProb().at(i) - in.oldLogProb().at(i);
            double xc = clamp(x, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
            negKl[i] = (float) -xc;
            double r = Math.exp(xc);
            double a = in.advantages().at(i);
            double tau = a > 0 ? cfg.tauPos() : cfg.tauNeg();
            double sig = 1 / (1 + Math.exp(-tau * (r - 1)));
            loss[i] = (float) (-a * sig * 4 / tau);
            dLoss[i] = (float) (-a * 4 * sig * (1 - sig) * r * passes(x, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP));
        }
        return finish(in, LossAggMode.SEQ_MEAN_TOKEN_MEAN, cfg, loss, dLoss, 0, mean(in, negKl), 0);
    }

    /**
     * GPG, {@code compute_policy_loss_gpg}: {@code L = -lp * A}, no ratio and no clip. Metrics are 0 (verl reports
     * none).
     */
    public static PolicyLossResult gpg(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        int n = in.logProb().count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        for (int i = 0; i < n; i++) {
            double a = in.advantages().at(i);
            loss[i] = (float) (-in.logProb().at(i) * a);
            dLoss[i] = (float) -a;
        }
        return finish(in, mode, cfg, loss, dLoss, 0, 0, 0);
    }

    /**
     * REINFORCE, {@code compute_policy_loss_reinforce}: {@code L = -A * lp} (times the rollout weights when given),
     * no clip; here {@code oldLogProb} is the rollout log-probability and {@code ppoKl} its masked mean difference.
     * verl's default aggregation for it is seq-mean-token-sum, but the mode passed is used.
     */
    public static PolicyLossResult reinforce(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        int n = in.logProb().count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] negKl = new float[n];
        for (int i = 0; i < n; i++) {
            double a = in.advantages().at(i);
            loss[i] = (float) (-a * in.logProb().at(i));
            dLoss[i] = (float) -a;
            negKl[i] = (float) ((double) in.oldLogProb().at(i) - in.logProb().at(i));
        }
        return finish(in, mode, cfg, loss, dLoss, 0, mean(in, negKl), 0);
    }

    /**
     * CISPO, {@code compute_policy_loss_cispo}: {@code L = -sg(clip(r, 1 - low, 1 + high)) * A * lp} with
     * {@code r = exp(clamp(lp - old, -20, 20))}; the clipped ratio is a constant for the gradient.
     * {@code pgClipfrac} is the masked mean of {@code r != clip(r)}; {@code pgClipfracLower} is 0.
     */
    public static PolicyLossResult cispo(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        int n = in.logProb().count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] negKl = new float[n];
        float[] clipped = new float[n];
        double lo = 1 - cfg.clipRatioLow();
        double hi = 1 + cfg.clipRatioHigh();
        for (int i = 0; i < n; i++) {
            double x = (double) in.logProb().at(i) - in.oldLogProb().at(i);
            double xc = clamp(x, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
            negKl[i] = (float) -xc;
            double r = Math.exp(xc);
            double cr = clamp(r, lo, hi);
            double a = in.advantages().at(i);
            loss[i] = (float) (-cr * a * in.logProb().at(i));
            dLoss[i] = (float) (-cr * a);
            clipped[i] = r != cr ? 1f : 0f;
        }
        return finish(in, mode, cfg, loss, dLoss, mean(in, clipped), mean(in, negKl), 0);
    }

    /**
     * Geometric-mean policy optimisation, {@code compute_policy_loss_geo_mean}: per token
     * {@code x = lp - old} (not clamped), {@code x' = sgn(A) * min(sgn(A) x, sgn(A) clamp(x, -low, high))}; per
     * sequence {@code ratio = exp(sum_t x' m / (n + 1e-8))}, {@code adv = sum_t A m / (n + 1e-8)} and
     * {@code L = -adv * ratio} (times the geometric mean of the rollout weights when given); the loss is the plain
     * mean over all sequences, whatever mode is passed. {@code pgClipfrac} counts clamped tokens with {@code A > 0},
     * {@code pgClipfracLower} those with {@code A < 0}.
     */
    public static PolicyLossResult geoMean(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        BatchTensor m = in.responseMask();
        int batch = m.batch();
        int seq = m.seq();
        int n = m.count();
        double lo = cfg.clipRatioLow();
        double hi = cfg.clipRatioHigh();
        float[] negKl = new float[n];
        float[] clipHigh = new float[n];
        float[] clipLow = new float[n];
        double[] xMin = new double[n];
        double[] dxMin = new double[n];
        for (int i = 0; i < n; i++) {
            double x = (double) in.logProb().at(i) - in.oldLogProb().at(i);
            negKl[i] = (float) -x;
            double a = in.advantages().at(i);
            double sgn = Math.signum(a);
            double xc = clamp(x, -lo, hi);
            double p = sgn * x;
            double q = sgn * xc;
            xMin[i] = sgn * Math.min(p, q);
            dxMin[i] = sgn * minGrad(p, sgn, q, sgn * passes(x, -lo, hi));
            boolean isClipped = x != xc;
            clipHigh[i] = isClipped && a > 0 ? 1f : 0f;
            clipLow[i] = isClipped && a < 0 ? 1f : 0f;
        }
        double[] len = TensorFunctions.rowCounts(m);
        BatchTensor w = in.rolloutIsWeights();
        float[] grad = new float[n];
        double total = 0;
        for (int b = 0; b < batch; b++) {
            double den = len[b] + 1e-8;
            double sx = 0;
            double sa = 0;
            double sw = 0;
            for (int t = 0; t < seq; t++) {
                int i = b * seq + t;
                sx += xMin[i] * m.at(i);
                sa += (double) in.advantages().at(i) * m.at(i);
                if (w != null) {
                    sw += Math.log(w.at(i) + 1e-10) * m.at(i);
                }
            }
            double ratio = Math.exp(sx / den);
            double adv = sa / den;
            double seqWeight = w == null ? 1 : Math.exp(sw / den);
            total += -adv * ratio * seqWeight;
            for (int t = 0; t < seq; t++) {
                int i = b * seq + t;
                grad[i] = m.at(i) == 0f ? 0f : (float) (-adv * ratio * seqWeight * dxMin[i] / den / batch);
            }
        }
        double pgLoss = total / batch;
        return new PolicyLossResult(pgLoss, BatchTensor.wrap(batch, seq, grad), mean(in, clipHigh),
                mean(in, negKl), mean(in, clipLow));
    }

    /**
     * KL-Cov, {@code compute_policy_loss_kl_cov}: {@code L = -A r} with {@code r = exp(lp - old)} (not clamped),
     * except on the {@code max(1, floor(count * klCovRatio))} unmasked tokens with the largest
     * {@code (A - mean A)(lp - mean lp)} (means over unmasked tokens; ties to the earlier token), where
     * {@code L = -A r + ppoKlCoef * |lp - old|}. {@code ppoKl} is the masked mean of {@code |lp - old|}; clip
     * fractions are 0.
     */
    public static PolicyLossResult klCov(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        BatchTensor m = in.responseMask();
        int n = m.count();
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] absKl = new float[n];
        List<Integer> valid = new ArrayList<>();
        double meanA = 0;
        double meanLp = 0;
        for (int i = 0; i < n; i++) {
            double x = (double) in.logProb().at(i) - in.oldLogProb().at(i);
            absKl[i] = (float) Math.abs(x);
            double r = Math.exp(x);
            double a = in.advantages().at(i);
            loss[i] = (float) (-a * r);
            dLoss[i] = (float) (-a * r);
            if (m.at(i) != 0f) {
                valid.add(i);
                meanA += a;
                meanLp += in.logProb().at(i);
            }
        }
        if (!valid.isEmpty()) {
            meanA /= valid.size();
            meanLp /= valid.size();
            int k = Math.max(1, (int) (valid.size() * cfg.klCovRatio()));
            double[] cov = new double[valid.size()];
            for (int j = 0; j < cov.length; j++) {
                int i = valid.get(j);
                cov[j] = (in.advantages().at(i) - meanA) * (in.logProb().at(i) - meanLp);
            }
            Integer[] order = new Integer[cov.length];
            for (int j = 0; j < order.length; j++) {
                order[j] = j;
            }
            java.util.Arrays.sort(order, (p, q) -> Double.compare(cov[q], cov[p]));
            for (int j = 0; j < k; j++) {
                int i = valid.get(order[j]);
                double x = (double) in.logProb().at(i) - in.oldLogProb().at(i);
                double a = in.advantages().at(i);
                double r = Math.exp(x);
                loss[i] = (float) (-a * r + cfg.ppoKlCoef() * Math.abs(x));
                dLoss[i] = (float) (-a * r + cfg.ppoKlCoef() * Math.signum(x));
            }
        }
        return finish(in, mode, cfg, loss, dLoss, 0, mean(in, absKl), 0);
    }

    /**
     * Clip-Cov, {@code compute_policy_loss_clip_cov}: the PPO clipped loss {@code max(-A r, -A clip(r))} with
     * {@code r = exp(lp - old)} (not clamped, no dual clip), zeroed (gradient cut) on up to
     * {@code max(1, floor(clipCovRatio * count))} tokens drawn at random (seeded) among the unmasked, not already
     * clipped tokens whose {@code (A - mean A)(lp - mean lp)} lies strictly between clipCovLb and clipCovUb (masked
     * means). verl draws with {@code torch.randperm}; this draw is seeded and reproducible but not the same sequence.
     * {@code pgClipfrac} is the masked fraction of cut tokens; {@code pgClipfracLower} is 0.
     */
    public static PolicyLossResult clipCov(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg) {
        BatchTensor m = in.responseMask();
        int n = m.count();
        double lo = 1 - cfg.clipRatioLow();
        double hi = 1 + cfg.clipRatioHigh();
        double meanA = TensorFunctions.maskedMean(in.advantages(), m);
        double meanLp = TensorFunctions.maskedMean(in.logProb(), m);
        float[] loss = new float[n];
        float[] dLoss = new float[n];
        float[] negKl = new float[n];
        List<Integer> candidates = new ArrayList<>();
        double count = TensorFunctions.count(m);
        for (int i = 0; i < n; i++) {
            double x = (double) in.logProb().at(i) - in.oldLogProb().at(i);
            negKl[i] = (float) -x;
            double r = Math.exp(x);
            double a = in.advantages().at(i);
            double l1 = -a * r;
            double l2 = -a * clamp(r, lo, hi);
            loss[i] = (float) Math.max(l1, l2);
            dLoss[i] = (float) (maxGrad(l1, -a, l2, -a * passes(r, lo, hi)) * r);
            boolean clipByOrigin = l2 > l1 && m.at(i) > 0;
            double cov = (a - meanA) * (in.logProb().at(i) - meanLp);
            if (m.at(i) > 0 && !clipByOrigin && cov < cfg.clipCovUb() && cov > cfg.clipCovLb()) {
                candidates.add(i);
            }
        }
        int clipNum = Math.max((int) (cfg.clipCovRatio() * count), 1);
        SplittableRandom random = new SplittableRandom(cfg.seed());
        for (int j = candidates.size() - 1; j > 0; j--) {
            int k = random.nextInt(j + 1);
            Integer tmp = candidates.get(j);
            candidates.set(j, candidates.get(k));
            candidates.set(k, tmp);
        }
        float[] cut = new float[n];
        for (int j = 0; j < Math.min(clipNum, candidates.size()); j++) {
            int i = candidates.get(j);
            cut[i] = 1f;
            loss[i] = 0f;
            dLoss[i] = 0f;
        }
        return finish(in, mode, cfg, loss, dLoss, mean(in, cut), mean(in, negKl), 0);
    }

    private static PolicyLossResult finish(PolicyLossInput in, LossAggMode mode, PolicyLossConfig cfg, float[] loss,
                                           float[] dLoss, double clipfrac, double ppoKl, double clipfracLower) {
        BatchTensor w = in.rolloutIsWeights();
        if (w != null) {
            for (int i = 0; i < loss.length; i++) {
                loss[i] *= w.at(i);
                dLoss[i] *= w.at(i);
            }
        }
        BatchTensor m = in.responseMask();
        AggregatedLoss agg = mode.aggregate(BatchTensor.wrap(m.batch(), m.seq(), loss), m, cfg.aggOptions());
        float[] grad = new float[loss.length];
        for (int i = 0; i < grad.length; i++) {
            float g = agg.gradient().at(i);
            grad[i] = g == 0f ? 0f : g * dLoss[i];
        }
        return new PolicyLossResult(agg.value(), BatchTensor.wrap(m.batch(), m.seq(), grad), clipfrac, ppoKl,
                clipfracLower);
    }

    private static double mean(PolicyLossInput in, float[] x) {
        BatchTensor m = in.responseMask();
        return TensorFunctions.maskedMean(BatchTensor.wrap(m.batch(), m.seq(), x), m);
    }

    static double clamp(double x, double lo, double hi) {
        return Math.min(Math.max(x, lo), hi);
    }

    /** Gradient factor of {@code torch.clamp(x, lo, hi)}: 1 inside the bounds, bounds included, else 0. */
    static double passes(double x, double lo, double hi) {
        return x >= lo && x <= hi ? 1 : 0;
    }

    /** Gradient of {@code torch.maximum(a, b)} given each side's gradient; equal sides share it. */
    static double maxGrad(double a, double ga, double b, double gb) {
        if (a > b) {
            return ga;
        }
        if (b > a) {
            return gb;
        }
        return (ga + gb) / 2;
    }

    /** Gradient of {@code torch.minimum(a, b)} given each side's gradient; equal sides share it. */
    static double minGrad(double a, double ga, double b, double gb) {
        if (a < b) {
            return ga;
        }
        if (b < a) {
            return gb;
        }
        return (ga + gb) / 2;
    }
}
