package io.yatt.ffi.nccl;

import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.NativeLibraries;
import io.yatt.ffi.nccl.raw.NcclLib;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Static facade over NCCL: availability, version, unique ids, error texts and NCCL-allocated memory.
 * Without {@code libnccl} every call except {@link #available()} throws {@link LibraryNotFoundException}
 * listing where it looked. Thread-safe.
 */
public final class Nccl {
    private Nccl() {
    }

    /** @return whether {@code libnccl} was found and loaded (never throws) */
    public static boolean available() {
        try {
            NativeLibraries.nccl();
            return true;
        } catch (LibraryNotFoundException e) {
            return false;
        }
    }

    /**
     * @return the loaded library file
     * @throws LibraryNotFoundException listing every place tried
     */
    public static String libraryPath() {
        return NativeLibraries.nccl().path().toString();
    }

    /**
     * @return the library's version ({@code ncclGetVersion}); needs no GPU
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NcclVersion version() {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_INT);
            NcclCheck.nccl(NcclLib.ncclGetVersion(out), "ncclGetVersion", MemorySegment.NULL);
            return NcclVersion.fromCode(out.get(JAVA_INT, 0));
        }
    }

    /**
     * Creates the id rank 0 shares with the other ranks ({@code ncclGetUniqueId}); needs no GPU, but
     * a network interface NCCL can bootstrap over.
     *
     * @return a fresh id
     * @throws NcclException when NCCL cannot create one
     * @throws LibraryNotFoundException listing every place tried
     */
    public static NcclUniqueId uniqueId() {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(NcclLib.NCCL_UNIQUE_ID);
            NcclCheck.nccl(NcclLib.ncclGetUniqueId(out), "ncclGetUniqueId", MemorySegment.NULL);
            return new NcclUniqueId(out.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    /**
     * @param result a result
     * @return NCCL's description of it ({@code ncclGetErrorString})
     * @throws LibraryNotFoundException listing every place tried
     */
    public static String errorString(NcclResult result) {
        return NcclCheck.text(NcclLib.ncclGetErrorString(result.code()));
    }

    /**
     * @return NCCL's last error message of the calling thread ({@code ncclGetLastError(NULL)}), empty when none
     * @throws LibraryNotFoundException listing every place tried
     */
    public static String lastError() {
        return NcclCheck.text(NcclLib.ncclGetLastError(MemorySegment.NULL));
    }

    /**
     * Allocates device memory suited to NCCL's optimizations, e.g. buffer registration ({@code ncclMemAlloc}).
     *
     * @param byteSize bytes (NCCL may round up)
     * @return a zero-length segment at the device address; free it with {@link #memFree}
     * @throws NcclException when the allocation fails (or there is no device)
     */
    public static MemorySegment memAlloc(long byteSize) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize must not be negative: byteSize=" + byteSize);
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            NcclCheck.nccl(NcclLib.ncclMemAlloc(out, byteSize), "ncclMemAlloc", MemorySegment.NULL, "byteSize", byteSize);
            return out.get(ADDRESS, 0);
        }
    }

    /**
     * Frees memory from {@link #memAlloc} ({@code ncclMemFree}).
     *
     * @param pointer the pointer {@link #memAlloc} returned
     * @throws NcclException when NCCL refuses
     */
    public static void memFree(MemorySegment pointer) {
        NcclCheck.nccl(NcclLib.ncclMemFree(pointer), "ncclMemFree", MemorySegment.NULL, "address", pointer.address());
    }
}
