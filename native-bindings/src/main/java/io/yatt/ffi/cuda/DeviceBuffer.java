package io.yatt.ffi.cuda;

import io.yatt.ffi.cuda.raw.CudaRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Device memory with one owner: from {@code cudaMalloc}, or mapped from another process with
 * {@link #openIpc}. {@link #pointer()} is a zero-length segment carrying the device address (never
 * dereference it on the host); after {@link #close()} it is invalid and passing it to a downcall throws.
 * A buffer that becomes unreachable unclosed is reported as a leak. Safe to share between threads;
 * {@code close()} exactly once.
 */
@SuppressWarnings("restricted")
public final class DeviceBuffer implements AutoCloseable {
    private final int device;
    private final long address;
    private final long byteSize;
    private final boolean ipcMapping;
    private final Arena arena;
    private final MemorySegment pointer;
    private final Leaks.Tracker tracker;

    DeviceBuffer(int device, long address, long byteSize, boolean ipcMapping) {
        this.device = device;
        this.address = address;
        this.byteSize = byteSize;
        this.ipcMapping = ipcMapping;
        this.arena = Arena.ofShared();
        this.pointer = MemorySegment.ofAddress(address).reinterpret(arena, null);
        this.tracker = Leaks.track(this, "DeviceBuffer: " + describe(ipcMapping, device, address, byteSize));
    }

    /**
     * Allocates device memory ({@code cudaMalloc} on {@code device}; the calling thread's current
     * device is restored).
     *
     * @param device the device ordinal
     * @param byteSize bytes to allocate ({@code 0} gives a null pointer, as CUDA does)
     * @return the buffer, owned by the caller
     * @throws IllegalArgumentException when {@code byteSize} is negative
     * @throws CudaException when the allocation fails, the device does not exist or there is no driver
     */
    public static DeviceBuffer allocate(int device, long byteSize) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize must not be negative: byteSize=" + byteSize);
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            int previous = Cuda.switchDevice(device, "cudaMalloc");
            try {
                Check.cuda(CudaRuntime.cudaMalloc(out, byteSize), "cudaMalloc", "device", device, "byteSize", byteSize);
            } finally {
                Cuda.restoreDevice(previous, device);
            }
            return new DeviceBuffer(device, out.get(ADDRESS, 0).address(), byteSize, false);
        }
    }

    /**
     * Maps device memory exported by another process ({@code cudaIpcOpenMemHandle} with lazy peer
     * access); {@link #close()} unmaps it ({@code cudaIpcCloseMemHandle}).
     *
     * @param handle the exporter's handle
     * @param device the device to map on
     * @param byteSize the exported allocation's size, as the exporter reports it
     * @return the mapping, owned by the caller
     * @throws CudaException when the handle cannot be opened (for example, in the exporting process itself)
     */
    public static DeviceBuffer openIpc(IpcMemHandle handle, int device, long byteSize) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize must not be negative: byteSize=" + byteSize);
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(ADDRESS);
            MemorySegment value = scratch.allocate(CudaRuntime.CUDA_IPC_MEM_HANDLE);
            value.copyFrom(MemorySegment.ofArray(handle.bytes()));
            int previous = Cuda.switchDevice(device, "cudaIpcOpenMemHandle");
            try {
                Check.cuda(CudaRuntime.cudaIpcOpenMemHandle(out, value, CudaRuntime.cudaIpcMemLazyEnablePeerAccess),
                        "cudaIpcOpenMemHandle", "device", device, "byteSize", byteSize);
            } finally {
                Cuda.restoreDevice(previous, device);
            }
            return new DeviceBuffer(device, out.get(ADDRESS, 0).address(), byteSize, true);
        }
    }

    /**
     * Exports this allocation for another process ({@code cudaIpcGetMemHandle}).
     *
     * @return the 64-byte handle
     * @throws IllegalStateException when closed, or when this buffer is itself an IPC mapping
     * @throws CudaException when the runtime refuses
     */
    public IpcMemHandle ipcHandle() {
        ensureOpen();
        if (ipcMapping) {
            throw new IllegalStateException("cannot export an IPC mapping again: " + describe(true, device, address, byteSize));
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment out = scratch.allocate(CudaRuntime.CUDA_IPC_MEM_HANDLE);
            Check.cuda(CudaRuntime.cudaIpcGetMemHandle(out, pointer), "cudaIpcGetMemHandle", "device", device,
                    "address", address);
            return new IpcMemHandle(out.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    /** @return the device ordinal */
    public int device() {
        return device;
    }

    /** @return a zero-length segment at the device address, valid until {@link #close()} */
    public MemorySegment pointer() {
        return pointer;
    }

    /** @return the device address */
    public long address() {
        return address;
    }

    /** @return the size in bytes */
    public long byteSize() {
        return byteSize;
    }

    /** @return whether this buffer maps another process's memory */
    public boolean isIpcMapping() {
        return ipcMapping;
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return tracker.isClosed();
    }

    /**
     * Frees the memory ({@code cudaFree}, or {@code cudaIpcCloseMemHandle} for a mapping).
     *
     * @throws IllegalStateException when already closed
     * @throws CudaException when the runtime reports an error (the buffer is closed regardless)
     */
    @Override
    public void close() {
        if (!tracker.close()) {
            throw new IllegalStateException("DeviceBuffer already closed: " + describe(ipcMapping, device, address, byteSize));
        }
        arena.close();
        if (address == 0) {
            return;
        }
        MemorySegment raw = MemorySegment.ofAddress(address);
        int previous = Cuda.switchDevice(device, ipcMapping ? "cudaIpcCloseMemHandle" : "cudaFree");
        try {
            if (ipcMapping) {
                Check.cuda(CudaRuntime.cudaIpcCloseMemHandle(raw), "cudaIpcCloseMemHandle", "device", device, "address", address);
            } else {
                Check.cuda(CudaRuntime.cudaFree(raw), "cudaFree", "device", device, "address", address, "byteSize", byteSize);
            }
        } finally {
            Cuda.restoreDevice(previous, device);
        }
    }

    private void ensureOpen() {
        if (tracker.isClosed()) {
            throw new IllegalStateException("DeviceBuffer closed: " + describe(ipcMapping, device, address, byteSize));
        }
    }

    @Override
    public String toString() {
        return "DeviceBuffer: " + describe(ipcMapping, device, address, byteSize);
    }

    private static String describe(boolean ipc, int device, long address, long byteSize) {
        return "device=" + device + ", address=0x" + Long.toHexString(address) + ", byteSize=" + byteSize
                + (ipc ? ", ipcMapping=true" : "");
    }
}
