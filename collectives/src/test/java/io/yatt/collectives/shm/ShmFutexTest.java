package io.yatt.collectives.shm;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShmFutexTest {
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    @Test
    void shouldLinkTheFutexOnLinux() {
        assertTrue(ShmFutex.AVAILABLE, "futex not linked on " + System.getProperty("os.arch"));
    }

    @Test
    void shouldWakeASleeperWhenTheWordChanges() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment word = arena.allocate(4, 4);
            MemorySegment timeout = ShmFutex.timeout(arena, 999_999_999L);
            INT.setVolatile(word, 0L, 5);
            Thread waker = Thread.ofPlatform().start(() -> {
                INT.setVolatile(word, 0L, 6);
                ShmFutex.wakeAll(word);
            });
            int wakeUps = 0;
            while ((int) INT.getVolatile(word, 0L) == 5) {
                ShmFutex.await(word, 5, timeout);
                wakeUps++;
            }
            waker.join();
            assertEquals(6, (int) INT.getVolatile(word, 0L));
            ShmFutex.await(word, 5, timeout); // holds 6: returns at once instead of sleeping
            assertTrue(wakeUps <= 1000, "wakeUps=" + wakeUps);
        }
    }

    @Test
    void shouldRejectATimeoutOutsideOneSecond() {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals("futex timeout out of range: timeoutNs=1000000000, expected 1..999999999",
                assertThrows(IllegalArgumentException.class, () -> ShmFutex.timeout(arena, 1_000_000_000L))
                    .getMessage());
            assertEquals("futex timeout out of range: timeoutNs=0, expected 1..999999999",
                assertThrows(IllegalArgumentException.class, () -> ShmFutex.timeout(arena, 0)).getMessage());
        }
    }
}
