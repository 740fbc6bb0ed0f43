package io.yatt.tensor;

import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaError;
import io.yatt.ffi.cuda.CudaEvent;
import io.yatt.ffi.cuda.CudaException;
import io.yatt.ffi.cuda.CudaStream;
import io.yatt.ffi.cuda.DeviceBuffer;
import io.yatt.ffi.cuda.PinnedHostBuffer;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Device and pinned memory for tensors: one caching pool per CUDA device, a blocking stream per device for work that
 * names no stream (the pool's null stream key), and copies through {@code cudaMemcpy} with unified addressing.
 * Thread-safe.
 */
final class DeviceMemory {
    private static final Map<Integer, Pool> POOLS = new ConcurrentHashMap<>();

    private DeviceMemory() {
    }

    /** The pool and default stream of one device. */
    static final class Pool {
        final int device;
        final CudaCachingAllocator<CudaStream, CudaEvent> cache;
        private volatile CudaStream defaultStream;

        Pool(int device) {
            this.device = device;
            this.cache = new CudaCachingAllocator<>(new CudaBackend(this));
        }

        /** A blocking stream of this device, created on first use and kept for the life of the process. */
        CudaStream defaultStream() {
            CudaStream stream = defaultStream;
            if (stream == null) {
                synchronized (this) {
                    stream = defaultStream;
                    if (stream == null) {
                        stream = CudaStream.create(device);
                        defaultStream = stream;
                    }
                }
            }
            return stream;
        }
    }

    /** One tensor's device memory: a pool block, returned to the pool on close. */
    static final class Allocation implements AutoCloseable {
        private final Pool pool;
        private final CudaCachingAllocator.Block<CudaStream, CudaEvent> block;

        Allocation(Pool pool, CudaCachingAllocator.Block<CudaStream, CudaEvent> block) {
            this.pool = pool;
            this.block = block;
        }

        void recordStream(CudaStream stream) {
            pool.cache.recordStream(block, stream);
        }

        @Override
        public void close() {
            pool.cache.free(block);
        }
    }

    static Pool pool(int device) {
        return POOLS.computeIfAbsent(device, Pool::new);
    }

    /**
     * Zeroed device memory from the device's pool, accounted to {@code allocator}; with a null stream it is zeroed
     * on the device's default stream and synchronized, else zeroed in order on {@code stream}.
     */
    static Storage allocate(Allocator allocator, Device device, long byteSize, String description, CudaStream stream) {
        Throwable site = allocator.reserve(byteSize, description);
        Pool pool = pool(device.ordinal());
        CudaCachingAllocator.Block<CudaStream, CudaEvent> block = null;
        try {
            block = pool.cache.allocate(byteSize, stream);
            if (byteSize > 0) {
                CudaStream target = stream != null ? stream : pool.defaultStream();
                Cuda.memsetAsync(MemorySegment.ofAddress(block.address()), 0, byteSize, target);
                if (stream == null) {
                    target.synchronize();
                }
            }
        } catch (RuntimeException | Error e) {
            if (block != null) {
                pool.cache.free(block);
            }
            allocator.unreserve(byteSize);
            throw e;
        }
        return allocator.register(Storage.device(device, block.address(), byteSize, allocator,
                new Allocation(pool, block), site));
    }

    static Storage allocate(Allocator allocator, Device device, long byteSize, String description) {
        return allocate(allocator, device, byteSize, description, null);
    }

    /** Zeroed page-locked host memory from cudaHostAlloc, accounted to {@code allocator}. */
    static Storage allocatePinned(Allocator allocator, long byteSize, String description) {
        Throwable site = allocator.reserve(byteSize, description);
        PinnedHostBuffer buffer;
        try {
            buffer = PinnedHostBuffer.allocate(byteSize);
        } catch (RuntimeException | Error e) {
            allocator.unreserve(byteSize);
            throw e;
        }
        MemorySegment segment = buffer.segment();
        segment.fill((byte) 0);
        return allocator.register(Storage.host(segment, allocator, buffer, site));
    }

    /** Blocking copy between any host and device memory (cudaMemcpyDefault). */
    static void copy(MemorySegment dst, MemorySegment src, long byteSize) {
        checkNative(dst);
        checkNative(src);
        Cuda.memcpy(dst, src, byteSize);
    }

    /** Copy enqueued on {@code stream}. */
    static void copyAsync(MemorySegment dst, MemorySegment src, long byteSize, CudaStream stream) {
        checkNative(dst);
        checkNative(src);
        Cuda.memcpyAsync(dst, src, byteSize, stream);
    }

    /** Frees every cached block of the device whose work is done; returns the bytes released. */
    static long emptyCache(int device) {
        Pool pool = POOLS.get(device);
        return pool == null ? 0 : pool.cache.emptyCache();
    }

    static long cachedBytes(int device) {
        Pool pool = POOLS.get(device);
        return pool == null ? 0 : pool.cache.cachedBytes();
    }

    static long reservedBytes(int device) {
        Pool pool = POOLS.get(device);
        return pool == null ? 0 : pool.cache.reservedBytes();
    }

    private static void checkNative(MemorySegment segment) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("device copies need native host memory: segment=" + segment);
        }
    }

    /** The pool's native operations over the CUDA runtime; the null stream stands for the pool's default stream. */
    private static final class CudaBackend implements CudaCachingAllocator.Backend<CudaStream, CudaEvent> {
        private final Pool pool;
        private final int device;
        private final Map<Long, DeviceBuffer> buffers = new HashMap<>();

        CudaBackend(Pool pool) {
            this.pool = pool;
            this.device = pool.device;
        }

        @Override
        public long malloc(long byteSize) {
            DeviceBuffer buffer = DeviceBuffer.allocate(device, byteSize);
            buffers.put(buffer.address(), buffer);
            return buffer.address();
        }

        @Override
        public void free(long address, long byteSize) {
            DeviceBuffer buffer = buffers.remove(address);
            if (buffer != null) {
                buffer.close();
            }
        }

        @Override
        public boolean isOutOfMemory(RuntimeException failure) {
            return failure instanceof CudaException cuda && cuda.error() == CudaError.cudaErrorMemoryAllocation;
        }

        @Override
        public CudaEvent createEvent() {
            return CudaEvent.create(device);
        }

        @Override
        public void record(CudaEvent event, CudaStream stream) {
            event.record(stream != null ? stream : pool.defaultStream());
        }

        @Override
        public boolean isDone(CudaEvent event) {
            return event.query();
        }

        @Override
        public void synchronize(CudaEvent event) {
            event.synchronize();
        }

        @Override
        public void destroyEvent(CudaEvent event) {
            event.close();
        }
    }
}
