package io.yatt.ffi.cuda;

import io.yatt.ffi.cuda.raw.CudaRuntime;

import java.lang.foreign.MemorySegment;

/**
 * The one place where CUDA status codes become {@link CudaException}s (consuming the runtime's
 * per-thread last error, which the exception now carries). Overloads take primitive
 * context so the success path allocates nothing; the message is built only on failure.
 */
@SuppressWarnings("restricted")
final class Check {
    private Check() {
    }

    static void cuda(int code, String call) {
        if (code != CudaRuntime.cudaSuccess) {
            throw failure(call, code, "");
        }
    }

    static void cuda(int code, String call, String k1, long v1) {
        if (code != CudaRuntime.cudaSuccess) {
            throw failure(call, code, pair(k1, v1));
        }
    }

    static void cuda(int code, String call, String k1, long v1, String k2, long v2) {
        if (code != CudaRuntime.cudaSuccess) {
            throw failure(call, code, pair(k1, v1) + pair(k2, v2));
        }
    }

    static void cuda(int code, String call, String k1, long v1, String k2, long v2, String k3, long v3) {
        if (code != CudaRuntime.cudaSuccess) {
            throw failure(call, code, pair(k1, v1) + pair(k2, v2) + pair(k3, v3));
        }
    }

    static void cuda(int code, String call, String k1, long v1, String k2, long v2, String k3, long v3,
            String k4, long v4) {
        if (code != CudaRuntime.cudaSuccess) {
            throw failure(call, code, pair(k1, v1) + pair(k2, v2) + pair(k3, v3) + pair(k4, v4));
        }
    }

    /**
     * Builds the exception for a failed call: {@code call failed: error=name(code), k=v, ... (description)}.
     * Keys naming pointers or handles ({@code ...Ptr}, {@code address}, {@code stream}, {@code event},
     * {@code handle}) print their value in hex.
     */
    static CudaException failure(String call, int code, String context) {
        clearLastError();
        CudaError error = CudaError.find(code);
        String name = error == null ? "unknown(" + code + ")" : error.describe();
        String description = describe(code);
        String message = call + " failed: error=" + name + context + (description.isEmpty() ? "" : " (" + description + ")");
        return new CudaException(call, code, message);
    }

    /** Consumes the thread's last-error slot, which the failed call set, so a later {@code cudaGetLastError} sees only new errors. */
    private static void clearLastError() {
        try {
            CudaRuntime.cudaGetLastError();
        } catch (RuntimeException e) {
            // no runtime: nothing to clear
        }
    }

    /** The runtime's text for a code ({@code cudaGetErrorString}), or empty when the runtime cannot say. */
    static String describe(int code) {
        try {
            MemorySegment text = CudaRuntime.cudaGetErrorString(code);
            if (text.equals(MemorySegment.NULL)) {
                return "";
            }
            return text.reinterpret(Integer.MAX_VALUE).getString(0);
        } catch (RuntimeException e) {
            return "";
        }
    }

    static String pair(String key, long value) {
        if (isPointer(key)) {
            return ", " + key + "=0x" + Long.toHexString(value);
        }
        return ", " + key + "=" + value;
    }

    private static boolean isPointer(String key) {
        return key.endsWith("Ptr") || key.endsWith("ptr") || key.equals("address") || key.endsWith("Address")
                || key.equals("stream") || key.equals("event") || key.equals("handle");
    }
}
