package io.yatt.trainer.rollout;

/**
 * Which actor weights generate which step in a split rollout. Version {@code v} is the actor after {@code v}
 * updates; a run (or a resumed run) that starts at step {@code f} holds version {@code f - 1} then, and step
 * {@code k} trains version {@code k - 1} into version {@code k}.
 *
 * <ul>
 *   <li>{@link #SYNC}: step {@code k} generates with version {@code k - 1}, the weights it trains: exactly as
 *       colocated, so the metrics equal a colocated run's.</li>
 *   <li>{@link #ASYNC}: step {@code k} generates with version {@code max(f - 1, k - 2)}: the rollout of step
 *       {@code k + 1} runs while step {@code k} trains, one step off-policy. The first step of a run has lag 0
 *       (nothing older exists), every later step lag exactly 1.</li>
 * </ul>
 */
public enum RolloutMode {
    /** Generation of step k uses the weights after update k - 1. */
    SYNC,
    /** Generation of step k + 1 overlaps training of step k and uses the weights after update k - 1. */
    ASYNC;

    /**
     * The weight version that generates {@code step} in a run starting at {@code firstStep}.
     *
     * @throws IllegalArgumentException if {@code firstStep < 1} or {@code step < firstStep}
     */
    public long weightVersion(long step, long firstStep) {
        if (firstStep < 1 || step < firstStep) {
            throw new IllegalArgumentException("step must be at least the first step, which is at least 1: step="
                    + step + ", firstStep=" + firstStep);
        }
        return this == SYNC ? step - 1 : Math.max(firstStep - 1, step - 2);
    }

    /**
     * How many updates the generating weights of {@code step} are behind the weights that step trains:
     * {@code (step - 1) - weightVersion(step, firstStep)}.
     *
     * @throws IllegalArgumentException as {@link #weightVersion}
     */
    public long versionLag(long step, long firstStep) {
        return step - 1 - weightVersion(step, firstStep);
    }

    /**
     * Whether the rollout ranks receive new weights before generating {@code step}: at the first step, and whenever
     * its version is newer than the previous step's.
     *
     * @throws IllegalArgumentException as {@link #weightVersion}
     */
    public boolean syncsBefore(long step, long firstStep) {
        return step == firstStep || weightVersion(step, firstStep) > weightVersion(step - 1, firstStep);
    }
}
