package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.trainer.config.TrainConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The step's batch as a trainer rank builds it from the prompts and the rollout, and its refusals. */
class StepBatchTest {
    /** 2 prompts, 1 sample each, prompt length 3, response length 2. */
    private static final RlhfLoop.Shape SHAPE = new RlhfLoop.Shape(2, 1, 2, 3, 2, 1, 1, 2, false, false);

    @Test
    void shouldLeftPadPromptsAndRightPadResponses() {
        StepBatch b = StepBatch.of(1, SHAPE, new int[] {4, 7}, List.of(new int[] {5}, new int[] {6, 8}),
                new int[] {9, 10, 11, 0}, new int[] {2, 1}, new float[] {-1f, -2f, -3f, 0f});
        assertArrayEquals(new int[] {0, 0, 5, 9, 10, 0, 6, 8, 11, 0}, b.tokens);
        assertArrayEquals(new int[] {0, 0, 1, 1, 1, 0, 1, 1, 1, 0}, b.mask);
        assertArrayEquals(new float[] {1f, 1f, 1f, 0f}, b.responseMask);
        assertArrayEquals(new int[] {11}, b.response(1));
    }

    @Test
    void shouldRejectARolloutThatDoesNotFitTheBatch() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StepBatch.of(1, SHAPE,
                new int[] {4, 7}, List.of(new int[] {5}, new int[] {6}), new int[3], new int[2], new float[4]));
        assertEquals("rollout does not fit the step's batch: responses=3, lengths=2, logProbs=4, expected samples=2"
                + " x responseLength=2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> StepBatch.of(1, SHAPE, new int[] {4, 7},
                List.of(new int[] {5}, new int[] {6}), new int[4], new int[] {2, 3}, new float[4]));
        assertEquals("response length out of range: sample=1, length=3, responseLength=2", e.getMessage());
    }

    @Test
    void shouldNameTheRoleResultAStepLacks() {
        StepBatch b = StepBatch.of(3, SHAPE, new int[] {4, 7}, List.of(new int[] {5}, new int[] {6}), new int[4],
                new int[] {1, 1}, new float[4]);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> b.computeAdvantages(TrainConfig.defaults(), 0.01, 0.0));
        assertEquals("step batch lacks a role's result: step=3, missing=old_log_probs", e.getMessage());
    }

    @Test
    void shouldRejectABaselineThatDoesNotFitThePrompts() {
        StepBatch b = StepBatch.of(1, SHAPE, new int[] {4, 7}, List.of(new int[] {5}, new int[] {6}), new int[4],
                new int[] {1, 1}, new float[4]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.baselineRollout(new int[2], new int[2]));
        assertEquals("baseline rollout does not fit the step's prompts: responses=2, lengths=2, expected prompts=2"
                + " x responseLength=2", e.getMessage());
    }
}
