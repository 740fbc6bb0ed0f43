package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ShapeTest {

    @Test
    void shouldReportRankDimsAndElementCount() {
        Shape shape = Shape.of(4, 4096);
        assertEquals(2, shape.rank());
        assertEquals(4, shape.dim(0));
        assertEquals(4096, shape.dim(1));
        assertEquals(16384, shape.numel());
        assertArrayEquals(new long[] {4, 4096}, shape.dims());
        assertEquals("[4, 4096]", shape.toString());
    }

    @Test
    void shouldTreatRankZeroAsOneElement() {
        Shape scalar = Shape.of();
        assertEquals(0, scalar.rank());
        assertEquals(1, scalar.numel());
        assertEquals("[]", scalar.toString());
    }

    @Test
    void shouldCountZeroElementsForAnEmptyDimension() {
        assertEquals(0, Shape.of(3, 0, 5).numel());
    }

    @Test
    void shouldCopyDimsInAndOut() {
        long[] dims = {2, 3};
        Shape shape = Shape.of(dims);
        dims[0] = 99;
        shape.dims()[1] = 99;
        assertEquals(Shape.of(2, 3), shape);
    }

    @Test
    void shouldCompareByDimensions() {
        assertEquals(Shape.of(2, 3), Shape.of(2, 3));
        assertEquals(Shape.of(2, 3).hashCode(), Shape.of(2, 3).hashCode());
        assertNotEquals(Shape.of(3, 2), Shape.of(2, 3));
        assertNotEquals(Shape.of(6), Shape.of(2, 3));
    }

    @Test
    void shouldRejectNegativeDimension() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
        assertEquals("negative dimension: shape=[2, -1]", error.getMessage());
    }

    @Test
    void shouldRejectElementCountOverflow() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> Shape.of(1L << 40, 1L << 40));
        assertEquals("element count overflows a long: shape=[1099511627776, 1099511627776]", error.getMessage());
    }

    @Test
    void shouldRejectDimensionOutOfRange() {
        IndexOutOfBoundsException error = assertThrows(IndexOutOfBoundsException.class, () -> Shape.of(2, 3).dim(2));
        assertEquals("dimension out of range: dim=2, rank=2", error.getMessage());
    }

    @Test
    void shouldComputeRowMajorStrides() {
        assertArrayEquals(new long[] {12, 4, 1}, Shape.of(2, 3, 4).contiguousStrides());
    }
}
