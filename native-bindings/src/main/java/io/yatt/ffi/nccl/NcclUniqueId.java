package io.yatt.ffi.nccl;

import io.yatt.ffi.internal.OpaqueBytes;
import io.yatt.ffi.nccl.raw.NcclLib;

/**
 * An {@code ncclUniqueId}: 128 opaque bytes that rank 0 creates ({@link Nccl#uniqueId()}) and every rank
 * passes to {@link NcclCommunicator#init}. Immutable (the array is copied in and out).
 *
 * @param bytes the 128 id bytes
 */
public record NcclUniqueId(byte[] bytes) {
    /** Number of bytes in an id ({@code NCCL_UNIQUE_ID_BYTES}). */
    public static final int BYTE_SIZE = NcclLib.NCCL_UNIQUE_ID_BYTES;

    /**
     * Validates and copies the bytes.
     *
     * @throws IllegalArgumentException when there are not exactly 128 bytes
     */
    public NcclUniqueId {
        bytes = OpaqueBytes.copyExact("NCCL unique id", BYTE_SIZE, bytes);
    }

    /** @return a copy of the 128 id bytes */
    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof NcclUniqueId id && OpaqueBytes.equal(bytes, id.bytes);
    }

    @Override
    public int hashCode() {
        return OpaqueBytes.hash(bytes);
    }

    @Override
    public String toString() {
        return OpaqueBytes.toString("NcclUniqueId", bytes);
    }
}
