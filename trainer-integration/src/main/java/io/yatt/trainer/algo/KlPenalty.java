package io.yatt.trainer.algo;

import java.util.List;

/**
 * A per-token KL estimator between the policy and the reference, verl's {@code kl_penalty(logprob, ref_logprob,
 * name)}: {@code kl}/{@code k1} = {@code lp - ref}; {@code abs} = {@code |lp - ref|}; {@code mse}/{@code k2} =
 * {@code 0.5 (lp - ref)^2}; {@code low_var_kl}/{@code k3} = {@code clamp(e^d - d - 1, -10, 10)} with
 * {@code d = clamp(ref - lp, -20, 20)}. A name ending in {@code +} keeps the value and takes the gradient of k2
 * (straight-through, an unbiased KL gradient); {@code k2+}/{@code mse+} are k2.
 *
 * @param kind the estimator
 * @param straightThrough whether the gradient is k2's
 */
public record KlPenalty(Kind kind, boolean straightThrough) {

    /** The names accepted by {@link #fromName(String)}. */
    public static final List<String> NAMES = List.of("kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3", "kl+",
            "k1+", "abs+", "mse+", "k2+", "low_var_kl+", "k3+");

    /** verl's bound on {@code ref - lp} before {@code exp} in k3. */
    public static final double K3_LOG_RATIO_CLAMP = 20.0;
    /** verl's bound on the k3 value. */
    public static final double K3_VALUE_CLAMP = 10.0;

    /** The estimators. */
    public enum Kind {
        /** {@code lp - ref}. */
        K1,
        /** {@code |lp - ref|}. */
        ABS,
        /** {@code 0.5 (lp - ref)^2}. */
        K2,
        /** Schulman's low-variance estimator, clamped. */
        K3
    }

    /**
     * Validates the pair.
     *
     * @throws IllegalArgumentException if kind is null
     */
    public KlPenalty {
        if (kind == null) {
            throw new IllegalArgumentException("kind must not be null: kind=null");
        }
    }

    /**
     * The estimator with this config name ({@code algorithm.kl_penalty} or {@code actor.kl_loss_type}).
     *
     * @throws IllegalArgumentException naming an unknown name (or {@code full}, which verl does not implement
     *         either) and listing the valid ones
     */
    public static KlPenalty fromName(String name) {
        boolean plus = name.endsWith("+");
        String base = plus ? name.substring(0, name.length() - 1) : name;
        Kind kind = switch (base) {
            case "kl", "k1" -> Kind.K1;
            case "abs" -> Kind.ABS;
            case "mse", "k2" -> Kind.K2;
            case "low_var_kl", "k3" -> Kind.K3;
            default -> null;
        };
        if (kind == null) {
            throw new IllegalArgumentException("unknown kl_penalty: name=" + name + ", valid=" + NAMES);
        }
        return new KlPenalty(kind, plus && kind != Kind.K2);
    }

    /**
     * The per-token estimate.
     *
     * @throws IllegalArgumentException if the shapes differ
     */
    public BatchTensor apply(BatchTensor logProb, BatchTensor refLogProb) {
        logProb.requireSameShape("logProb", refLogProb, "refLogProb");
        float[] out = new float[logProb.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) value(logProb.at(i), refLogProb.at(i));
        }
        return BatchTensor.wrap(logProb.batch(), logProb.seq(), out);
    }

    /**
     * The per-token derivative of the estimate with respect to {@code logProb} (autograd's, clamps passing the
     * gradient at their bounds, {@code |x|'} 0 at 0).
     *
     * @throws IllegalArgumentException if the shapes differ
     */
    public BatchTensor gradLogProb(BatchTensor logProb, BatchTensor refLogProb) {
        logProb.requireSameShape("logProb", refLogProb, "refLogProb");
        float[] out = new float[logProb.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) grad(logProb.at(i), refLogProb.at(i));
        }
        return BatchTensor.wrap(logProb.batch(), logProb.seq(), out);
    }

    private double value(double lp, double ref) {
        double x = lp - ref;
        return switch (kind) {
            case K1 -> x;
            case ABS -> Math.abs(x);
            case K2 -> 0.5 * x * x;
            case K3 -> {
                double d = PolicyLosses.clamp(ref - lp, -K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP);
                yield PolicyLosses.clamp(Math.exp(d) - d - 1, -K3_VALUE_CLAMP, K3_VALUE_CLAMP);
            }
        };
    }

    private double grad(double lp, double ref) {
        double x = lp - ref;
        if (straightThrough) {
            return x;
        }
        return switch (kind) {
            case K1 -> 1;
            case ABS -> Math.signum(x);
            case K2 -> x;
            case K3 -> {
                double raw = ref - lp;
                double d = PolicyLosses.clamp(raw, -K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP);
                double kld = Math.exp(d) - d - 1;
                double pass = PolicyLosses.passes(raw, -K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP)
                        * PolicyLosses.passes(kld, -K3_VALUE_CLAMP, K3_VALUE_CLAMP);
                yield pass == 0 ? 0 : 1 - Math.exp(d);
            }
        };
    }
}
