package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class AllocationsTest {

    @Test
    void shouldAllowNodeSlicesAndWholeNodes() {
        assertEquals(List.of(1, 2, 4, 8, 16, 24), Allocations.sizes(24, 8));
        assertEquals(List.of(1, 2, 4), Allocations.sizes(4, 4));
    }

    @Test
    void shouldSplitOneNodeIntoTwoHalves() {
        // 8 = a + b with a, b in {1, 2, 4, 8}: only 4 + 4.
        List<int[]> all = Allocations.enumerate(8, 8, new int[] {1, 1});
        assertEquals(1, all.size());
        assertArrayEquals(new int[] {4, 4}, all.getFirst());
    }

    @Test
    void shouldCountHandEnumeratedAllocationsOfOneNode() {
        // Three sets: 4+2+2 in 3 orders. Four sets: 4+2+1+1 in 4!/2! = 12 orders, and 2+2+2+2 once.
        assertEquals(3, Allocations.enumerate(8, 8, new int[] {1, 1, 1}).size());
        assertEquals(13, Allocations.enumerate(8, 8, new int[] {1, 1, 1, 1}).size());
    }

    @Test
    void shouldRespectMinimumGpusPerSet() {
        // 16 GPUs to two sets: 8+8 only (12 is no allowed size); a set needing 16 leaves nothing for the other.
        assertEquals(1, Allocations.enumerate(16, 8, new int[] {1, 1}).size());
        assertEquals(0, Allocations.enumerate(16, 8, new int[] {16, 1}).size());
        // 16 GPUs to three sets: 8+4+4 in 3 orders; with the first set needing 8: only 8+4+4.
        assertEquals(3, Allocations.enumerate(16, 8, new int[] {1, 1, 1}).size());
        List<int[]> pinned = Allocations.enumerate(16, 8, new int[] {8, 1, 1});
        assertEquals(1, pinned.size());
        assertArrayEquals(new int[] {8, 4, 4}, pinned.getFirst());
    }

    @Test
    void shouldCountAllocationsThatLeaveGpusIdle() {
        // a, b in {1, 2, 4, 8} with a + b <= 8: (1,1) (1,2) (1,4) (2,1) (2,2) (2,4) (4,1) (4,2) (4,4).
        assertEquals(9, Allocations.enumerateAtMost(8, 8, new int[] {1, 1}).size());
    }

    @Test
    void shouldRejectGpusNotAMultipleOfTheNodeSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Allocations.sizes(12, 8));
        assertEquals("GPUs must be a positive multiple of the node size: gpus=12, gpusPerNode=8", e.getMessage());
    }
}
