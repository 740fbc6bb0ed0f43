package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressTest {

    @Test
    void shouldDrawABarOnlyOnAConsoleOutsideCi() {
        assertTrue(Progress.isInteractive(true, null));
        assertTrue(Progress.isInteractive(true, "false"));
        assertFalse(Progress.isInteractive(true, "true"));
        assertFalse(Progress.isInteractive(false, null));
    }

    @Test
    void shouldPrintPlainLinesWithElapsedTimeAndEtaFromTheStepsDoneHere() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong clock = new AtomicLong(0);
        Progress.Lines lines = new Progress.Lines("train", 10, 50, new PrintStream(bytes, true,
                StandardCharsets.UTF_8), clock::get);

        clock.set(4_000_000_000L);
        lines.update(12, "reward=0.530");
        clock.set(3_600_000_000_000L);
        lines.update(13, "");
        lines.close();

        // 2 steps in 4 s: 2 s per step, 38 left -> 76 s; then 3 steps in 3600 s: 1200 s per step, 37 left.
        assertEquals("train 12/50 (24%) elapsed 0:00:04 eta 0:01:16 reward=0.530\n"
                + "train 13/50 (26%) elapsed 1:00:00 eta 12:20:00\n", bytes.toString(StandardCharsets.UTF_8));
        assertEquals("progress already closed: task=train",
                assertThrows(IllegalStateException.class, () -> lines.update(14, "")).getMessage());
    }

    @Test
    void shouldDrawTheLibraryBarWithTheExtraMessage() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Progress bar = Progress.create("train", 0, 4, true, new PrintStream(bytes, true,
                StandardCharsets.UTF_8))) {
            bar.update(3, "reward=0.750");
        }

        String drawn = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(drawn.contains("train  75%"), drawn);
        assertTrue(drawn.contains("3/4"), drawn);
        assertTrue(drawn.contains("reward=0.750"), drawn);
        assertEquals("progress start outside [0, total]: start=5, total=4", assertThrows(
                IllegalArgumentException.class, () -> Progress.create("train", 5, 4, false, System.out)).getMessage());
    }
}
