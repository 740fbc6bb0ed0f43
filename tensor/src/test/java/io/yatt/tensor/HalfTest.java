package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Checks the 16-bit conversions against independent references: the JDK's own binary16 conversions for F16, and
 * for BF16 exact arithmetic (the value of every pattern built with Math.scalb, and round-to-nearest-even found by
 * searching a table of all bf16 values and comparing distances exactly in double).
 */
class HalfTest {
    private static final int F16_PATTERNS = 1 << 16;

    @Test
    void shouldWidenEveryF16PatternLikeTheJdk() {
        for (int pattern = 0; pattern < F16_PATTERNS; pattern++) {
            int h = pattern;
            float reference = Float.float16ToFloat((short) h);
            float actual = Half.f16ToFloat((short) h);
            if (Float.isNaN(reference)) {
                int expected = ((h & 0x8000) << 16) | 0x7FC0_0000 | ((h & 0x3FF) << 13);
                assertEquals(expected, Float.floatToRawIntBits(actual), () -> "f16 NaN " + Integer.toHexString(h));
            } else {
                assertEquals(Float.floatToRawIntBits(reference), Float.floatToRawIntBits(actual),
                        () -> "f16 " + Integer.toHexString(h));
            }
        }
    }

    @Test
    void shouldRoundTripEveryF16PatternThroughFloat() {
        for (int h = 0; h < F16_PATTERNS; h++) {
            short back = Half.floatToF16(Half.f16ToFloat((short) h));
            boolean nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
            int expected = nan ? h | 0x200 : h;
            assertEquals(expected, back & 0xFFFF, "f16 " + Integer.toHexString(h));
        }
    }

    @Test
    void shouldNarrowFloatsToF16LikeTheJdkOverADenseSweep() {
        // Every 17th pattern over all 2^32 floats (17 is odd, so every low-bit residue is visited).
        for (long bits = 0; bits <= 0xFFFF_FFFFL; bits += 17) {
            checkF16Narrowing((int) bits);
        }
    }

    @Test
    void shouldNarrowFloatsToF16LikeTheJdkAroundEveryTie() {
        for (int h = 0; h < 0x7C00; h++) {
            double low = Float.float16ToFloat((short) h);
            double high = h == 0x7BFF ? 65536.0 : Float.float16ToFloat((short) (h + 1));
            int tie = Float.floatToRawIntBits((float) ((low + high) / 2));
            for (int delta = -2; delta <= 2; delta++) {
                checkF16Narrowing(tie + delta);
                checkF16Narrowing((tie + delta) | 0x8000_0000);
            }
        }
    }

    @Test
    void shouldKeepF16SpecialValues() {
        assertEquals(0x7C00, Half.floatToF16(Float.POSITIVE_INFINITY) & 0xFFFF);
        assertEquals(0xFC00, Half.floatToF16(Float.NEGATIVE_INFINITY) & 0xFFFF);
        assertEquals(0x7E00, Half.floatToF16(Float.NaN) & 0xFFFF);
        assertEquals(0x8000, Half.floatToF16(-0.0f) & 0xFFFF);
        assertEquals(0x7BFF, Half.floatToF16(65504f) & 0xFFFF);
        assertEquals(0x7BFF, Half.floatToF16(65519.996f) & 0xFFFF);
        assertEquals(0x7C00, Half.floatToF16(65520f) & 0xFFFF);
        assertEquals(0x0001, Half.floatToF16(0x1p-24f) & 0xFFFF);
        assertEquals(0x0000, Half.floatToF16(0x1p-25f) & 0xFFFF);
        assertEquals(0x0001, Half.floatToF16(Math.nextUp(0x1p-25f)) & 0xFFFF);
        assertEquals(0x0002, Half.floatToF16(0x1.4p-23f) & 0xFFFF);
        assertEquals(0x0400, Half.floatToF16(0x1p-14f) & 0xFFFF);
        assertEquals(0x3C00, Half.floatToF16(1.0f) & 0xFFFF);
        assertEquals(1.0f, Half.f16ToFloat((short) 0x3C00));
        assertEquals(0x1p-24f, Half.f16ToFloat((short) 0x0001));
        assertEquals(-65504f, Half.f16ToFloat((short) 0xFBFF));
    }

