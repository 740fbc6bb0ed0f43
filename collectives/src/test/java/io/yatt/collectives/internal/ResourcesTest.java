package io.yatt.collectives.internal;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class ResourcesTest {

    @Test
    void shouldCloseEveryResourceInOrderAndReturnNothingWhenNoneFails() {
        List<String> closed = new ArrayList<>();
        RuntimeException failure = Resources.closeAll(null, Arrays.asList(() -> closed.add("stream"), null,
                () -> closed.add("event")));
        assertNull(failure);
        assertEquals(List.of("stream", "event"), closed);
    }

    @Test
    void shouldKeepTheFirstFailureAndSuppressTheLaterOnesWhileClosingTheRest() {
        List<String> closed = new ArrayList<>();
        IllegalStateException first = new IllegalStateException("stream busy");
        IllegalArgumentException second = new IllegalArgumentException("event gone");
        RuntimeException failure = Resources.closeAll(null, List.of(() -> {
            throw first;
        }, () -> closed.add("buffer"), () -> {
            throw second;
        }, () -> closed.add("handle")));
        assertSame(first, failure);
        assertArrayEquals(new Throwable[] {second}, failure.getSuppressed());
        assertEquals(List.of("buffer", "handle"), closed);
    }

    @Test
    void shouldWrapACheckedFailureAndAddToAFailureAlreadyInHand() {
        Exception checked = new Exception("pinned buffer unmapped");
        RuntimeException wrapped = Resources.closeAll(null, List.of(() -> {
            throw checked;
        }));
        assertEquals("close failed: pinned buffer unmapped", wrapped.getMessage());
        assertSame(checked, wrapped.getCause());

        RuntimeException inHand = new IllegalStateException("ncclCommInitRank failed");
        assertSame(inHand, Resources.closeAll(inHand, List.of(() -> {
            throw checked;
        })));
        assertArrayEquals(new Throwable[] {checked}, inHand.getSuppressed());
    }
}
