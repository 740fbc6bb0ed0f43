package io.yatt.ffi.cuda;

import io.yatt.ffi.YattNativeException;

/**
 * A CUDA runtime call returned an error; the message names the call, the code and the context, e.g.
 * {@code cudaMalloc failed: error=cudaErrorMemoryAllocation(2), device=0, byteSize=1024 (out of memory)}.
 * Immutable and safe to share.
 */
public final class CudaException extends YattNativeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int code;

    CudaException(String call, int code, String message) {
        super(message);
        this.call = call;
        this.code = code;
    }

    /** @return the C function that failed, e.g. {@code cudaMalloc} */
    public String call() {
        return call;
    }

    /** @return the error, or {@code null} when the runtime returned a code this version does not know (see {@link #code()}) */
    public CudaError error() {
        return CudaError.find(code);
    }

    /** @return the raw {@code cudaError_t} value */
    public int code() {
        return code;
    }
}
