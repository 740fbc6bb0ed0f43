package io.yatt.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A caching pool of device memory for one device (the PyTorch idea, without block splitting): requests are rounded
 * to size classes, freed blocks go to per-stream free lists and are reused instead of calling cudaFree/cudaMalloc.
 * Per-stream safety: a freed block is reused right away only on the stream it was last allocated on (stream order
 * makes that safe); a block also used on other streams ({@link Block#recordStream}) waits until events recorded on
 * those streams at free time complete; another stream may take a free block only once the event recorded on its
 * stream at free time has completed. When the device runs out of memory the pool waits for and frees every cached
 * block, then retries once. {@link #emptyCache()} frees every cached block whose work is done. Thread-safe.
 *
 * @param <S> the stream type ({@code CudaStream}, null standing for the device's default stream; a test double in
 *     unit tests)
 * @param <E> the event type ({@code CudaEvent}; a test double in unit tests)
 */
final class CudaCachingAllocator<S, E> {
    /** Requests below this size round up to a multiple of {@link #SMALL_GRANULE_BYTES}. */
    static final long SMALL_LIMIT_BYTES = 1L << 20;
    static final long SMALL_GRANULE_BYTES = 512;
    /** Larger requests round up to a multiple of 1/16 of their power of two (at most 6.25% waste). */
    static final int LARGE_STEPS_PER_POWER_OF_TWO = 16;
    /** A cached block is reused for a request only if it wastes at most a quarter of the rounded size. */
    static final int MAX_WASTE_DIVISOR = 4;

    /** The native operations the pool needs; one implementation over the CUDA runtime, one test double. */
    interface Backend<S, E> {
        /** Allocates device memory; throws on failure, and {@link #isOutOfMemory} tells an OOM apart. */
        long malloc(long byteSize);

        void free(long address, long byteSize);

        boolean isOutOfMemory(RuntimeException failure);

        E createEvent();

        void record(E event, S stream);

        boolean isDone(E event);

        void synchronize(E event);

        void destroyEvent(E event);
    }

    /** One cached allocation: an address and rounded size on this device, last allocated on {@code stream}. */
    static final class Block<S, E> {
        private final long address;
        private final long byteSize;
        private S stream;
        private final Set<S> otherStreams = new LinkedHashSet<>();
        private final List<E> events = new ArrayList<>();
        private E streamEvent;
        private boolean allocated;

        private Block(long address, long byteSize) {
            this.address = address;
            this.byteSize = byteSize;
        }

        long address() {
            return address;
        }

        long byteSize() {
            return byteSize;
        }

        S stream() {
            return stream;
        }
    }

    private final Backend<S, E> backend;
    private final Map<S, TreeMap<Long, ArrayDeque<Block<S, E>>>> freeByStream = new HashMap<>();
    private final List<Block<S, E>> pending = new ArrayList<>();
    private final ArrayDeque<E> idleEvents = new ArrayDeque<>();
    private long reservedBytes;
    private long cachedBytes;
    private long mallocCount;

    CudaCachingAllocator(Backend<S, E> backend) {
        this.backend = backend;
    }

    /** Rounds a request to its size class. */
    static long roundSize(long byteSize) {
        if (byteSize < SMALL_LIMIT_BYTES) {
            long granules = Math.max(1, (byteSize + SMALL_GRANULE_BYTES - 1) / SMALL_GRANULE_BYTES);
            return granules * SMALL_GRANULE_BYTES;
        }
        long power = Long.highestOneBit(byteSize);
        long step = power / LARGE_STEPS_PER_POWER_OF_TWO;
        return (byteSize + step - 1) / step * step;
    }

    /** A block of at least {@code byteSize} bytes, safe to use on {@code stream} in stream order. */
    synchronized Block<S, E> allocate(long byteSize, S stream) {
        long size = roundSize(byteSize);
        collectPending();
        Block<S, E> block = takeFree(freeByStream.get(stream), size, false);
        if (block == null) {
            for (TreeMap<Long, ArrayDeque<Block<S, E>>> lists : freeByStream.values()) {
                block = takeFree(lists, size, true);
                if (block != null) {
                    break;
                }
            }
        }
        if (block == null) {
            block = new Block<>(mallocRetrying(size), size);
            reservedBytes += size;
            mallocCount++;
        }
        block.stream = stream;
        block.allocated = true;
        return block;
    }

    /** Marks the block as used by work on another stream; it will not be reused before that work is done. */
    synchronized void recordStream(Block<S, E> block, S stream) {
        if (!block.allocated) {
            throw new IllegalStateException("recordStream on a freed block: address=0x" + Long.toHexString(block.address));
        }
        if (!java.util.Objects.equals(stream, block.stream)) {
            block.otherStreams.add(stream);
        }
    }

    /** Returns a block to the pool, recording events on every stream that used it. */
    synchronized void free(Block<S, E> block) {
        if (!block.allocated) {
            throw new IllegalStateException("block freed twice: address=0x" + Long.toHexString(block.address));
        }
        block.allocated = false;
        block.streamEvent = recordedEvent(block.stream);
        for (S other : block.otherStreams) {
            block.events.add(recordedEvent(other));
        }
        block.otherStreams.clear();
        cachedBytes += block.byteSize;
        if (block.events.isEmpty()) {
            addFree(block);
        } else {
            pending.add(block);
        }
    }

    /**
     * Frees (cudaFree) every cached block whose recorded work is done.
     *
     * @return bytes released
     */
    synchronized long emptyCache() {
        collectPending();
        long released = 0;
        for (TreeMap<Long, ArrayDeque<Block<S, E>>> lists : freeByStream.values()) {
            for (ArrayDeque<Block<S, E>> list : lists.values()) {
                for (Iterator<Block<S, E>> it = list.iterator(); it.hasNext(); ) {
                    Block<S, E> block = it.next();
                    if (backend.isDone(block.streamEvent)) {
                        it.remove();
                        released += release(block);
                    }
                }
            }
            lists.values().removeIf(ArrayDeque::isEmpty);
        }
        freeByStream.values().removeIf(TreeMap::isEmpty);
        while (!idleEvents.isEmpty()) {
            backend.destroyEvent(idleEvents.pop());
        }
        return released;
    }

    /** Bytes obtained from the device and not yet released. */
    synchronized long reservedBytes() {
        return reservedBytes;
    }

    /** Bytes in freed blocks held for reuse. */
    synchronized long cachedBytes() {
        return cachedBytes;
    }

    /** Number of device allocations made (a cache hit makes none). */
    synchronized long mallocCount() {
        return mallocCount;
    }

    private long mallocRetrying(long size) {
        try {
            return backend.malloc(size);
        } catch (RuntimeException failure) {
            if (!backend.isOutOfMemory(failure) || (cachedBytes == 0)) {
                throw failure;
            }
            releaseAllWaiting();
            return backend.malloc(size);
        }
    }

    /** Waits for the work recorded on every cached block and frees them all. */
    private void releaseAllWaiting() {
        for (Block<S, E> block : pending) {
            for (E event : block.events) {
                backend.synchronize(event);
            }
            backend.synchronize(block.streamEvent);
            release(block);
        }
        pending.clear();
        for (TreeMap<Long, ArrayDeque<Block<S, E>>> lists : freeByStream.values()) {
            for (ArrayDeque<Block<S, E>> list : lists.values()) {
                for (Block<S, E> block : list) {
                    backend.synchronize(block.streamEvent);
                    release(block);
                }
            }
        }
        freeByStream.clear();
    }

    private long release(Block<S, E> block) {
        recycle(block);
        cachedBytes -= block.byteSize;
        reservedBytes -= block.byteSize;
        backend.free(block.address, block.byteSize);
        return block.byteSize;
    }

    private void collectPending() {
        for (Iterator<Block<S, E>> it = pending.iterator(); it.hasNext(); ) {
            Block<S, E> block = it.next();
            boolean done = true;
            for (E event : block.events) {
                done &= backend.isDone(event);
            }
            if (done) {
                for (E event : block.events) {
                    idleEvents.push(event);
                }
                block.events.clear();
                it.remove();
                addFree(block);
            }
        }
    }

    private void addFree(Block<S, E> block) {
        freeByStream.computeIfAbsent(block.stream, s -> new TreeMap<>())
                .computeIfAbsent(block.byteSize, s -> new ArrayDeque<>())
                .push(block);
    }

    /** Takes the smallest fitting block from one stream's free lists; across streams only if its work is done. */
    private Block<S, E> takeFree(TreeMap<Long, ArrayDeque<Block<S, E>>> lists, long size, boolean crossStream) {
        if (lists == null) {
            return null;
        }
        long maxSize = size + size / MAX_WASTE_DIVISOR;
        for (Map.Entry<Long, ArrayDeque<Block<S, E>>> entry : lists.tailMap(size, true).entrySet()) {
            if (entry.getKey() > maxSize) {
                return null;
            }
            ArrayDeque<Block<S, E>> list = entry.getValue();
            for (Iterator<Block<S, E>> it = list.iterator(); it.hasNext(); ) {
                Block<S, E> block = it.next();
                if (!crossStream || backend.isDone(block.streamEvent)) {
                    it.remove();
                    if (list.isEmpty()) {
                        lists.remove(entry.getKey());
                    }
                    recycle(block);
                    cachedBytes -= block.byteSize;
                    return block;
                }
            }
        }
        return null;
    }

    private void recycle(Block<S, E> block) {
        if (block.streamEvent != null) {
            idleEvents.push(block.streamEvent);
            block.streamEvent = null;
        }
        for (E event : block.events) {
            idleEvents.push(event);
        }
        block.events.clear();
    }

    private E recordedEvent(S stream) {
        E event = idleEvents.isEmpty() ? backend.createEvent() : idleEvents.pop();
        backend.record(event, stream);
        return event;
    }
}
