package io.yatt.ffi.cuda;

import io.yatt.ffi.cuda.raw.CudaRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * An owned CUDA event ({@code cudaEventCreateWithFlags}) for ordering streams and timing. Safe to use
 * from several threads, as in CUDA; {@code close()} exactly once, after the last use.
 */
public final class CudaEvent implements AutoCloseable {
    private final int device;
    private final boolean timing;
    private final MemorySegment handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    private CudaEvent(int device, boolean timing, MemorySegment handle) {
        this.device = device;
        this.timing = timing;
        this.handle = handle;
    }

    /**
     * Creates an event without timing ({@code cudaEventDisableTiming}), the cheapest kind for ordering.
     *
     * @param device the device ordinal
     * @return the event, owned by the caller
     * @throws CudaException when the device does not exist or there is no driver
     */
    public static CudaEvent create(int device) {
        return create(device, false);
    }

    /**
     * Creates an event on a device; the calling thread's current device is restored.
     *
     * @param device the device ordinal
     * @param timing whether {@link #elapsedMillis} may be used with it
     * @return the event, owned by the caller
     * @throws CudaException when the device does not exist or there is no driver
     */
    public static CudaEvent create(int device, boolean timing) {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            int flags = timing ? CudaRuntime.cudaEventDefault : CudaRuntime.cudaEventDisableTiming;
            int previous = Cuda.switchDevice(device, "cudaEventCreateWithFlags");
            try {
                Check.cuda(CudaRuntime.cudaEventCreateWithFlags(out, flags), "cudaEventCreateWithFlags",
                        "device", device, "flags", flags);
            } finally {
                Cuda.restoreDevice(previous, device);
            }
            return new CudaEvent(device, timing, out.get(ADDRESS, 0));
        }
    }

    /** @return the {@code cudaEvent_t} as an address */
    public MemorySegment handle() {
        return handle;
    }

    /** @return the device ordinal */
    public int device() {
        return device;
    }

    /** @return whether the event records timing */
    public boolean timing() {
        return timing;
    }

    /**
     * Captures the work enqueued on a stream so far ({@code cudaEventRecord}).
     *
     * @param stream the stream
     * @throws CudaException when the runtime refuses
     */
    public void record(CudaStream stream) {
        Check.cuda(CudaRuntime.cudaEventRecord(handle, stream.handle()), "cudaEventRecord", "device", device,
                "event", handle.address(), "stream", stream.handle().address());
    }

    /**
     * Waits until the captured work is done ({@code cudaEventSynchronize}).
     *
     * @throws CudaException when the captured work failed
     */
    public void synchronize() {
        Check.cuda(CudaRuntime.cudaEventSynchronize(handle), "cudaEventSynchronize", "device", device,
                "event", handle.address());
    }

    /**
     * @return {@code true} when the captured work is done (or nothing was recorded), {@code false} before ({@code cudaEventQuery})
     * @throws CudaException when the captured work failed
     */
    public boolean query() {
        int code = CudaRuntime.cudaEventQuery(handle);
        if (code == CudaRuntime.cudaErrorNotReady) {
            return false;
        }
        Check.cuda(code, "cudaEventQuery", "device", device, "event", handle.address());
        return true;
    }

    /**
     * @param end an event recorded after this one; both must have timing enabled and be complete
     * @return milliseconds between this event and {@code end} ({@code cudaEventElapsedTime})
     * @throws CudaException when either event lacks timing or is not complete
     */
    public float elapsedMillis(CudaEvent end) {
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(JAVA_FLOAT);
            Check.cuda(CudaRuntime.cudaEventElapsedTime(out, handle, end.handle), "cudaEventElapsedTime",
                    "device", device, "event", handle.address(), "endEvent", end.handle.address());
            return out.get(JAVA_FLOAT, 0);
        }
    }

    /**
     * Destroys the event ({@code cudaEventDestroy}).
     *
     * @throws IllegalStateException when already closed
     * @throws CudaException when the runtime reports an error
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            throw new IllegalStateException("CudaEvent already closed: device=" + device + ", event=0x"
                    + Long.toHexString(handle.address()));
        }
        Check.cuda(CudaRuntime.cudaEventDestroy(handle), "cudaEventDestroy", "device", device, "event", handle.address());
    }

    @Override
    public String toString() {
        return "CudaEvent: device=" + device + ", event=0x" + Long.toHexString(handle.address());
    }
}
