package io.yatt.ffi.cuda;

import io.yatt.ffi.cuda.raw.CudaRuntime;
import io.yatt.ffi.internal.OpaqueBytes;

/**
 * A {@code cudaIpcMemHandle_t}: 64 opaque bytes naming a device allocation of another process. Get one
 * with {@link DeviceBuffer#ipcHandle()}, send the bytes, map them with {@link DeviceBuffer#openIpc}.
 * Immutable (the array is copied in and out).
 *
 * @param bytes the 64 handle bytes
 */
public record IpcMemHandle(byte[] bytes) {
    /** Number of bytes in a handle ({@code CUDA_IPC_HANDLE_SIZE}). */
    public static final int BYTE_SIZE = CudaRuntime.CUDA_IPC_HANDLE_SIZE;

    /**
     * Validates and copies the bytes.
     *
     * @throws IllegalArgumentException when there are not exactly 64 bytes
     */
    public IpcMemHandle {
        bytes = OpaqueBytes.copyExact("IPC handle", BYTE_SIZE, bytes);
    }

    /** @return a copy of the 64 handle bytes */
    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof IpcMemHandle handle && OpaqueBytes.equal(bytes, handle.bytes);
    }

    @Override
    public int hashCode() {
        return OpaqueBytes.hash(bytes);
    }

    @Override
    public String toString() {
        return OpaqueBytes.toString("IpcMemHandle", bytes);
    }
}
