package io.yatt.ffi.cuda;

import io.yatt.ffi.cuda.raw.CudaRuntime;

import java.util.Arrays;
import java.util.HexFormat;

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
        if (bytes.length != BYTE_SIZE) {
            throw new IllegalArgumentException("IPC handle must be " + BYTE_SIZE + " bytes: length=" + bytes.length);
        }
        bytes = bytes.clone();
    }

    /** @return a copy of the 64 handle bytes */
    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof IpcMemHandle handle && Arrays.equals(bytes, handle.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "IpcMemHandle[" + HexFormat.of().formatHex(bytes) + "]";
    }
}
