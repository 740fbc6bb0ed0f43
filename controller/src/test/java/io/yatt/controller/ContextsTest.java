package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.CommonContext;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ContextsTest {

    @Test
    void shouldRejectNegativeInlineLimitAndAcceptZero() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Contexts.requireInlineLimit(-1));
        assertEquals("inline limit must be non-negative: inlineLimitBytes=-1", e.getMessage());
        assertDoesNotThrow(() -> Contexts.requireInlineLimit(0));
    }

    @Test
    void shouldRejectSecretShorterThanMinimumAndAcceptNoneOrMinimum() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Contexts.requireSecretLength(new byte[ControlPlane.MIN_SECRET_BYTES - 1]));
        assertEquals("shared secret too short: bytes=15, min=16", e.getMessage());
        assertDoesNotThrow(() -> Contexts.requireSecretLength(null));
        assertDoesNotThrow(() -> Contexts.requireSecretLength(new byte[ControlPlane.MIN_SECRET_BYTES]));
    }

    @Test
    void shouldNameEmbeddedDriverDirectoryAfterAeronDefaultNamePidAndRandomId() {
        String first = Contexts.embeddedDriverDirectory("worker-3");
        String second = Contexts.embeddedDriverDirectory("worker-3");
        Pattern expected = Pattern.compile(Pattern.quote(CommonContext.getAeronDirectoryName() + "-yatt-worker-3-p"
                + ProcessHandle.current().pid() + "-") + "[0-9a-f]{1,16}");
        assertTrue(expected.matcher(first).matches(), first);
        assertTrue(expected.matcher(second).matches(), second);
        assertNotEquals(first, second);
    }
}
