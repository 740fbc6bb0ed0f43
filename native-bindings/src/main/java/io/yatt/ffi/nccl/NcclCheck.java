package io.yatt.ffi.nccl;

import io.yatt.ffi.nccl.raw.NcclLib;

import java.lang.foreign.MemorySegment;

/**
 * The one place where NCCL result codes become {@link NcclException}s. Overloads take primitive
 * context so the success path allocates nothing; the message is built only on failure and carries
 * NCCL's last error text ({@code ncclGetLastError}).
 */
@SuppressWarnings("restricted")
final class NcclCheck {
    private NcclCheck() {
    }

    static void nccl(int code, String call, MemorySegment comm) {
        if (code != NcclLib.ncclSuccess) {
            throw failure(call, code, comm, "");
        }
    }

    static void nccl(int code, String call, MemorySegment comm, String k1, long v1) {
        if (code != NcclLib.ncclSuccess) {
            throw failure(call, code, comm, pair(k1, v1));
        }
    }

    static void nccl(int code, String call, MemorySegment comm, String k1, long v1, String k2, long v2) {
        if (code != NcclLib.ncclSuccess) {
            throw failure(call, code, comm, pair(k1, v1) + pair(k2, v2));
        }
    }

    static void nccl(int code, String call, MemorySegment comm, String k1, long v1, String k2, long v2, String k3, long v3) {
        if (code != NcclLib.ncclSuccess) {
            throw failure(call, code, comm, pair(k1, v1) + pair(k2, v2) + pair(k3, v3));
        }
    }

    /**
     * Builds {@code call failed: result=name(code), k=v, ..., lastError=text}; {@code lastError} is
     * NCCL's last error of the communicator (or of the thread when {@code comm} is NULL), or the
     * result's generic description when NCCL recorded none.
     */
    static NcclException failure(String call, int code, MemorySegment comm, String context) {
        NcclResult result = NcclResult.find(code);
        String name = result == null ? "unknown(" + code + ")" : result.describe();
        String last = lastError(comm);
        if (last.isEmpty()) {
            last = errorString(code);
        }
        return new NcclException(call, code, call + " failed: result=" + name + context
                + (last.isEmpty() ? "" : ", lastError=" + last));
    }

    static String lastError(MemorySegment comm) {
        try {
            return text(NcclLib.ncclGetLastError(comm == null ? MemorySegment.NULL : comm)).strip();
        } catch (RuntimeException e) {
            return "";
        }
    }

    static String errorString(int code) {
        try {
            return text(NcclLib.ncclGetErrorString(code));
        } catch (RuntimeException e) {
            return "";
        }
    }

    static String text(MemorySegment cString) {
        return cString.equals(MemorySegment.NULL) ? "" : cString.reinterpret(Integer.MAX_VALUE).getString(0);
    }

    static String pair(String key, long value) {
        return ", " + key + "=" + value;
    }
}
