package io.yatt.collectives.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The 2D blocks that device copies between views are split into (no device needed: the plan is arithmetic). */
class DeviceCopiesTest {

    @Test
    void shouldCopyTwoContiguousViewsAsOneRow() {
        // a [4, 6] f32 tensor: the dimensions coalesce into one run of 96 bytes
        DeviceCopies.Block[] blocks = DeviceCopies.plan(new long[] {4, 6}, new long[] {24, 4}, new long[] {24, 4}, 4);
        assertArrayEquals(new DeviceCopies.Block[] {new DeviceCopies.Block(0, 0, 96, 1, 96, 96)}, blocks);
    }

    @Test
    void shouldPlaceARowParallelColumnBlockWithOne2DCopy() {
        // bf16 rows of 10 elements in a destination of 40 columns (pitch 80 bytes), from a contiguous [3, 10] piece
        DeviceCopies.Block[] blocks = DeviceCopies.plan(new long[] {3, 10}, new long[] {80, 2}, new long[] {20, 2}, 2);
        assertArrayEquals(new DeviceCopies.Block[] {new DeviceCopies.Block(0, 0, 20, 3, 80, 20)}, blocks);
        assertTrue(blocks[0].fits2D());
    }

    @Test
    void shouldRepeatTheBlockOverOuterDimensions() {
        // [2, 3, 4] f32 source contiguous, destination rows of 4 inside rows of 8, planes 64 floats apart
        DeviceCopies.Block[] blocks = DeviceCopies.plan(new long[] {2, 3, 4}, new long[] {256, 32, 4},
                new long[] {48, 16, 4}, 4);
        assertArrayEquals(new DeviceCopies.Block[] {new DeviceCopies.Block(0, 0, 16, 3, 32, 16),
                new DeviceCopies.Block(256, 48, 16, 3, 32, 16)}, blocks);
    }

    @Test
    void shouldCopyElementWiseRowsWhenTheInnerDimensionIsStrided() {
        // a column of a [5, 3] i32 matrix (stride 12 bytes) into a contiguous vector of 5
        DeviceCopies.Block[] blocks = DeviceCopies.plan(new long[] {5}, new long[] {4}, new long[] {12}, 4);
        assertArrayEquals(new DeviceCopies.Block[] {new DeviceCopies.Block(0, 0, 4, 5, 4, 12)}, blocks);
    }

    @Test
    void shouldPlanNothingForAnEmptyViewAndOneElementForAScalar() {
        assertEquals(0, DeviceCopies.plan(new long[] {3, 0}, new long[] {0, 4}, new long[] {0, 4}, 4).length);
        assertArrayEquals(new DeviceCopies.Block[] {new DeviceCopies.Block(0, 0, 8, 1, 8, 8)},
                DeviceCopies.plan(new long[] {1, 1}, new long[] {8, 8}, new long[] {16, 8}, 8));
    }

    @Test
    void shouldRefuseA2DCopyWhosePitchExceedsTheLimit() {
        long pitch = DeviceCopies.MAX_PITCH_BYTES + 1;
        assertFalse(new DeviceCopies.Block(0, 0, 4, 2, pitch, 4).fits2D());
        assertTrue(new DeviceCopies.Block(0, 0, 4, 1, pitch, 4).fits2D());
    }
}
