package io.yatt.trainer.model;

/** A learning rate per optimizer step (steps count from 0). Values; thread-safe. */
public sealed interface LrSchedule {

    /** The learning rate for step {@code step} (0-based). */
    double lr(long step);

    /**
     * The same rate at every step.
     *
     * @param lr the rate, finite and non-negative
     */
    record Constant(double lr) implements LrSchedule {
        /**
         * @throws IllegalArgumentException if the rate is negative or not finite
         */
        public Constant {
            requireRate("lr", lr);
        }

        @Override
        public double lr(long step) {
            return lr;
        }
    }

    /**
     * Linear warm-up from 0 to {@code peakLr} over {@code warmupSteps} ({@code peakLr * step / warmupSteps}), then a
     * half cosine from {@code peakLr} down to {@code minLrRatio * peakLr} at {@code totalSteps} and flat after:
     * {@code peakLr * (minLrRatio + (1 - minLrRatio) * 0.5 * (1 + cos(pi * progress)))} with
     * {@code progress = (step - warmupSteps) / (totalSteps - warmupSteps)} clamped to [0, 1] (Hugging Face's
     * {@code get_cosine_schedule_with_warmup} with a floor, as verl uses it).
     *
     * @param peakLr the rate after warm-up
     * @param warmupSteps warm-up steps, non-negative
     * @param totalSteps steps to the end of the cosine, more than warmupSteps
     * @param minLrRatio the floor as a fraction of peakLr, in [0, 1]
     */
    record WarmupCosine(double peakLr, long warmupSteps, long totalSteps, double minLrRatio) implements LrSchedule {
        /**
         * @throws IllegalArgumentException naming a value out of range
         */
        public WarmupCosine {
            requireRate("peakLr", peakLr);
            if (warmupSteps < 0 || totalSteps <= warmupSteps) {
                throw new IllegalArgumentException("need 0 <= warmupSteps < totalSteps: warmupSteps=" + warmupSteps
                        + ", totalSteps=" + totalSteps);
            }
            if (!(minLrRatio >= 0 && minLrRatio <= 1)) {
                throw new IllegalArgumentException("minLrRatio must be in [0, 1]: minLrRatio=" + minLrRatio);
            }
        }

        @Override
        public double lr(long step) {
            if (step < warmupSteps) {
                return peakLr * step / warmupSteps;
            }
            double progress = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
            return peakLr * (minLrRatio + (1 - minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
        }
    }

    private static void requireRate(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(name + " must be finite and non-negative: " + name + "=" + value);
        }
    }
}
