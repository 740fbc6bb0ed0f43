package io.yatt.ffi.nccl;

/** The built-in {@code ncclRedOp_t} reductions of NCCL 2.30. Immutable. */
public enum NcclRedOp {
    /** {@code ncclSum}. */
    SUM(0, "ncclSum"),
    /** {@code ncclProd}. */
    PROD(1, "ncclProd"),
    /** {@code ncclMax}. */
    MAX(2, "ncclMax"),
    /** {@code ncclMin}. */
    MIN(3, "ncclMin"),
    /** {@code ncclAvg}: sum divided by the number of ranks. */
    AVG(4, "ncclAvg");

    private final int code;
    private final String cName;

    NcclRedOp(int code, String cName) {
        this.code = code;
        this.cName = cName;
    }

    /** @return the numeric {@code ncclRedOp_t} value */
    public int code() {
        return code;
    }

    /** @return the C name, e.g. {@code ncclSum} */
    public String cName() {
        return cName;
    }
}
