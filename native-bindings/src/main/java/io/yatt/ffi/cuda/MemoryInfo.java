package io.yatt.ffi.cuda;

/**
 * Free and total memory of the current device ({@code cudaMemGetInfo}). Immutable.
 *
 * @param freeBytes free bytes
 * @param totalBytes total bytes
 */
public record MemoryInfo(long freeBytes, long totalBytes) {
}
