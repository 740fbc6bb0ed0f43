package io.yatt.ffi.internal;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The shared body of the fixed-size opaque byte records ({@code IpcMemHandle}, {@code NcclUniqueId}): exact-length
 * validation with a defensive copy, content equality, hash and hex rendering. Stateless and thread-safe.
 */
public final class OpaqueBytes {
    private OpaqueBytes() {
    }

    /**
     * Checks that {@code bytes} holds exactly {@code byteSize} bytes and returns a copy.
     *
     * @param what the value's name in the message, e.g. {@code IPC handle}
     * @throws IllegalArgumentException {@code IPC handle must be 64 bytes: length=63}
     */
    public static byte[] copyExact(String what, int byteSize, byte[] bytes) {
        if (bytes.length != byteSize) {
            throw new IllegalArgumentException(what + " must be " + byteSize + " bytes: length=" + bytes.length);
        }
        return bytes.clone();
    }

    /** Whether both arrays hold the same bytes. */
    public static boolean equal(byte[] a, byte[] b) {
        return Arrays.equals(a, b);
    }

    /** The content hash of {@code bytes}. */
    public static int hash(byte[] bytes) {
        return Arrays.hashCode(bytes);
    }

    /** {@code typeName[hex]}, e.g. {@code IpcMemHandle[0700...]}. */
    public static String toString(String typeName, byte[] bytes) {
        return typeName + "[" + HexFormat.of().formatHex(bytes) + "]";
    }
}
