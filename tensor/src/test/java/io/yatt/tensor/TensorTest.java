package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TensorTest {
    private Allocator allocator;

    @BeforeEach
    void openAllocator() {
        allocator = Allocator.root("test");
    }

    @AfterEach
    void closeAllocator() {
        allocator.close();
    }

    private Tensor host(DType dtype, long... dims) {
        return Tensor.allocate(allocator, dtype, Shape.of(dims), Device.host());
    }

    /** A [rows, cols] F32 tensor holding 100 * row + col. */
    private Tensor iota(long rows, long cols) {
        Tensor tensor = host(DType.F32, rows, cols);
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < cols; c++) {
                tensor.setDouble(100 * r + c, r, c);
            }
        }
        return tensor;
    }

    @Test
    void shouldAllocateZeroedContiguousTensor() {
        try (Tensor tensor = host(DType.F32, 3, 5)) {
            assertEquals(DType.F32, tensor.dtype());
            assertEquals(Shape.of(3, 5), tensor.shape());
            assertArrayEquals(new long[] {5, 1}, tensor.strides());
            assertEquals(0, tensor.byteOffset());
            assertEquals(Device.host(), tensor.device());
            assertEquals(15, tensor.numel());
            assertEquals(60, tensor.byteSize());
            assertTrue(tensor.isContiguous());
            assertTrue(tensor.isOwner());
            assertFalse(tensor.isReadOnly());
            assertEquals(-1, tensor.segment().mismatch(MemorySegment.ofArray(new byte[60])));
            assertEquals(0, tensor.segment().address() % Allocator.HOST_ALIGNMENT_BYTES);
        }
    }

    @Test
    void shouldConvertValuesOnSetAndGetForEveryDtype() {
        double[][] cases = {
            // dtype ordinal, value written, value read back
            {DType.F32.ordinal(), 0.1, (float) 0.1},
            {DType.F64.ordinal(), 0.1, 0.1},
            {DType.F16.ordinal(), 0.1, 0.0999755859375},
            {DType.BF16.ordinal(), 0.1, 0.10009765625},
            {DType.I8.ordinal(), -7.9, -7},
            {DType.I8.ordinal(), 300, 127},
            {DType.I8.ordinal(), -300, -128},
            {DType.U8.ordinal(), 200.5, 200},
            {DType.U8.ordinal(), -3, 0},
            {DType.U8.ordinal(), 999, 255},
            {DType.I32.ordinal(), 1e12, Integer.MAX_VALUE},
            {DType.I32.ordinal(), Double.NaN, 0},
            {DType.I64.ordinal(), -123456789012.7, -123456789012.0},
            {DType.BOOL.ordinal(), 0.5, 1},
            {DType.BOOL.ordinal(), 0, 0},
            {DType.BOOL.ordinal(), Double.NaN, 1},
        };
        for (double[] c : cases) {
            DType dtype = DType.values()[(int) c[0]];
            try (Tensor tensor = host(dtype, 2)) {
                tensor.setDouble(c[1], 1);
                assertEquals(c[2], tensor.getDouble(1), dtype + " " + c[1]);
                assertEquals(0.0, tensor.getDouble(0));
            }
        }
    }

    @Test
    void shouldStoreLittleEndianBytes() {
        try (Tensor tensor = host(DType.I32, 1)) {
            tensor.setDouble(0x01020304, 0);
            byte[] bytes = tensor.segment().toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(new byte[] {4, 3, 2, 1}, bytes);
        }
    }

    @Test
    void shouldRejectBadIndices() {
        try (Tensor tensor = host(DType.F32, 2, 3)) {
            IndexOutOfBoundsException rank = assertThrows(IndexOutOfBoundsException.class, () -> tensor.getDouble(1));
            assertEquals("index rank mismatch: index=[1], shape=[2, 3]", rank.getMessage());
            IndexOutOfBoundsException range = assertThrows(IndexOutOfBoundsException.class,
                    () -> tensor.setDouble(1, 1, 3));
            assertEquals("index out of range: index=[1, 3], shape=[2, 3]", range.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> tensor.getDouble(-1, 0));
        }
    }

    @Test
    void shouldNarrowIntoASharedView() {
        try (Tensor tensor = iota(4, 6)) {
            Tensor rows = tensor.narrow(0, 1, 2);
            assertEquals(Shape.of(2, 6), rows.shape());
            assertEquals(24, rows.byteOffset());
            assertTrue(rows.isContiguous());
            assertFalse(rows.isOwner());
            assertEquals(105.0, rows.getDouble(0, 5));
            Tensor cols = tensor.narrow(1, 2, 3);
            assertEquals(Shape.of(4, 3), cols.shape());
            assertArrayEquals(new long[] {6, 1}, cols.strides());
            assertEquals(8, cols.byteOffset());
            assertFalse(cols.isContiguous());
            assertEquals(304.0, cols.getDouble(3, 2));
            cols.setDouble(-1, 0, 0);
            assertEquals(-1.0, tensor.getDouble(0, 2));
            Tensor nested = cols.narrow(0, 3, 1).narrow(1, 1, 2);
            assertEquals(303.0, nested.getDouble(0, 0));
            assertEquals(4 * (18 + 3), nested.byteOffset());
        }
    }

    @Test
    void shouldRejectNarrowOutOfRange() {
        try (Tensor tensor = host(DType.F32, 4, 6)) {
            IndexOutOfBoundsException range = assertThrows(IndexOutOfBoundsException.class,
                    () -> tensor.narrow(1, 4, 3));
            assertEquals("narrow out of range: dim=1, start=4, length=3, size=6", range.getMessage());
            IndexOutOfBoundsException negative = assertThrows(IndexOutOfBoundsException.class,
                    () -> tensor.narrow(0, -1, 1));
            assertEquals("narrow out of range: dim=0, start=-1, length=1, size=4", negative.getMessage());
            IndexOutOfBoundsException dim = assertThrows(IndexOutOfBoundsException.class,
                    () -> tensor.narrow(2, 0, 1));
            assertEquals("dimension out of range: dim=2, rank=2", dim.getMessage());
            assertEquals(Shape.of(4, 0), tensor.narrow(1, 6, 0).shape());
        }
    }

    @Test
    void shouldViewContiguousTensorUnderAnotherShape() {
        try (Tensor tensor = iota(4, 6)) {
            Tensor view = tensor.view(Shape.of(2, 3, 4));
            assertArrayEquals(new long[] {12, 4, 1}, view.strides());
            assertEquals(tensor.getDouble(2, 3), view.getDouble(1, 0, 3));
            Tensor flat = tensor.flatten();
            assertEquals(Shape.of(24), flat.shape());
            assertEquals(305.0, flat.getDouble(23));
        }
    }

    @Test
    void shouldViewStridedTensorWhereStridesAllow() {
        try (Tensor tensor = iota(4, 6)) {
            Tensor cols = tensor.narrow(1, 0, 3);
            Tensor split = cols.view(Shape.of(2, 2, 3));
            assertArrayEquals(new long[] {12, 6, 1}, split.strides());
            assertEquals(301.0, split.getDouble(1, 1, 1));
            Tensor unsqueezed = cols.view(Shape.of(4, 1, 3));
            assertArrayEquals(new long[] {6, 3, 1}, unsqueezed.strides());
            assertEquals(202.0, unsqueezed.getDouble(2, 0, 2));
        }
    }

    @Test
    void shouldRejectImpossibleViews() {
        try (Tensor tensor = host(DType.F32, 4, 6)) {
            IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                    () -> tensor.view(Shape.of(5, 5)));
            assertEquals("view element count mismatch: shape=[4, 6], numel=24, requested=[5, 5], requestedNumel=25",
                    count.getMessage());
            Tensor cols = tensor.narrow(1, 0, 3);
            IllegalArgumentException strides = assertThrows(IllegalArgumentException.class, cols::flatten);
            assertEquals("view incompatible with strides: shape=[4, 3], strides=[6, 1], requested=[12];"
                    + " call contiguous() first", strides.getMessage());
        }
    }

    @Test
    void shouldChunkLikePyTorch() {
        try (Tensor tensor = iota(10, 2)) {
            List<Tensor> chunks = tensor.chunk(4, 0);
            assertEquals(List.of(3L, 3L, 3L, 1L), chunks.stream().map(t -> t.shape().dim(0)).toList());
            assertEquals(900.0, chunks.get(3).getDouble(0, 0));
            assertEquals(List.of(2L, 2L, 2L),
                    tensor.narrow(0, 0, 6).chunk(4, 0).stream().map(t -> t.shape().dim(0)).toList());
            assertEquals(List.of(1L, 1L), tensor.chunk(2, 1).stream().map(t -> t.shape().dim(1)).toList());
            assertEquals(1, tensor.narrow(0, 0, 0).chunk(3, 0).size());
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> tensor.chunk(0, 0));
            assertEquals("chunk count must be positive: chunks=0", error.getMessage());
        }
    }

    @Test
    void shouldSplitIntoFixedSizePieces() {
        try (Tensor tensor = iota(3, 7)) {
            List<Tensor> pieces = tensor.split(3, 1);
            assertEquals(List.of(3L, 3L, 1L), pieces.stream().map(t -> t.shape().dim(1)).toList());
            assertEquals(206.0, pieces.get(2).getDouble(2, 0));
            assertEquals(4 * 3, pieces.get(1).byteOffset());
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> tensor.split(0, 1));
            assertEquals("split size must be positive: splitSize=0", error.getMessage());
            IndexOutOfBoundsException dim = assertThrows(IndexOutOfBoundsException.class, () -> tensor.split(1, 5));
            assertEquals("dimension out of range: dim=5, rank=2", dim.getMessage());
        }
    }

    @Test
    void shouldMakeStridedTensorContiguousAndReturnAViewOtherwise() {
        try (Tensor tensor = iota(4, 6)) {
            try (Tensor copy = tensor.narrow(1, 1, 4).contiguous(allocator)) {
                assertTrue(copy.isOwner());
                assertTrue(copy.isContiguous());
                assertEquals(Shape.of(4, 4), copy.shape());
                assertEquals(304.0, copy.getDouble(3, 3));
                assertEquals(96 + 64, allocator.allocatedBytes());
            }
            try (Tensor same = tensor.narrow(0, 1, 2).contiguous(allocator)) {
                assertFalse(same.isOwner());
                assertEquals(24, same.byteOffset());
            }
        }
    }

    @Test
    void shouldCopyBetweenAnyHostLayouts() {
        try (Tensor src = iota(5, 7); Tensor dst = host(DType.F32, 8, 9)) {
            Tensor window = dst.narrow(0, 2, 4).narrow(1, 3, 5);
            window.copyFrom(src.narrow(0, 1, 4).narrow(1, 2, 5));
            for (long r = 0; r < 8; r++) {
                for (long c = 0; c < 9; c++) {
                    boolean inside = r >= 2 && r < 6 && c >= 3 && c < 8;
                    double expected = inside ? 100 * (r - 2 + 1) + (c - 3 + 2) : 0;
                    assertEquals(expected, dst.getDouble(r, c), r + "," + c);
                }
            }
        }
    }

    @Test
    void shouldCopyTransposedLayoutsElementByElement() {
        for (DType dtype : new DType[] {DType.U8, DType.BF16, DType.F32, DType.I64}) {
            try (Tensor src = host(dtype, 3, 4); Tensor dst = host(dtype, 4, 3)) {
                src.fillRandom(7);
                Tensor transposed = src.asStrided(Shape.of(4, 3), new long[] {1, 4}, 0);
                dst.copyFrom(transposed);
                for (long r = 0; r < 4; r++) {
                    for (long c = 0; c < 3; c++) {
                        assertEquals(src.getDouble(c, r), dst.getDouble(r, c));
                    }
                }
                assertTrue(dst.contentEquals(transposed));
            }
        }
    }

    @Test
    void shouldCopyBetweenShapesWithEqualCountWhenBothContiguous() {
        try (Tensor src = iota(2, 3); Tensor dst = host(DType.F32, 6)) {
            dst.copyFrom(src);
            assertEquals(102.0, dst.getDouble(5));
            assertTrue(dst.view(Shape.of(2, 3)).contentEquals(src));
        }
    }

    @Test
    void shouldRejectMismatchedCopies() {
        try (Tensor f32 = host(DType.F32, 2, 3); Tensor bf16 = host(DType.BF16, 2, 3); Tensor other = host(DType.F32, 3, 3);
             Tensor flat = host(DType.F32, 6)) {
            IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class, () -> f32.copyFrom(bf16));
            assertEquals("copy dtype mismatch: dst=F32, src=BF16", dtype.getMessage());
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> f32.copyFrom(other));
            assertEquals("copy shape mismatch: dst=[2, 3], src=[3, 3], expected equal shapes, or equal numel with both"
                    + " contiguous", shape.getMessage());
            IllegalArgumentException strided = assertThrows(IllegalArgumentException.class,
                    () -> flat.copyFrom(other.narrow(1, 0, 2)));
            assertEquals("copy shape mismatch: dst=[6], src=[3, 2], expected equal shapes, or equal numel with both"
                    + " contiguous", strided.getMessage());
        }
    }

    @Test
    void shouldFillEveryElementOfTheViewOnly() {
        try (Tensor tensor = host(DType.BF16, 3, 4)) {
            tensor.narrow(1, 1, 2).fill(1.5);
            for (long r = 0; r < 3; r++) {
                for (long c = 0; c < 4; c++) {
                    assertEquals(c == 1 || c == 2 ? 1.5 : 0.0, tensor.getDouble(r, c));
                }
            }
        }
        for (DType dtype : DType.values()) {
            try (Tensor tensor = host(dtype, 1001)) {
                tensor.fill(3);
                for (long i = 0; i < 1001; i++) {
                    assertEquals(dtype == DType.BOOL ? 1.0 : 3.0, tensor.getDouble(i), dtype + " " + i);
                }
            }
        }
    }

    @Test
    void shouldFillRandomDeterministicallyForAnyLayout() {
        for (DType dtype : DType.values()) {
            try (Tensor a = host(dtype, 4, 5); Tensor b = host(dtype, 4, 5); Tensor wide = host(dtype, 4, 9)) {
                a.fillRandom(42);
                b.fillRandom(42);
                assertTrue(a.contentEquals(b), dtype.toString());
                Tensor strided = wide.narrow(1, 2, 5);
                strided.fillRandom(42);
                assertTrue(a.contentEquals(strided), dtype.toString());
                b.fillRandom(43);
                if (dtype != DType.BOOL) {
                    assertFalse(a.contentEquals(b), dtype.toString());
                }
            }
        }
    }

    @Test
    void shouldFillRandomWithinDtypeRanges() {
        for (DType dtype : DType.values()) {
            try (Tensor tensor = host(dtype, 20000)) {
                tensor.fillRandom(1);
                double min = Double.MAX_VALUE;
                double max = -Double.MAX_VALUE;
                for (long i = 0; i < tensor.numel(); i++) {
                    double v = tensor.getDouble(i);
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                switch (dtype) {
                    case F32, F64, F16, BF16 -> {
                        assertTrue(min >= -1 && min < -0.99, dtype + " min " + min);
                        assertTrue(max < 1 && max > 0.99, dtype + " max " + max);
                    }
                    case I8, I32, I64 -> {
                        assertEquals(-8.0, min, dtype.toString());
                        assertEquals(7.0, max, dtype.toString());
                    }
                    case U8 -> {
                        assertEquals(0.0, min);
                        assertEquals(15.0, max);
                    }
                    case BOOL -> {
                        assertEquals(0.0, min);
                        assertEquals(1.0, max);
                    }
                }
            }
        }
    }

    @Test
    void shouldCompareBitwise() {
        try (Tensor a = host(DType.F32, 3); Tensor b = host(DType.F32, 3)) {
            a.setDouble(Double.NaN, 0);
            b.setDouble(Double.NaN, 0);
            assertTrue(a.contentEquals(b));
            b.setDouble(-0.0, 2);
            assertFalse(a.contentEquals(b));
            assertTrue(a.allClose(a.narrow(0, 0, 3).view(Shape.of(3)), 0, 0) == false);
            try (Tensor other = host(DType.F64, 3)) {
                assertFalse(a.contentEquals(other));
            }
            assertFalse(a.contentEquals(a.view(Shape.of(1, 3))));
        }
    }

    @Test
    void shouldCompareWithTolerance() {
        try (Tensor a = host(DType.F32, 3); Tensor b = host(DType.F64, 3)) {
            a.setDouble(1.0, 0);
            b.setDouble(1.001, 0);
            a.setDouble(Double.POSITIVE_INFINITY, 1);
            b.setDouble(Double.POSITIVE_INFINITY, 1);
            assertTrue(a.allClose(b, 1e-3, 0));
            assertFalse(a.allClose(b, 1e-4, 0));
            assertTrue(a.allClose(b, 0, 0.0011));
            b.setDouble(Double.NEGATIVE_INFINITY, 1);
            assertFalse(a.allClose(b, 1, 1));
            b.setDouble(Double.POSITIVE_INFINITY, 1);
            b.setDouble(Double.NaN, 2);
            assertFalse(a.allClose(b, 1, 1));
            assertFalse(a.allClose(a.view(Shape.of(3, 1)), 1, 1));
        }
    }

    @Test
    void shouldWrapHostMemoryWithoutOwningIt() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(64);
            segment.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 4, 2.5f);
            Tensor tensor = Tensor.wrap(segment, DType.F32, Shape.of(2, 4));
            assertFalse(tensor.isOwner());
            assertEquals(2.5, tensor.getDouble(0, 1));
            assertEquals(segment.address(), tensor.dataPointer().address());
            assertEquals(32, tensor.segment().byteSize());
            tensor.close();
            assertEquals(2.5f, segment.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 4));
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.wrap(segment, DType.F64, Shape.of(9)));
            assertEquals("segment too small: required=72, byteSize=64", small.getMessage());
        }
    }

    @Test
    void shouldRefuseWritesToReadOnlyTensors() {
        try (Arena arena = Arena.ofConfined(); Tensor src = host(DType.I32, 4)) {
            Tensor tensor = Tensor.wrap(arena.allocate(16).asReadOnly(), DType.I32, Shape.of(4));
            assertTrue(tensor.isReadOnly());
            UnsupportedOperationException fill = assertThrows(UnsupportedOperationException.class, () -> tensor.fill(1));
            assertEquals("tensor is read-only: dtype=I32, shape=[4], device=host, wrapped", fill.getMessage());
            assertThrows(UnsupportedOperationException.class, () -> tensor.setDouble(1, 0));
            assertThrows(UnsupportedOperationException.class, () -> tensor.copyFrom(src));
            assertThrows(UnsupportedOperationException.class, () -> tensor.fillRandom(1));
            assertEquals(0.0, tensor.getDouble(3));
        }
    }

    @Test
    void shouldExposeExactlyTheTensorBytesAsASegment() {
        try (Tensor tensor = iota(4, 6)) {
            MemorySegment rows = tensor.narrow(0, 2, 1).segment();
            assertEquals(24, rows.byteSize());
            assertEquals(tensor.segment().address() + 48, rows.address());
            assertEquals(205f, rows.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 20));
            assertEquals(tensor.segment().address() + 52, tensor.narrow(0, 2, 1).narrow(1, 1, 5).dataPointer().address());
            IllegalStateException strided = assertThrows(IllegalStateException.class,
                    () -> tensor.narrow(1, 0, 2).segment());
            assertEquals("segment() needs a contiguous tensor: dtype=F32, shape=[4, 2], device=host, strides=[6, 1]",
                    strided.getMessage());
        }
    }

    @Test
    void shouldReturnAViewWhenAlreadyOnTheTargetDevice() {
        try (Tensor tensor = iota(2, 2); Tensor same = tensor.to(Device.host(), allocator)) {
            assertFalse(same.isOwner());
            assertEquals(101.0, same.getDouble(1, 1));
        }
    }

    @Test
    void shouldFailOnUseAfterFree() {
        Tensor tensor = host(DType.F32, 4, 4);
        Tensor view = tensor.narrow(0, 0, 2);
        MemorySegment segment = tensor.segment();
        tensor.close();
        IllegalStateException get = assertThrows(IllegalStateException.class, () -> view.getDouble(0, 0));
        assertEquals("tensor used after free: dtype=F32, shape=[2, 4], device=host, allocator=test", get.getMessage());
        assertThrows(IllegalStateException.class, () -> view.fill(1));
        assertThrows(IllegalStateException.class, view::segment);
        assertThrows(IllegalStateException.class, () -> view.narrow(0, 0, 1));
        // Raw segments handed out earlier are guarded by their Arena: an exception, never a crash.
        assertThrows(IllegalStateException.class, () -> segment.get(ValueLayout.JAVA_FLOAT, 0));
        IllegalStateException twice = assertThrows(IllegalStateException.class, tensor::close);
        assertEquals("tensor already closed: dtype=F32, shape=[4, 4], device=host", twice.getMessage());
        IllegalStateException closedUse = assertThrows(IllegalStateException.class, () -> tensor.getDouble(0, 0));
        assertEquals("tensor used after close: dtype=F32, shape=[4, 4], device=host", closedUse.getMessage());
        assertEquals(0, allocator.allocatedBytes());
    }

    @Test
    void shouldCloseViewsWithoutFreeingStorage() {
        try (Tensor tensor = iota(2, 2)) {
            Tensor view = tensor.narrow(0, 1, 1);
            view.close();
            assertTrue(view.isClosed());
            assertEquals(101.0, tensor.getDouble(1, 1));
            assertEquals(16, allocator.allocatedBytes());
        }
    }

    @Test
    void shouldRejectStridedViewsOutsideStorage() {
        try (Tensor tensor = host(DType.F32, 4)) {
            IndexOutOfBoundsException error = assertThrows(IndexOutOfBoundsException.class,
                    () -> tensor.asStrided(Shape.of(2, 2), new long[] {3, 1}, 0));
            assertEquals("strided view outside storage: shape=[2, 2], strides=[3, 1], byteOffset=0, storageByteSize=16",
                    error.getMessage());
        }
    }

    @Test
    void shouldRejectTensorsWhoseByteSizeOverflows() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> Tensor.allocate(allocator, DType.F64, Shape.of(1L << 61), Device.host()));
        assertEquals("tensor byte size overflows a long: dtype=F64, shape=[2305843009213693952]", error.getMessage());
    }

    @Test
    void shouldHandleTensorsLargerThanTwoGibibytes() {
        long numel = (5L << 30) / 2 / 4; // 2.5 GiB of F32
        try (Tensor big = host(DType.F32, numel); Tensor small = host(DType.F32, 1024)) {
            assertEquals(5L << 29, big.byteSize());
            long last = numel - 1;
            big.setDouble(7.5, last);
            big.setDouble(-2, (1L << 29) + 3); // byte offset past 2 GiB
            Tensor tail = big.narrow(0, numel - 1024, 1024);
            assertEquals((5L << 29) - 4096, tail.byteOffset());
            small.copyFrom(tail);
            assertEquals(7.5, small.getDouble(1023));
            assertEquals(0.0, small.getDouble(0));
            small.fill(3);
            tail.copyFrom(small);
            assertEquals(3.0, big.getDouble(last));
            assertEquals(-2.0, big.getDouble((1L << 29) + 3));
            assertEquals(0.0, big.getDouble((1L << 29) + 4));
            assertTrue(tail.contentEquals(small));
            assertEquals(5L << 29, big.segment().byteSize());
        }
    }
}
