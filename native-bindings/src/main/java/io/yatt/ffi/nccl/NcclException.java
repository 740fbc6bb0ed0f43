package io.yatt.ffi.nccl;

import io.yatt.ffi.YattNativeException;

/**
 * An NCCL call failed or timed out; the message names the call, the result and the context, e.g.
 * {@code ncclAllGather failed: result=ncclUnhandledCudaError(1), rank=3, lastError=...}. Immutable and
 * safe to share.
 */
public final class NcclException extends YattNativeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int code;

    NcclException(String call, int code, String message) {
        super(message);
        this.call = call;
        this.code = code;
    }

    /** @return the C function that failed, e.g. {@code ncclAllReduce} */
    public String call() {
        return call;
    }

    /** @return the result, or {@code null} for a code this version does not know (see {@link #code()}) */
    public NcclResult result() {
        return NcclResult.find(code);
    }

    /** @return the raw {@code ncclResult_t} value */
    public int code() {
        return code;
    }
}
