package io.yatt.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reads and writes single elements of any dtype as double, little-endian (the safetensors and CUDA byte order),
 * without alignment requirements. Stateless.
 */
final class Elements {
    static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** bf16 and f16 bit patterns of the largest value below 1.0. */
    private static final short BF16_BELOW_ONE = 0x3F7F;
    private static final short F16_BELOW_ONE = 0x3BFF;

    private Elements() {
    }

    static double read(MemorySegment segment, long offset, DType dtype) {
        return switch (dtype) {
            case F32 -> segment.get(FLOAT, offset);
            case F64 -> segment.get(DOUBLE, offset);
            case F16 -> Half.f16ToFloat(segment.get(SHORT, offset));
            case BF16 -> Half.bf16ToFloat(segment.get(SHORT, offset));
            case I8 -> segment.get(BYTE, offset);
            case U8 -> segment.get(BYTE, offset) & 0xFF;
            case BOOL -> segment.get(BYTE, offset) != 0 ? 1.0 : 0.0;
            case I32 -> segment.get(INT, offset);
            case I64 -> segment.get(LONG, offset);
        };
    }

    /**
     * Writes {@code value} converted to {@code dtype}: floats round to nearest even (double to float to 16-bit
     * rounds correctly, binary32 having more than 2p+2 bits for both 16-bit formats); integers truncate toward zero
     * and saturate to the type's range, NaN becoming 0; BOOL stores 1 for any non-zero value (NaN included).
     */
    static void write(MemorySegment segment, long offset, DType dtype, double value) {
        switch (dtype) {
            case F32 -> segment.set(FLOAT, offset, (float) value);
            case F64 -> segment.set(DOUBLE, offset, value);
            case F16 -> segment.set(SHORT, offset, Half.floatToF16((float) value));
            case BF16 -> segment.set(SHORT, offset, Half.floatToBf16((float) value));
            case I8 -> segment.set(BYTE, offset, (byte) saturate(value, Byte.MIN_VALUE, Byte.MAX_VALUE));
            case U8 -> segment.set(BYTE, offset, (byte) saturate(value, 0, 255));
            case BOOL -> segment.set(BYTE, offset, (byte) (value != 0 ? 1 : 0));
            case I32 -> segment.set(INT, offset, (int) saturate(value, Integer.MIN_VALUE, Integer.MAX_VALUE));
            case I64 -> segment.set(LONG, offset, (long) value);
        }
    }

    /**
     * Writes the {@code ordinal}-th value of the seeded stream: floats uniform in [-1, 1) (rounded, kept below 1),
     * signed integers uniform in [-8, 8), U8 in [0, 16), BOOL 0 or 1.
     */
    static void writeRandom(MemorySegment segment, long offset, DType dtype, java.util.SplittableRandom random) {
        switch (dtype) {
            case F64 -> segment.set(DOUBLE, offset, random.nextDouble() * 2 - 1);
            case F32 -> {
                float value = (float) (random.nextDouble() * 2 - 1);
                segment.set(FLOAT, offset, value >= 1f ? Math.nextDown(1f) : value);
            }
            case F16 -> {
                short bits = Half.floatToF16((float) (random.nextDouble() * 2 - 1));
                segment.set(SHORT, offset, Half.f16ToFloat(bits) >= 1f ? F16_BELOW_ONE : bits);
            }
            case BF16 -> {
                short bits = Half.floatToBf16((float) (random.nextDouble() * 2 - 1));
                segment.set(SHORT, offset, Half.bf16ToFloat(bits) >= 1f ? BF16_BELOW_ONE : bits);
            }
            case I8 -> segment.set(BYTE, offset, (byte) random.nextInt(-8, 8));
            case U8 -> segment.set(BYTE, offset, (byte) random.nextInt(0, 16));
            case BOOL -> segment.set(BYTE, offset, (byte) random.nextInt(0, 2));
            case I32 -> segment.set(INT, offset, random.nextInt(-8, 8));
            case I64 -> segment.set(LONG, offset, random.nextInt(-8, 8));
        }
    }

    private static long saturate(double value, long min, long max) {
        if (Double.isNaN(value)) {
            return 0;
        }
        long truncated = (long) value;
        return Math.max(min, Math.min(max, truncated));
    }
}
