package io.yatt.ffi.nccl;

/**
 * Every {@code ncclResult_t} code of NCCL 2.30 ({@code nccl.h}), under its C name so messages read like
 * NCCL's: {@code ncclUnhandledCudaError(1)}. {@code ncclNumResults} is a count, not a code, and is not
 * listed. Immutable.
 */
public enum NcclResult {
    /** {@code ncclSuccess}. */
    ncclSuccess(0),
    /** {@code ncclUnhandledCudaError}: a CUDA call inside NCCL failed. */
    ncclUnhandledCudaError(1),
    /** {@code ncclSystemError}: a system call failed (socket, memory, ...). */
    ncclSystemError(2),
    /** {@code ncclInternalError}: an NCCL bug or corrupted state. */
    ncclInternalError(3),
    /** {@code ncclInvalidArgument}: a bad argument. */
    ncclInvalidArgument(4),
    /** {@code ncclInvalidUsage}: a call made in the wrong state or order. */
    ncclInvalidUsage(5),
    /** {@code ncclRemoteError}: a peer failed or disconnected. */
    ncclRemoteError(6),
    /** {@code ncclInProgress}: a non-blocking operation has not finished. */
    ncclInProgress(7),
    /** {@code ncclTimeout}: an operation timed out inside NCCL. */
    ncclTimeout(8);

    private static final NcclResult[] BY_CODE = values();

    private final int code;

    NcclResult(int code) {
        this.code = code;
    }

    /** @return the numeric {@code ncclResult_t} value */
    public int code() {
        return code;
    }

    /**
     * @param code an {@code ncclResult_t} value
     * @return the constant
     * @throws IllegalArgumentException for a code NCCL 2.30 does not define
     */
    public static NcclResult of(int code) {
        NcclResult result = find(code);
        if (result == null) {
            throw new IllegalArgumentException("unknown ncclResult_t: code=" + code);
        }
        return result;
    }

    /**
     * @param code an {@code ncclResult_t} value
     * @return the constant, or {@code null} for a code this enum does not know (a newer NCCL)
     */
    public static NcclResult find(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** @return {@code name(code)}, e.g. {@code ncclInvalidArgument(4)} */
    public String describe() {
        return name() + "(" + code + ")";
    }
}
