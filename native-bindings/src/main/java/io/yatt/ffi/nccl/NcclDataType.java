package io.yatt.ffi.nccl;

/**
 * {@code ncclDataType_t} of NCCL 2.30, one constant per distinct code (the C aliases {@code ncclChar},
 * {@code ncclInt}, {@code ncclHalf}, {@code ncclFloat}, {@code ncclDouble} share codes with the
 * constants here). Immutable.
 */
public enum NcclDataType {
    /** {@code ncclInt8} (= {@code ncclChar}). */
    INT8(0, "ncclInt8", 1),
    /** {@code ncclUint8}. */
    UINT8(1, "ncclUint8", 1),
    /** {@code ncclInt32} (= {@code ncclInt}). */
    INT32(2, "ncclInt32", 4),
    /** {@code ncclUint32}. */
    UINT32(3, "ncclUint32", 4),
    /** {@code ncclInt64}. */
    INT64(4, "ncclInt64", 8),
    /** {@code ncclUint64}. */
    UINT64(5, "ncclUint64", 8),
    /** {@code ncclFloat16} (= {@code ncclHalf}). */
    FLOAT16(6, "ncclFloat16", 2),
    /** {@code ncclFloat32} (= {@code ncclFloat}). */
    FLOAT32(7, "ncclFloat32", 4),
    /** {@code ncclFloat64} (= {@code ncclDouble}). */
    FLOAT64(8, "ncclFloat64", 8),
    /** {@code ncclBfloat16}. */
    BFLOAT16(9, "ncclBfloat16", 2),
    /** {@code ncclFloat8e4m3}. */
    FLOAT8E4M3(10, "ncclFloat8e4m3", 1),
    /** {@code ncclFloat8e5m2}. */
    FLOAT8E5M2(11, "ncclFloat8e5m2", 1);

    private static final NcclDataType[] BY_CODE = values();

    private final int code;
    private final String cName;
    private final int byteSize;

    NcclDataType(int code, String cName, int byteSize) {
        this.code = code;
        this.cName = cName;
        this.byteSize = byteSize;
    }

    /** @return the numeric {@code ncclDataType_t} value */
    public int code() {
        return code;
    }

    /** @return the C name, e.g. {@code ncclBfloat16} */
    public String cName() {
        return cName;
    }

    /** @return bytes per element */
    public int byteSize() {
        return byteSize;
    }

    /**
     * @param code an {@code ncclDataType_t} value
     * @return the constant
     * @throws IllegalArgumentException for a code NCCL 2.30 does not define
     */
    public static NcclDataType of(int code) {
        if (code < 0 || code >= BY_CODE.length) {
            throw new IllegalArgumentException("unknown ncclDataType_t: code=" + code);
        }
        return BY_CODE[code];
    }
}
