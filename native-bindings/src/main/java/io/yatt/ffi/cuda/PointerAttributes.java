package io.yatt.ffi.cuda;

/**
 * What CUDA knows about a pointer ({@code cudaPointerGetAttributes}). Immutable.
 *
 * @param type where the memory lives
 * @param device the device the memory belongs to (or {@code -2} for unregistered host memory, as CUDA reports)
 * @param devicePointer the address usable from device code, or {@code 0}
 * @param hostPointer the address usable from host code, or {@code 0}
 */
public record PointerAttributes(CudaMemoryType type, int device, long devicePointer, long hostPointer) {
}
