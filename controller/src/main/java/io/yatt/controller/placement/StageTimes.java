package io.yatt.controller.placement;

/**
 * Seconds of one RLHF iteration's stages, measured or predicted: generation, the weight transition (reshard when
 * colocated, weight sync to the rollout ranks when split), preparation (old and reference log-probs, values,
 * rewards, advantages) and training.
 *
 * @param generationS rollout generation
 * @param transitionS weights from the training layout to the generating ranks
 * @param preparationS inference passes and advantages
 * @param trainingS actor (and critic) updates
 */
public record StageTimes(double generationS, double transitionS, double preparationS, double trainingS) {

    /**
     * @throws IllegalArgumentException naming a stage time that is negative or not finite
     */
    public StageTimes {
        check("generationS", generationS);
        check("transitionS", transitionS);
        check("preparationS", preparationS);
        check("trainingS", trainingS);
    }

    private static void check(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("stage time must be finite and non-negative: " + name + "=" + value);
        }
    }

    /** The stages one after another: generation + transition + preparation + training. */
    public double sequentialS() {
        return generationS + transitionS + preparationS + trainingS;
    }

    /**
     * The stages with the rollout (transition, generation) overlapping the training side (preparation, training):
     * {@code max(transition + generation, preparation + training)}.
     */
    public double overlappedS() {
        return Math.max(transitionS + generationS, preparationS + trainingS);
    }

    /** Each stage of this times the factor of the same stage in {@code factors}. */
    public StageTimes times(StageTimes factors) {
        return new StageTimes(generationS * factors.generationS, transitionS * factors.transitionS,
                preparationS * factors.preparationS, trainingS * factors.trainingS);
    }

    /**
     * Per stage {@code measured / predicted}, or 1 where the prediction is 0 (nothing to calibrate against).
     */
    public static StageTimes calibration(StageTimes measured, StageTimes predicted) {
        return new StageTimes(ratio(measured.generationS, predicted.generationS),
                ratio(measured.transitionS, predicted.transitionS),
                ratio(measured.preparationS, predicted.preparationS), ratio(measured.trainingS, predicted.trainingS));
    }

    private static double ratio(double measured, double predicted) {
        return predicted == 0 ? 1 : measured / predicted;
    }

    /** The stage-wise mean of {@code times} (at least one). */
    static StageTimes mean(java.util.List<StageTimes> times) {
        double g = 0;
        double x = 0;
        double p = 0;
        double t = 0;
        for (StageTimes s : times) {
            g += s.generationS;
            x += s.transitionS;
            p += s.preparationS;
            t += s.trainingS;
        }
        int n = times.size();
        return new StageTimes(g / n, x / n, p / n, t / n);
    }
}
