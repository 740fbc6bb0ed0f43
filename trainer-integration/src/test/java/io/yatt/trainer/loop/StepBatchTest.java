package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.trainer.algo.BatchShard;
import io.yatt.trainer.config.TrainConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The step's batch as a trainer rank builds it from the prompts and its rows of the rollout, and its refusals. */
class StepBatchTest {
    /** 2 prompts, 1 sample each, prompt length 3, response length 2. */
    private static final RlhfLoop.Shape SHAPE = new RlhfLoop.Shape(2, 1, 2, 3, 2, 1, 1, 2, false, false);
    private static final BatchShard WHOLE = BatchShard.whole(2);
    /** The second of two ranks holding one row each: it holds sample 0. */
    private static final BatchShard SECOND = BatchShard.of(2, new int[][] {{1}, {0}}, 1, mine -> new double[2]);

    @Test
    void shouldLeftPadPromptsAndRightPadResponses() {
        StepBatch b = StepBatch.of(1, SHAPE, WHOLE, new int[] {4, 7}, new int[] {1, 2},
                List.of(new int[] {5}, new int[] {6, 8}), new int[] {9, 10, 11, 0}, new int[] {2, 1},
                new float[] {-1f, -2f, -3f, 0f});
        assertArrayEquals(new int[] {0, 0, 5, 9, 10, 0, 6, 8, 11, 0}, b.tokens);
        assertArrayEquals(new int[] {0, 0, 1, 1, 1, 0, 1, 1, 1, 0}, b.mask);
        assertArrayEquals(new float[] {1f, 1f, 1f, 0f}, b.responseMask);
        assertArrayEquals(new int[] {11}, b.response(1));
    }

    @Test
    void shouldHoldOnlyTheRanksRowsWithEverySamplesLength() {
        // sample 0 (prompt 4, response 9 10 of length 2) is this rank's only row; sample 1's length is 1
        StepBatch b = StepBatch.of(1, SHAPE, SECOND, new int[] {4, 7}, new int[] {1, 2}, List.of(new int[] {5}),
                new int[] {9, 10}, new int[] {2, 1}, new float[] {-1f, -2f});
        assertArrayEquals(new int[] {0}, b.rows);
        assertArrayEquals(new int[] {0, 0, 5, 9, 10}, b.tokens);
        assertArrayEquals(new float[] {1f, 1f}, b.responseMask);
        assertArrayEquals(new int[] {2, 1}, b.lengths);
        assertArrayEquals(new int[] {9, 10}, b.response(0));
    }

    @Test
    void shouldRejectARolloutThatDoesNotFitTheBatch() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StepBatch.of(1, SHAPE,
                WHOLE, new int[] {4, 7}, new int[] {1, 1}, List.of(new int[] {5}, new int[] {6}), new int[3],
                new int[2], new float[4]));
        assertEquals("rollout does not fit the step's batch: rows=2, localRows=2, prompts=2, responses=3, lengths=2,"
                + " logProbs=4, expected samples=2 x responseLength=2 (2 local rows)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> StepBatch.of(1, SHAPE, SECOND, new int[] {4, 7},
                new int[] {1, 1}, List.of(new int[] {5}), new int[2], new int[] {2, 3}, new float[2]));
        assertEquals("response length out of range: sample=1, length=3, responseLength=2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> StepBatch.of(1, SHAPE, SECOND, new int[] {4, 7},
                new int[] {1}, List.of(new int[] {5}), new int[2], new int[] {2, 1}, new float[2]));
        assertEquals("prompts do not fit the step's batch: prompts=2, promptTokens=1, expected=2", e.getMessage());
    }

    @Test
    void shouldNameTheRoleResultAStepLacks() {
        StepBatch b = StepBatch.of(3, SHAPE, WHOLE, new int[] {4, 7}, new int[] {1, 1},
                List.of(new int[] {5}, new int[] {6}), new int[4], new int[] {1, 1}, new float[4]);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> b.computeAdvantages(TrainConfig.defaults(), 0.01, 0.0));
        assertEquals("step batch lacks a role's result: step=3, missing=old_log_probs", e.getMessage());
    }

    @Test
    void shouldRejectBaselineRowsThatDoNotFitTogether() {
        StepBatch b = StepBatch.of(1, SHAPE, WHOLE, new int[] {4, 7}, new int[] {1, 1},
                List.of(new int[] {5}, new int[] {6}), new int[4], new int[] {1, 1}, new float[4]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.baselineRows(new int[] {0, 1}, new int[2], new int[2]));
        assertEquals("baseline rows do not fit together: prompts=2, responses=2, lengths=2, responseLength=2",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> b.baselineRows(new int[] {2}, new int[2], new int[1]));
        assertEquals("baseline prompt out of range: row=0, prompt=2, prompts=2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> b.baselineRows(new int[] {1}, new int[2], new int[] {3}));
        assertEquals("baseline length out of range: row=0, length=3, responseLength=2", e.getMessage());
    }
}
