package io.yatt.collectives.shm;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ShmCopyTest {

    /** Fills {@code seg} with a pattern that differs at every int position: value {@code i * 31 + salt}. */
    private static void fill(MemorySegment seg, int salt) {
        for (long i = 0; i < seg.byteSize() / 4; i++) {
            seg.setAtIndex(ValueLayout.JAVA_INT, i, (int) (i * 31 + salt));
        }
    }

    private static void assertPattern(MemorySegment seg, long fromInt, long toInt, int salt, long shiftInts) {
        for (long i = fromInt; i < toInt; i++) {
            int expected = (int) ((i + shiftInts) * 31 + salt);
            int actual = seg.getAtIndex(ValueLayout.JAVA_INT, i);
            if (actual != expected) {
                assertEquals(expected, actual, "int " + i);
            }
        }
    }

    /** Blocks just below, at and above the stream threshold, at odd offsets: every byte placed, nothing around it. */
    @Test
    void shouldPlaceEveryByteAroundTheStreamThreshold() {
        long[] sizes = {ShmCopy.NATIVE_THRESHOLD - 4, ShmCopy.NATIVE_THRESHOLD, ShmCopy.STREAM_THRESHOLD - 4,
            ShmCopy.STREAM_THRESHOLD, ShmCopy.STREAM_THRESHOLD + 4096 + 12};
        try (Arena arena = Arena.ofConfined()) {
            for (long size : sizes) {
                MemorySegment src = arena.allocate(size + 64, 64);
                MemorySegment dst = arena.allocate(size + 64, 64);
                fill(src, 7);
                fill(dst, 1000);
                ShmCopy.place(src, 8, dst, 16, size);
                long ints = (size + 64) / 4;
                assertPattern(dst, 0, 4, 1000, 0); // before the block: untouched
                assertPattern(dst, 4, 4 + size / 4, 7, -2); // dst int i holds src int i - 2
                assertPattern(dst, 4 + size / 4, ints, 1000, 0); // after the block: untouched
            }
        }
    }

    @Test
    void shouldLeaveExactlyAliasedBlocksAsTheyAre() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(ShmCopy.STREAM_THRESHOLD + 128, 64);
            fill(seg, 3);
            ShmCopy.place(seg, 64, seg, 64, ShmCopy.STREAM_THRESHOLD);
            ShmCopy.copy(seg, 64, seg, 64, ShmCopy.STREAM_THRESHOLD);
            assertPattern(seg, 0, seg.byteSize() / 4, 3, 0);
        }
    }
}
