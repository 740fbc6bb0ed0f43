package io.yatt.tensor;

import io.yatt.ffi.nccl.NcclDataType;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Element types a tensor can hold, with their byte size, safetensors name and NCCL data type code.
 * Immutable and thread-safe.
 */
public enum DType {
    /** IEEE 754 binary32. */
    F32(4, "F32", 7, true),
    /** IEEE 754 binary16. */
    F16(2, "F16", 6, true),
    /** bfloat16: the upper 16 bits of a binary32. */
    BF16(2, "BF16", 9, true),
    /** IEEE 754 binary64. */
    F64(8, "F64", 8, true),
    /** Signed 8-bit integer. */
    I8(1, "I8", 0, false),
    /** Signed 32-bit integer. */
    I32(4, "I32", 2, false),
    /** Signed 64-bit integer. */
    I64(8, "I64", 4, false),
    /** Unsigned 8-bit integer. */
    U8(1, "U8", 1, false),
    /** Boolean stored as one byte, 0 or 1; NCCL carries it as uint8. */
    BOOL(1, "BOOL", 1, false);

    private static final String SAFETENSORS_NAMES =
            Arrays.stream(values()).map(DType::safetensorsName).collect(Collectors.joining(", ", "[", "]"));

    private final int byteSize;
    private final String safetensorsName;
    private final int ncclType;
    private final boolean floatingPoint;

    DType(int byteSize, String safetensorsName, int ncclType, boolean floatingPoint) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
        this.ncclType = ncclType;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The dtype string used in safetensors headers, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /**
     * The {@code ncclDataType_t} code from nccl.h: ncclInt8=0, ncclUint8=1, ncclInt32=2, ncclInt64=4,
     * ncclFloat16=6, ncclFloat32=7, ncclFloat64=8, ncclBfloat16=9; BOOL travels as ncclUint8.
     */
    public int ncclType() {
        return ncclType;
    }

    /** The NCCL data type for {@link #ncclType()} (BOOL travels as {@link NcclDataType#UINT8}). */
    public NcclDataType ncclDataType() {
        return NcclDataType.of(ncclType);
    }

    /** Whether the type is a floating-point type (F32, F16, BF16, F64). */
    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /**
     * The dtype with the given safetensors name.
     *
     * @throws IllegalArgumentException if the name is not one of the supported dtypes
     */
    public static DType fromSafetensors(String name) {
        for (DType type : values()) {
            if (type.safetensorsName.equals(name)) {
                return type;
            }
        }
        throw new IllegalArgumentException("unknown dtype: dtype=" + name + ", expected one of " + SAFETENSORS_NAMES);
    }

    static String safetensorsNames() {
        return SAFETENSORS_NAMES;
    }
}
