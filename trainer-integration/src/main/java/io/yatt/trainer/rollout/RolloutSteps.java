package io.yatt.trainer.rollout;

/**
 * The step cursor both ends of a split rollout keep: the run's first step (moved by a placement switch), the last
 * step, and the next step expected. One class so the trainers' and the rollout ranks' schedules cannot drift apart.
 * Mutable; confined to its endpoint's thread.
 */
final class RolloutSteps {

    private final RolloutMode mode;
    private final long lastStep;
    private long firstStep;
    private long nextStep;

    /**
     * Steps {@code firstStep..lastStep} under {@code mode}.
     *
     * @throws IllegalArgumentException if the steps are not {@code 1 <= firstStep <= lastStep}
     */
    RolloutSteps(RolloutMode mode, long firstStep, long lastStep) {
        check(firstStep, lastStep);
        this.mode = mode;
        this.firstStep = firstStep;
        this.lastStep = lastStep;
        this.nextStep = firstStep;
    }

    /**
     * Checks a step range before anything is allocated for it.
     *
     * @throws IllegalArgumentException if the steps are not {@code 1 <= firstStep <= lastStep}
     */
    static void check(long firstStep, long lastStep) {
        if (firstStep < 1 || lastStep < firstStep) {
            throw new IllegalArgumentException("steps must satisfy 1 <= firstStep <= lastStep: firstStep=" + firstStep
                    + ", lastStep=" + lastStep);
        }
    }

    long first() {
        return firstStep;
    }

    long last() {
        return lastStep;
    }

    /**
     * Checks that {@code step} is the next step.
     *
     * @throws IllegalStateException if it is not, or it is past the last step
     */
    void requireNext(long step) {
        if (step != nextStep || step > lastStep) {
            throw new IllegalStateException("rollout steps run in order: step=" + step + ", expected=" + nextStep
                    + ", lastStep=" + lastStep);
        }
    }

    /** Step {@code step} is done; the next one is expected. */
    void done(long step) {
        nextStep = step + 1;
    }

    /**
     * Resumes at {@code step} as a first step (a placement switch). A no-op when nothing has run yet.
     *
     * @throws IllegalStateException in asynchronous mode, or if {@code step} is before the next step or after the last
     */
    void restartAt(long step) {
        if (step == firstStep && step == nextStep) {
            return; // nothing has run yet: already a first step
        }
        if (mode != RolloutMode.SYNC) {
            throw new IllegalStateException("switching placement needs the synchronous rollout: mode=" + mode);
        }
        if (step < nextStep || step > lastStep) {
            throw new IllegalStateException("rollout cannot restart there: step=" + step + ", next=" + nextStep
                    + ", lastStep=" + lastStep);
        }
        firstStep = step;
        nextStep = step;
    }
}
