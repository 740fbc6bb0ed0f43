package io.yatt.tensor;

/**
 * Conversions between binary32 and the two 16-bit float formats (IEEE binary16 and bfloat16), rounding to
 * nearest with ties to even. Infinities keep their sign; NaN stays NaN (sign kept, payload truncated, quiet bit
 * set); subnormals are exact. Stateless and thread-safe.
 */
public final class Half {
    private static final int F32_ABS = 0x7FFF_FFFF;
    private static final int F32_INF = 0x7F80_0000;
    /** 65520.0f: halfway between the largest binary16 (65504) and 2^16; ties go to infinity (65504 is odd). */
    private static final int F16_OVERFLOW_F32_BITS = 0x477F_F000;
    /** 2^-14: the smallest normal binary16, as binary32 bits. */
    private static final int F16_MIN_NORMAL_F32_BITS = 0x3880_0000;
    /** 2^-25: half of the smallest binary16 subnormal; it and anything below round to zero. */
    private static final int F16_HALF_MIN_SUBNORMAL_F32_BITS = 0x3300_0000;
    /** (127 - 15) << 23: exponent rebias between binary32 and binary16. */
    private static final int F32_F16_REBIAS = 0x3800_0000;

    private Half() {
    }

    /** Rounds a float to bfloat16 (ties to even). */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & F32_ABS) > F32_INF) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** Widens a bfloat16 to float exactly (a NaN comes back quiet). */
    public static float bf16ToFloat(short value) {
        int bits = (value & 0xFFFF) << 16;
        if ((bits & F32_ABS) > F32_INF) {
            bits |= 0x0040_0000;
        }
        return Float.intBitsToFloat(bits);
    }

    /** Rounds a float to IEEE binary16 (ties to even), overflowing to infinity and underflowing through subnormals. */
    public static short floatToF16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & F32_ABS;
        if (abs >= F32_INF) {
            if (abs == F32_INF) {
                return (short) (sign | 0x7C00);
            }
            return (short) (sign | 0x7E00 | ((abs >>> 13) & 0x3FF));
        }
        if (abs >= F16_OVERFLOW_F32_BITS) {
            return (short) (sign | 0x7C00);
        }
        if (abs >= F16_MIN_NORMAL_F32_BITS) {
            int rounded = abs + 0xFFF + ((abs >>> 13) & 1);
            return (short) (sign | ((rounded - F32_F16_REBIAS) >>> 13));
        }
        if (abs <= F16_HALF_MIN_SUBNORMAL_F32_BITS) {
            return (short) sign;
        }
        // Subnormal result: value = mantissa * 2^(exponent - 150), expressed in units of 2^-24.
        int exponent = abs >>> 23;
        int mantissa = (abs & 0x7F_FFFF) | 0x80_0000;
        int shift = 126 - exponent;
        int result = mantissa >>> shift;
        int remainder = mantissa & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (result & 1) != 0)) {
            result++;
        }
        return (short) (sign | result);
    }

    /** Widens an IEEE binary16 to float exactly (a NaN comes back quiet). */
    public static float f16ToFloat(short value) {
        int half = value & 0xFFFF;
        int sign = (half & 0x8000) << 16;
        int exponent = (half >>> 10) & 0x1F;
        int mantissa = half & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(mantissa == 0 ? sign | F32_INF : sign | 0x7FC0_0000 | (mantissa << 13));
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }
}
