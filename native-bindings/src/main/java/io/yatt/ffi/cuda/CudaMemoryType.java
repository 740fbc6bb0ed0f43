package io.yatt.ffi.cuda;

/** {@code enum cudaMemoryType}: where a pointer's memory lives. Immutable. */
public enum CudaMemoryType {
    /** {@code cudaMemoryTypeUnregistered}: host memory unknown to CUDA. */
    UNREGISTERED(0),
    /** {@code cudaMemoryTypeHost}: pinned or registered host memory. */
    HOST(1),
    /** {@code cudaMemoryTypeDevice}: device memory. */
    DEVICE(2),
    /** {@code cudaMemoryTypeManaged}: managed (unified) memory. */
    MANAGED(3);

    private final int code;

    CudaMemoryType(int code) {
        this.code = code;
    }

    /** @return the C value */
    public int code() {
        return code;
    }

    /**
     * @param code a {@code cudaMemoryType} value
     * @return the constant
     * @throws IllegalArgumentException for an unknown value
     */
    public static CudaMemoryType of(int code) {
        for (CudaMemoryType type : values()) {
            if (type.code == code) {
                return type;
            }
        }
        throw new IllegalArgumentException("unknown cudaMemoryType: code=" + code);
    }
}
