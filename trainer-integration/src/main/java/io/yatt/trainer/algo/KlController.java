package io.yatt.trainer.algo;

/**
 * The coefficient of the KL penalty in the reward, verl's {@code FixedKLController} and
 * {@code AdaptiveKLController}. Mutable; confined to the thread that drives training.
 */
public sealed interface KlController permits KlController.Fixed, KlController.Adaptive {

    /** The current coefficient (verl's {@code kl_ctrl.value}). */
    double value();

    /** Updates the coefficient from the batch's mean KL and its number of sequences. */
    void update(double currentKl, long nSteps);

    /**
     * A controller whose coefficient never changes.
     *
     * @throws IllegalArgumentException if the coefficient is negative or not finite
     */
    static KlController fixed(double klCoef) {
        requireCoef(klCoef);
        return new Fixed(klCoef);
    }

    /**
     * Ziegler et al.'s adaptive controller: {@code value *= 1 + clip(kl / target - 1, -0.2, 0.2) * nSteps /
     * horizon}.
     *
     * @throws IllegalArgumentException if the coefficient is negative, the target not positive or the horizon not
     *         positive (verl asserts {@code horizon > 0})
     */
    static KlController adaptive(double initKlCoef, double targetKl, double horizon) {
        requireCoef(initKlCoef);
        if (!(targetKl > 0)) {
            throw new IllegalArgumentException("target_kl must be positive: targetKl=" + targetKl);
        }
        if (!(horizon > 0)) {
            throw new IllegalArgumentException("horizon must be larger than 0: horizon=" + horizon);
        }
        return new Adaptive(initKlCoef, targetKl, horizon);
    }

    private static void requireCoef(double c) {
        if (!(c >= 0 && Double.isFinite(c))) {
            throw new IllegalArgumentException("kl_coef must be finite and non-negative: klCoef=" + c);
        }
    }

    /** verl's {@code FixedKLController}: {@link #update} does nothing. */
    final class Fixed implements KlController {
        private final double value;

        private Fixed(double value) {
            this.value = value;
        }

        @Override
        public double value() {
            return value;
        }

        @Override
        public void update(double currentKl, long nSteps) {
        }
    }

    /** verl's {@code AdaptiveKLController}. */
    final class Adaptive implements KlController {
        /** verl's bound on the proportional error. */
        public static final double MAX_PROPORTIONAL_ERROR = 0.2;

        private double value;
        private final double target;
        private final double horizon;

        private Adaptive(double value, double target, double horizon) {
            this.value = value;
            this.target = target;
            this.horizon = horizon;
        }

        @Override
        public double value() {
            return value;
        }

        @Override
        public void update(double currentKl, long nSteps) {
            double error = PolicyLosses.clamp(currentKl / target - 1, -MAX_PROPORTIONAL_ERROR,
                    MAX_PROPORTIONAL_ERROR);
            value *= 1 + error * nSteps / horizon;
        }
    }
}