    @Test
    void shouldWidenEveryBf16PatternExactly() {
        for (int pattern = 0; pattern < F16_PATTERNS; pattern++) {
            int b = pattern;
            int sign = b & 0x8000;
            int exponent = (b >>> 7) & 0xFF;
            int mantissa = b & 0x7F;
            float actual = Half.bf16ToFloat((short) b);
            if (exponent == 0xFF && mantissa != 0) {
                assertTrue(Float.isNaN(actual));
                assertEquals((sign << 16) | 0x7FC0_0000 | (mantissa << 16), Float.floatToRawIntBits(actual));
                continue;
            }
            double magnitude;
            if (exponent == 0xFF) {
                magnitude = Double.POSITIVE_INFINITY;
            } else if (exponent == 0) {
                magnitude = Math.scalb((double) mantissa, -133);
            } else {
                magnitude = Math.scalb((double) (128 + mantissa), exponent - 134);
            }
            float expected = (float) (sign != 0 ? -magnitude : magnitude);
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                    () -> "bf16 " + Integer.toHexString(b));
        }
    }

    @Test
    void shouldRoundTripEveryBf16PatternThroughFloat() {
        for (int b = 0; b < F16_PATTERNS; b++) {
            short back = Half.floatToBf16(Half.bf16ToFloat((short) b));
            boolean nan = (b & 0x7F80) == 0x7F80 && (b & 0x7F) != 0;
            assertEquals(nan ? b | 0x40 : b, back & 0xFFFF, "bf16 " + Integer.toHexString(b));
        }
    }

    @Test
    void shouldNarrowFloatsToBf16LikeExactRoundingOverADenseSweep() {
        double[] table = bf16Table();
        for (long bits = 0; bits <= 0xFFFF_FFFFL; bits += 4099) {
            checkBf16Narrowing(table, (int) bits);
        }
    }

    @Test
    void shouldNarrowFloatsToBf16LikeExactRoundingAroundEveryTie() {
        double[] table = bf16Table();
        for (int b = 0; b < 0x7F80; b++) {
            int tie = (b << 16) | 0x8000;
            for (int delta = -2; delta <= 2; delta++) {
                checkBf16Narrowing(table, tie + delta);
                checkBf16Narrowing(table, (tie + delta) | 0x8000_0000);
            }
        }
    }

    @Test
    void shouldKeepBf16SpecialValues() {
        assertEquals(0x7F80, Half.floatToBf16(Float.POSITIVE_INFINITY) & 0xFFFF);
        assertEquals(0xFF80, Half.floatToBf16(Float.NEGATIVE_INFINITY) & 0xFFFF);
        assertEquals(0x7FC0, Half.floatToBf16(Float.NaN) & 0xFFFF);
        assertEquals(0x7FC1, Half.floatToBf16(Float.intBitsToFloat(0x7F81_0000)) & 0xFFFF);
        assertEquals(0x8000, Half.floatToBf16(-0.0f) & 0xFFFF);
        assertEquals(0x7F80, Half.floatToBf16(Float.MAX_VALUE) & 0xFFFF);
        assertEquals(0x3F80, Half.floatToBf16(1.0f) & 0xFFFF);
        assertEquals(0x3F80, Half.floatToBf16(Float.intBitsToFloat(0x3F80_8000)) & 0xFFFF);
        assertEquals(0x3F82, Half.floatToBf16(Float.intBitsToFloat(0x3F81_8000)) & 0xFFFF);
        assertEquals(0x0001, Half.floatToBf16(Float.intBitsToFloat(0x0000_8001)) & 0xFFFF);
    }

    private static void checkF16Narrowing(int bits) {
        float value = Float.intBitsToFloat(bits);
        int actual = Half.floatToF16(value) & 0xFFFF;
        int reference = Float.floatToFloat16(value) & 0xFFFF;
        if (Float.isNaN(value)) {
            assertEquals(reference & 0x8000, actual & 0x8000);
            assertEquals(0x7E00, actual & 0x7E00, () -> "f16 NaN not quiet for " + Integer.toHexString(bits));
            return;
        }
        assertEquals(reference, actual, () -> "float bits " + Integer.toHexString(bits));
    }

    /** The value of every non-negative bf16 pattern up to 0x7F80, where 0x7F80 (infinity) stands at 2^128. */
    private static double[] bf16Table() {
        double[] table = new double[0x7F81];
        for (int b = 0; b < 0x7F80; b++) {
            int exponent = b >>> 7;
            int mantissa = b & 0x7F;
            table[b] = exponent == 0 ? Math.scalb((double) mantissa, -133) : Math.scalb((double) (128 + mantissa), exponent - 134);
        }
        table[0x7F80] = Math.scalb(1.0, 128);
        return table;
    }

    private static void checkBf16Narrowing(double[] table, int bits) {
        float value = Float.intBitsToFloat(bits);
        int actual = Half.floatToBf16(value) & 0xFFFF;
        int sign = (bits >>> 16) & 0x8000;
        if (Float.isNaN(value)) {
            assertEquals(sign | 0x7FC0, actual & 0xFFC0, () -> "bf16 NaN for " + Integer.toHexString(bits));
            return;
        }
        if (Float.isInfinite(value)) {
            assertEquals(sign | 0x7F80, actual);
            return;
        }
        double x = Math.abs((double) value);
        int low = 0;
        int high = table.length - 1;
        while (low < high) {
            int mid = (low + high + 1) >>> 1;
            if (table[mid] <= x) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        int expected;
        if (table[low] == x) {
            expected = low;
        } else {
            double below = x - table[low];
            double above = table[low + 1] - x;
            expected = below < above ? low : above < below ? low + 1 : (low % 2 == 0 ? low : low + 1);
        }
        int expectedBits = sign | expected;
        assertEquals(expectedBits, actual, () -> "float bits " + Integer.toHexString(bits));
    }
}
