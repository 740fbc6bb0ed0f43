package io.yatt.trainer.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RolloutModeTest {

    @Test
    void shouldGenerateEachStepWithTheWeightsItTrainsWhenSynchronous() {
        for (long k = 1; k <= 5; k++) {
            assertEquals(k - 1, RolloutMode.SYNC.weightVersion(k, 1));
            assertEquals(0, RolloutMode.SYNC.versionLag(k, 1));
            assertTrue(RolloutMode.SYNC.syncsBefore(k, 1));
        }
    }

    @Test
    void shouldLagExactlyOneVersionAfterTheFirstStepWhenAsynchronous() {
        long[] expected = {0, 0, 1, 2, 3};
        for (int k = 1; k <= 5; k++) {
            assertEquals(expected[k - 1], RolloutMode.ASYNC.weightVersion(k, 1), "step " + k);
            assertEquals(k == 1 ? 0 : 1, RolloutMode.ASYNC.versionLag(k, 1), "step " + k);
        }
        assertTrue(RolloutMode.ASYNC.syncsBefore(1, 1));
        assertFalse(RolloutMode.ASYNC.syncsBefore(2, 1));
        assertTrue(RolloutMode.ASYNC.syncsBefore(3, 1));
    }

    /** A resumed run holds version f - 1 only, so its first step has lag 0 again. */
    @Test
    void shouldRestartThePipelineAtAResumedStep() {
        assertEquals(6, RolloutMode.ASYNC.weightVersion(7, 7));
        assertEquals(6, RolloutMode.ASYNC.weightVersion(8, 7));
        assertEquals(7, RolloutMode.ASYNC.weightVersion(9, 7));
        assertEquals(0, RolloutMode.ASYNC.versionLag(7, 7));
        assertEquals(1, RolloutMode.ASYNC.versionLag(8, 7));
    }

    @Test
    void shouldRejectAStepBeforeTheFirst() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RolloutMode.ASYNC.weightVersion(2, 3));
        assertEquals("step must be at least the first step, which is at least 1: step=2, firstStep=3", e.getMessage());
    }
}
