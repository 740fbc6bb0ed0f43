package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveTestData;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ReductionKernelTest {
    private static final DType[] DTYPES = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64};
    private static final long[] COUNTS = {0, 1, ReductionKernel.BLOCK_ELEMENTS - 1, ReductionKernel.BLOCK_ELEMENTS,
            ReductionKernel.BLOCK_ELEMENTS + 1, 5003};

    private static MemorySegment segment(Arena arena, byte[] bytes, long padBytes) {
        MemorySegment segment = arena.allocate(bytes.length + 2 * padBytes + 1, 1);
        MemorySegment.copy(bytes, 0, segment, ValueLayout.JAVA_BYTE, padBytes, bytes.length);
        return segment;
    }

    @Test
    void shouldMatchTheRankOrderReferenceForEveryDtypeOpAndOperandCount() {
        ReductionKernel kernel = ReductionKernel.create();
        try (Arena arena = Arena.ofConfined()) {
            for (DType dtype : DTYPES) {
                for (ReduceOp op : ReduceOp.values()) {
                    for (int n = 1; n <= 8; n += 3) {
                        for (long count : COUNTS) {
                            long seed = dtype.ordinal() * 1000L + op.ordinal() * 100L + n * 10L + count;
                            byte[][] inputs = CollectiveTestData.inputs(dtype, n, count, seed);
                            MemorySegment[] srcs = new MemorySegment[n];
                            for (int k = 0; k < n; k++) {
                                srcs[k] = segment(arena, inputs[k], 0);
                            }
                            MemorySegment dst = arena.allocate(count * dtype.byteSize() + 1, 1);
                            kernel.reduce(dtype, op, srcs, n, 0, dst, 0, count);
                            assertArrayEquals(CollectiveTestData.reduce(dtype, op, inputs, 0, count),
                                    dst.asSlice(0, count * dtype.byteSize()).toArray(ValueLayout.JAVA_BYTE),
                                    dtype + " " + op + " n=" + n + " count=" + count);
                        }
                    }
                }
            }
        }
    }

    @Test
    void shouldMatchTheRankOrderReferenceForEveryFusedOperandCountAcrossViewWindows() {
        int window = 3000; // not a multiple of the block: blocks restart at every window edge
        ReductionKernel kernel = ReductionKernel.withWindow(window);
        int count = 3 * window + 5;
        try (Arena arena = Arena.ofConfined()) {
            for (DType dtype : new DType[] {DType.F32, DType.F64}) {
                for (ReduceOp op : ReduceOp.values()) {
                    for (int n = 1; n <= 9; n++) {
                        double[][] values = fullPrecisionValues(n, count, 7919L * n + op.ordinal());
                        byte[] expected = rankOrderReference(dtype, op, values);
                        MemorySegment[] srcs = new MemorySegment[n];
                        long[] offsets = new long[n];
                        for (int k = 0; k < n; k++) {
                            offsets[k] = k + 1;
                            srcs[k] = segment(arena, encode(dtype, values[k]), offsets[k]);
                        }
                        MemorySegment dst = arena.allocate(count * dtype.byteSize() + 3, 1);
                        kernel.reduce(dtype, op, srcs, offsets, 0, n, dst, 3, count, n);
                        assertArrayEquals(expected, dst.asSlice(3, count * dtype.byteSize())
                                .toArray(ValueLayout.JAVA_BYTE), dtype + " " + op + " n=" + n);
                        kernel.reduce(dtype, op, srcs, offsets, 0, n, srcs[n - 1], offsets[n - 1], count, n);
                        assertArrayEquals(expected, srcs[n - 1].asSlice(offsets[n - 1], count * dtype.byteSize())
                                .toArray(ValueLayout.JAVA_BYTE), dtype + " " + op + " n=" + n + " in place");
                    }
                }
            }
        }
    }

    /** Full mantissas, exponents over 2^-20..2^20: any other order of additions rounds some element differently. */
    private static double[][] fullPrecisionValues(int n, int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[][] values = new double[n][count];
        for (int k = 0; k < n; k++) {
            for (int i = 0; i < count; i++) {
                values[k][i] = Math.scalb(random.nextDouble(-1, 1), random.nextInt(-20, 21));
            }
        }
        return values;
    }

    private static byte[] encode(DType dtype, double[] values) {
        ByteBuffer out = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.nativeOrder());
        for (double v : values) {
            if (dtype == DType.F32) {
                out.putFloat((float) v);
            } else {
                out.putDouble(v);
            }
        }
        return out.array();
    }

    /** One element at a time, operands in rank order, in the dtype's own precision; AVG divides the sum once. */
    private static byte[] rankOrderReference(DType dtype, ReduceOp op, double[][] values) {
        int n = values.length;
        int count = values[0].length;
        double[] out = new double[count];
        for (int i = 0; i < count; i++) {
            if (dtype == DType.F32) {
                float acc = (float) values[0][i];
                for (int k = 1; k < n; k++) {
                    float x = (float) values[k][i];
                    acc = switch (op) {
                        case SUM, AVG -> acc + x;
                        case PROD -> acc * x;
                        case MAX -> Math.max(acc, x);
                        case MIN -> Math.min(acc, x);
                    };
                }
                out[i] = op == ReduceOp.AVG ? acc / (float) n : acc;
            } else {
                double acc = values[0][i];
                for (int k = 1; k < n; k++) {
                    double x = values[k][i];
                    acc = switch (op) {
                        case SUM, AVG -> acc + x;
                        case PROD -> acc * x;
                        case MAX -> Math.max(acc, x);
                        case MIN -> Math.min(acc, x);
                    };
                }
                out[i] = op == ReduceOp.AVG ? acc / n : acc;
            }
        }
        return encode(dtype, out);
    }

    @Test
    void shouldRejectAnEmptyViewWindow() {
        assertEquals("window out of range: windowElements=0, expected >= 1",
                assertThrows(IllegalArgumentException.class, () -> ReductionKernel.withWindow(0)).getMessage());
    }

    @Test
    void shouldReduceInPlaceIntoOneOfTheOperandsAtUnalignedOffsets() {
        ReductionKernel kernel = ReductionKernel.create();
        try (Arena arena = Arena.ofConfined()) {
            for (DType dtype : DTYPES) {
                long count = 3 * ReductionKernel.BLOCK_ELEMENTS + 5;
                byte[][] inputs = CollectiveTestData.inputs(dtype, 3, count, 11);
                MemorySegment[] srcs = {segment(arena, inputs[0], 3), segment(arena, inputs[1], 5), segment(arena, inputs[2], 7)};
                long[] offsets = {3, 5, 7};
                kernel.reduce(dtype, ReduceOp.SUM, srcs, offsets, 0, 3, srcs[1], 5, count, 3);
                assertArrayEquals(CollectiveTestData.reduce(dtype, ReduceOp.SUM, inputs, 0, count),
                        srcs[1].asSlice(5, count * dtype.byteSize()).toArray(ValueLayout.JAVA_BYTE), dtype.toString());
            }
        }
    }

    @Test
    void shouldMatchTheReferenceWithHeapAndNativeOperandsMixed() {
        ReductionKernel kernel = ReductionKernel.create();
        try (Arena arena = Arena.ofConfined()) {
            for (DType dtype : DTYPES) {
                for (ReduceOp op : ReduceOp.values()) {
                    long count = 2 * ReductionKernel.BLOCK_ELEMENTS + 3;
                    byte[][] inputs = CollectiveTestData.inputs(dtype, 3, count, 97L + op.ordinal());
                    // heap first (no buffer view: the scalar loops), then native, then heap after a native one
                    MemorySegment[] srcs = {MemorySegment.ofArray(inputs[0].clone()), segment(arena, inputs[1], 0),
                        MemorySegment.ofArray(inputs[2].clone())};
                    MemorySegment heapDst = MemorySegment.ofArray(new byte[(int) (count * dtype.byteSize())]);
                    kernel.reduce(dtype, op, srcs, 3, 0, heapDst, 0, count);
                    byte[] expected = CollectiveTestData.reduce(dtype, op, inputs, 0, count);
                    assertArrayEquals(expected, heapDst.toArray(ValueLayout.JAVA_BYTE), dtype + " " + op + " heap");
                    MemorySegment[] swapped = {srcs[1], srcs[0], srcs[2]};
                    byte[][] swappedInputs = {inputs[1], inputs[0], inputs[2]};
                    MemorySegment nativeDst = arena.allocate(count * dtype.byteSize(), 1);
                    kernel.reduce(dtype, op, swapped, 3, 0, nativeDst, 0, count);
                    assertArrayEquals(CollectiveTestData.reduce(dtype, op, swappedInputs, 0, count),
                            nativeDst.toArray(ValueLayout.JAVA_BYTE), dtype + " " + op + " native first");
                }
            }
        }
    }

    @Test
    void shouldDivideAveragesByTheGivenDivisor() {
        ReductionKernel kernel = ReductionKernel.create();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(ValueLayout.JAVA_INT, 2);
            src.setAtIndex(ValueLayout.JAVA_INT, 0, 7);
            src.setAtIndex(ValueLayout.JAVA_INT, 1, -7);
            MemorySegment dst = arena.allocate(ValueLayout.JAVA_INT, 2);
            kernel.reduce(DType.I32, ReduceOp.AVG, new MemorySegment[] {src}, null, 0, 1, dst, 0, 2, 2);
            assertEquals(3, dst.getAtIndex(ValueLayout.JAVA_INT, 0));
            assertEquals(-3, dst.getAtIndex(ValueLayout.JAVA_INT, 1));
        }
    }

    @Test
    void shouldRoundBf16LikeTheTensorModule() {
        int[] probes = {0x3F808000, 0x3F818000, 0x3F80FFFF, 0x7F7FFFFF, 0xFF800000, 0x00000001, 0x80008000};
        for (int bits : probes) {
            float value = Float.intBitsToFloat(bits);
            assertEquals(io.yatt.tensor.Half.floatToBf16(value), ReductionKernel.floatToBf16(value),
                    Integer.toHexString(bits));
        }
    }

    @Test
    void shouldRejectUnsupportedDtypesAndOperandCounts() {
        ReductionKernel kernel = ReductionKernel.create();
        MemorySegment[] none = new MemorySegment[0];
        MemorySegment empty = MemorySegment.NULL;
        assertEquals("unsupported dtype for reduction: dtype=BOOL, op=SUM, expected one of [F32, F64, F16, BF16, I32, I64]",
                assertThrows(IllegalArgumentException.class,
                        () -> kernel.reduce(DType.BOOL, ReduceOp.SUM, new MemorySegment[] {empty}, 1, 0, empty, 0, 0))
                        .getMessage());
        assertEquals("invalid reduction: operands=0, divisor=1, expected >= 1", assertThrows(IllegalArgumentException.class,
                () -> kernel.reduce(DType.F32, ReduceOp.SUM, none, null, 0, 0, empty, 0, 0, 1)).getMessage());
        assertEquals(0, Arrays.stream(none).count());
    }

    @Test
    void shouldMatchTheReferenceInTheSmallScalarPathForEveryDtypeOpAndOperandCount() {
        ReductionKernel kernel = ReductionKernel.create();
        try (Arena arena = Arena.ofConfined()) {
            for (DType dtype : DTYPES) {
                for (ReduceOp op : ReduceOp.values()) {
                    for (int n = 1; n <= 4; n++) {
                        for (long count = 0; count <= 10; count++) {
                            byte[][] inputs = CollectiveTestData.inputs(dtype, n, count, 31L * n + count);
                            MemorySegment[] srcs = new MemorySegment[n];
                            for (int k = 0; k < n; k++) {
                                srcs[k] = segment(arena, inputs[k], 3);
                            }
                            MemorySegment dst = arena.allocate(count * dtype.byteSize() + 8, 1);
                            kernel.reduceSmall(dtype, op, srcs, n, 3, dst, 5, count, n);
                            assertArrayEquals(CollectiveTestData.reduce(dtype, op, inputs, 0, count),
                                    dst.asSlice(5, count * dtype.byteSize()).toArray(ValueLayout.JAVA_BYTE),
                                    dtype + " " + op + " n=" + n + " count=" + count);
                        }
                    }
                }
            }
        }
    }

    @Test
    void shouldRoundEveryBf16BitPatternLikeTheScalarPath() {
        ReductionKernel kernel = ReductionKernel.create();
        try (Arena arena = Arena.ofConfined()) {
            long count = 65536 + 1; // every bf16 pattern, odd length: the scalar tail too
            MemorySegment a = arena.allocate(2 * count, 2);
            MemorySegment b = arena.allocate(2 * count, 2);
            for (long i = 0; i < count; i++) {
                a.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) i);
                b.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) (i * 40503 + 7)); // NaNs, infinities, subnormals
            }
            for (ReduceOp op : ReduceOp.values()) {
                MemorySegment blocked = arena.allocate(2 * count, 2);
                MemorySegment scalar = arena.allocate(2 * count, 2);
                kernel.reduce(DType.BF16, op, new MemorySegment[] {a, b}, 2, 0, blocked, 0, count);
                kernel.reduceSmall(DType.BF16, op, new MemorySegment[] {a, b}, 2, 0, scalar, 0, count, 2);
                assertEquals(-1, blocked.mismatch(scalar), op.toString());
            }
        }
    }
}
