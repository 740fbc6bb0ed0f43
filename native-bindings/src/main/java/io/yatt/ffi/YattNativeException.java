package io.yatt.ffi;

/**
 * Base class of every failure reported by Yatt's native bindings: a missing library, a failed CUDA
 * call or a failed NCCL call. Instances are immutable and safe to share between threads.
 */
public class YattNativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with a complete message.
     *
     * @param message what failed, in the form {@code what: key=value, key=value}
     */
    public YattNativeException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a complete message and the failure that caused it.
     *
     * @param message what failed, in the form {@code what: key=value, key=value}
     * @param cause the underlying failure
     */
    public YattNativeException(String message, Throwable cause) {
        super(message, cause);
    }
}
