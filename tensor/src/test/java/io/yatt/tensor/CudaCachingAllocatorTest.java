package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pool's reuse and stream-safety rules, over a backend double whose streams complete work on command. */
class CudaCachingAllocatorTest {

    /** An event recorded on a stream: done once the test completes that stream's work. */
    static final class FakeEvent {
        String stream;
        boolean done = true;
    }

    static final class OutOfMemory extends RuntimeException {
        OutOfMemory() {
            super("out of memory");
        }
    }

    static final class FakeBackend implements CudaCachingAllocator.Backend<String, FakeEvent> {
        final long capacityBytes;
        long usedBytes;
        long nextAddress = 0x1000_0000L;
        final List<Long> freed = new ArrayList<>();
        final List<FakeEvent> events = new ArrayList<>();
        int destroyedEvents;

        FakeBackend(long capacityBytes) {
            this.capacityBytes = capacityBytes;
        }

        @Override
        public long malloc(long byteSize) {
            if (usedBytes + byteSize > capacityBytes) {
                throw new OutOfMemory();
            }
            usedBytes += byteSize;
            long address = nextAddress;
            nextAddress += byteSize;
            return address;
        }

        @Override
        public void free(long address, long byteSize) {
            usedBytes -= byteSize;
            freed.add(address);
        }

        @Override
        public boolean isOutOfMemory(RuntimeException failure) {
            return failure instanceof OutOfMemory;
        }

        @Override
        public FakeEvent createEvent() {
            FakeEvent event = new FakeEvent();
            events.add(event);
            return event;
        }

        @Override
        public void record(FakeEvent event, String stream) {
            event.stream = stream;
            event.done = false;
        }

        @Override
        public boolean isDone(FakeEvent event) {
            return event.done;
        }

        @Override
        public void synchronize(FakeEvent event) {
            event.done = true;
        }

        @Override
        public void destroyEvent(FakeEvent event) {
            destroyedEvents++;
        }

        void complete(String stream) {
            for (FakeEvent event : events) {
                if (stream.equals(event.stream)) {
                    event.done = true;
                }
            }
        }
    }

    private final FakeBackend backend = new FakeBackend(1L << 30);
    private final CudaCachingAllocator<String, FakeEvent> pool = new CudaCachingAllocator<>(backend);

    @Test
    void shouldRoundRequestsToSizeClasses() {
        assertEquals(512, CudaCachingAllocator.roundSize(0));
        assertEquals(512, CudaCachingAllocator.roundSize(1));
        assertEquals(512, CudaCachingAllocator.roundSize(512));
        assertEquals(1024, CudaCachingAllocator.roundSize(513));
        assertEquals(1L << 20, CudaCachingAllocator.roundSize((1L << 20) - 1));
        assertEquals(1L << 20, CudaCachingAllocator.roundSize(1L << 20));
        assertEquals((1L << 20) + (1L << 16), CudaCachingAllocator.roundSize((1L << 20) + 1));
        assertEquals((3L << 20) + (1L << 17), CudaCachingAllocator.roundSize((3L << 20) + 1));
    }

    @Test
    void shouldReuseAFreedBlockOnTheSameStreamAtOnce() {
        CudaCachingAllocator.Block<String, FakeEvent> first = pool.allocate(1000, "s1");
        pool.free(first);
        assertEquals(1024, pool.cachedBytes());
        CudaCachingAllocator.Block<String, FakeEvent> second = pool.allocate(900, "s1");
        assertSame(first, second);
        assertEquals(1, pool.mallocCount());
        assertEquals(0, pool.cachedBytes());
        assertEquals(1024, pool.reservedBytes());
    }

    @Test
    void shouldReuseOnAnotherStreamOnlyAfterTheFreeingStreamsWorkCompletes() {
        CudaCachingAllocator.Block<String, FakeEvent> first = pool.allocate(4096, "s1");
        pool.free(first);
        CudaCachingAllocator.Block<String, FakeEvent> other = pool.allocate(4096, "s2");
        assertNotEquals(first.address(), other.address());
        assertEquals(2, pool.mallocCount());
        backend.complete("s1");
        CudaCachingAllocator.Block<String, FakeEvent> reused = pool.allocate(4096, "s2");
        assertSame(first, reused);
        assertEquals("s2", reused.stream());
        assertEquals(2, pool.mallocCount());
    }

    @Test
    void shouldHoldABlockUsedOnAnotherStreamUntilThatWorkCompletes() {
        CudaCachingAllocator.Block<String, FakeEvent> block = pool.allocate(4096, "s1");
        pool.recordStream(block, "comm");
        pool.free(block);
        CudaCachingAllocator.Block<String, FakeEvent> fresh = pool.allocate(4096, "s1");
        assertNotEquals(block.address(), fresh.address());
        backend.complete("comm");
        assertSame(block, pool.allocate(4096, "s1"));
        assertEquals(2, pool.mallocCount());
    }

    @Test
    void shouldNotReuseABlockThatWastesMoreThanAQuarter() {
        pool.free(pool.allocate(4096, "s1"));
        CudaCachingAllocator.Block<String, FakeEvent> small = pool.allocate(1024, "s1");
        assertEquals(1024, small.byteSize());
        assertEquals(2, pool.mallocCount());
        CudaCachingAllocator.Block<String, FakeEvent> close = pool.allocate(3584, "s1");
        assertEquals(4096, close.byteSize());
        assertEquals(2, pool.mallocCount());
    }

    @Test
    void shouldEmptyTheCacheOfBlocksWhoseWorkIsDone() {
        CudaCachingAllocator.Block<String, FakeEvent> a = pool.allocate(4096, "s1");
        CudaCachingAllocator.Block<String, FakeEvent> b = pool.allocate(8192, "s2");
        CudaCachingAllocator.Block<String, FakeEvent> live = pool.allocate(512, "s1");
        pool.free(a);
        pool.free(b);
        backend.complete("s1");
        assertEquals(4096, pool.emptyCache());
        assertEquals(List.of(a.address()), backend.freed);
        assertEquals(8192, pool.cachedBytes());
        backend.complete("s2");
        assertEquals(8192, pool.emptyCache());
        assertEquals(0, pool.cachedBytes());
        assertEquals(512, pool.reservedBytes());
        assertEquals(512 + 0, backend.usedBytes);
        pool.free(live);
    }

    @Test
    void shouldReleaseTheCacheAndRetryWhenTheDeviceRunsOutOfMemory() {
        FakeBackend small = new FakeBackend(8192);
        CudaCachingAllocator<String, FakeEvent> tight = new CudaCachingAllocator<>(small);
        tight.free(tight.allocate(4096, "s1"));
        tight.free(tight.allocate(2048, "s2"));
        CudaCachingAllocator.Block<String, FakeEvent> big = tight.allocate(8192, "s3");
        assertEquals(8192, big.byteSize());
        assertEquals(0, tight.cachedBytes());
        assertEquals(8192, tight.reservedBytes());
        assertEquals(2, small.freed.size());
        assertThrows(OutOfMemory.class, () -> tight.allocate(512, "s1"));
    }

    @Test
    void shouldRejectFreeingABlockTwice() {
        CudaCachingAllocator.Block<String, FakeEvent> block = pool.allocate(512, "s1");
        pool.free(block);
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> pool.free(block));
        assertEquals("block freed twice: address=0x10000000", error.getMessage());
    }
}
