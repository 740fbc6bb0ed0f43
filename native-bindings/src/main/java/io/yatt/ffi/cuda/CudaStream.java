package io.yatt.ffi.cuda;

import io.yatt.ffi.cuda.raw.CudaRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * An owned CUDA stream ({@code cudaStreamCreateWithFlags}) on one device. Enqueuing from several
 * threads is allowed, as in CUDA; {@code close()} exactly once, after the last use.
 */
public final class CudaStream implements AutoCloseable {
    private final int device;
    private final boolean nonBlocking;
    private final MemorySegment handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaStream(int device, boolean nonBlocking, MemorySegment handle) {
        this.device = device;
        this.nonBlocking = nonBlocking;
        this.handle = handle;
    }

    /**
     * Creates a blocking stream (synchronizes with the legacy default stream).
     *
     * @param device the device ordinal
     * @return the stream, owned by the caller
     * @throws CudaException when the device does not exist or there is no driver
     */
    public static CudaStream create(int device) {
        return create(device, false);
    }

    /**
     * Creates a stream on a device; the calling thread's current device is restored.
     *
     * @param device the device ordinal
     * @param nonBlocking {@code cudaStreamNonBlocking}: no implicit synchronization with the legacy default stream
     * @return the stream, owned by the caller
     * @throws CudaException when the device does not exist or there is no driver
     */
    public static CudaStream create(int device, boolean nonBlocking) {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            int flags = nonBlocking ? CudaRuntime.cudaStreamNonBlocking : CudaRuntime.cudaStreamDefault;
            int previous = Cuda.switchDevice(device, "cudaStreamCreateWithFlags");
            try {
                Check.cuda(CudaRuntime.cudaStreamCreateWithFlags(out, flags), "cudaStreamCreateWithFlags",
                        "device", device, "flags", flags);
            } finally {
                Cuda.restoreDevice(previous, device);
            }
            return new CudaStream(device, nonBlocking, out.get(ADDRESS, 0));
        }
    }

    /** @return the {@code cudaStream_t} as an address */
    public MemorySegment handle() {
        return handle;
    }

    /** @return the device ordinal */
    public int device() {
        return device;
    }

    /** @return whether the stream was created with {@code cudaStreamNonBlocking} */
    public boolean nonBlocking() {
        return nonBlocking;
    }

    /**
     * Waits until all work enqueued on this stream is done ({@code cudaStreamSynchronize}).
     *
     * @throws CudaException when enqueued work failed
     */
    public void synchronize() {
        Check.cuda(CudaRuntime.cudaStreamSynchronize(handle), "cudaStreamSynchronize", "device", device,
                "stream", handle.address());
    }

    /**
     * @return {@code true} when all enqueued work is done, {@code false} while some is pending ({@code cudaStreamQuery})
     * @throws CudaException when enqueued work failed
     */
    public boolean query() {
        int code = CudaRuntime.cudaStreamQuery(handle);
        if (code == CudaRuntime.cudaErrorNotReady) {
            return false;
        }
        Check.cuda(code, "cudaStreamQuery", "device", device, "stream", handle.address());
        return true;
    }

    /**
     * Makes later work on this stream wait for an event ({@code cudaStreamWaitEvent}); does not block the host.
     *
     * @param event the event
     * @throws CudaException when the runtime refuses
     */
    public void waitEvent(CudaEvent event) {
        Check.cuda(CudaRuntime.cudaStreamWaitEvent(handle, event.handle(), 0), "cudaStreamWaitEvent", "device", device,
                "stream", handle.address(), "event", event.handle().address());
    }

    /**
     * Destroys the stream ({@code cudaStreamDestroy}); enqueued work still completes.
     *
     * @throws IllegalStateException when already closed
     * @throws CudaException when the runtime reports an error
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            throw new IllegalStateException("CudaStream already closed: device=" + device + ", stream=0x"
                    + Long.toHexString(handle.address()));
        }
        Check.cuda(CudaRuntime.cudaStreamDestroy(handle), "cudaStreamDestroy", "device", device, "stream", handle.address());
    }

    @Override
    public String toString() {
        return "CudaStream: device=" + device + ", stream=0x" + Long.toHexString(handle.address());
    }
}
