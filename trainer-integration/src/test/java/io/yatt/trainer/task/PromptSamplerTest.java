package io.yatt.trainer.task;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PromptSamplerTest {

    @Test
    void shouldDrawEveryPromptOncePerEpochAndReshuffleTheNext() {
        PromptSampler sampler = PromptSampler.of(10, 7);

        int[] first = sampler.next(10);
        assertEquals(new PromptSampler.State(1, 0), sampler.state());
        int[] second = sampler.next(10);

        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Arrays.stream(first).sorted().toArray());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Arrays.stream(second).sorted().toArray());
        assertFalse(Arrays.equals(first, second));
    }

    @Test
    void shouldContinueExactlyFromARestoredStateAcrossAnEpochBoundary() {
        PromptSampler uninterrupted = PromptSampler.of(10, 7);
        uninterrupted.next(6);
        int[] expected = uninterrupted.next(8);

        PromptSampler stopped = PromptSampler.of(10, 7);
        stopped.next(6);
        PromptSampler.State saved = stopped.state();
        PromptSampler resumed = PromptSampler.restore(10, 7, saved);

        assertEquals(new PromptSampler.State(0, 6), saved);
        assertArrayEquals(expected, resumed.next(8));
        assertEquals(new PromptSampler.State(1, 4), resumed.state());
    }

    @Test
    void shouldRejectAStateThatDoesNotFit() {
        assertEquals("sampler state does not fit: epoch=0, position=10, size=10", assertThrows(
                IllegalArgumentException.class,
                () -> PromptSampler.restore(10, 7, new PromptSampler.State(0, 10))).getMessage());
    }
}
