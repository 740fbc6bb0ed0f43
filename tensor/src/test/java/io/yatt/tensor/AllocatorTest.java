package io.yatt.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class AllocatorTest {

    @Test
    void shouldNameChildrenByPath() {
        try (Allocator root = Allocator.root("trainer");
             Allocator child = root.child("rollout");
             Allocator grandchild = child.child("kv")) {
            assertEquals("trainer", root.name());
            assertEquals("trainer/rollout", child.name());
            assertEquals("trainer/rollout/kv", grandchild.name());
            assertEquals(Allocator.UNLIMITED, root.limitBytes());
        }
    }

    @Test
    void shouldAccountBytesUpTheTreeAndKeepThePeak() {
        try (Allocator root = Allocator.root("trainer", 1 << 20); Allocator child = root.child("rollout", 1 << 16)) {
            Tensor a = Tensor.allocate(child, DType.F32, Shape.of(1024), Device.host());
            Tensor b = Tensor.allocate(root, DType.U8, Shape.of(100), Device.host());
            assertEquals(4096, child.allocatedBytes());
            assertEquals(4196, root.allocatedBytes());
            assertEquals(1, child.liveCount());
            a.close();
            assertEquals(0, child.allocatedBytes());
            assertEquals(4096, child.peakBytes());
            assertEquals(100, root.allocatedBytes());
            assertEquals(4196, root.peakBytes());
            b.close();
            assertEquals(0, root.allocatedBytes());
            assertEquals(65536, child.limitBytes());
        }
    }

    @Test
    void shouldRejectAllocationOverOwnLimit() {
        try (Allocator root = Allocator.root("trainer"); Allocator child = root.child("rollout", 4096)) {
            Tensor first = Tensor.allocate(child, DType.F32, Shape.of(1000), Device.host());
            IllegalStateException error = assertThrows(IllegalStateException.class,
                    () -> Tensor.allocate(child, DType.F32, Shape.of(25), Device.host()));
            assertEquals("allocation exceeds limit: allocator=trainer/rollout, requested=100, allocated=4000, limit=4096",
                    error.getMessage());
            assertEquals(4000, child.allocatedBytes());
            assertEquals(4000, root.allocatedBytes());
            first.close();
        }
    }

    @Test
    void shouldRejectAllocationOverAncestorLimit() {
        try (Allocator root = Allocator.root("trainer", 1000); Allocator child = root.child("rollout")) {
            IllegalStateException error = assertThrows(IllegalStateException.class,
                    () -> Tensor.allocate(child, DType.F64, Shape.of(126), Device.host()));
            assertEquals("allocation exceeds limit: allocator=trainer, requested=1008, allocated=0, limit=1000",
                    error.getMessage());
            assertEquals(0, child.allocatedBytes());
            assertEquals(0, child.peakBytes());
        }
    }

    @Test
    void shouldRefuseToCloseWithLiveTensors() {
        Allocator root = Allocator.root("trainer");
        Allocator child = root.child("rollout");
        Tensor a = Tensor.allocate(child, DType.F32, Shape.of(4, 4), Device.host());
        Tensor b = Tensor.allocate(child, DType.BF16, Shape.of(8), Device.host());
        IllegalStateException error = assertThrows(IllegalStateException.class, child::close);
        assertEquals("allocator closed with live tensors: allocator=trainer/rollout, liveBytes=80, liveCount=2",
                error.getMessage());
        assertFalse(child.isClosed());
        a.close();
        b.close();
        child.close();
        root.close();
        assertTrue(root.isClosed());
    }

    @Test
    void shouldRefuseToCloseWithOpenChildren() {
        Allocator root = Allocator.root("trainer");
        Allocator rollout = root.child("rollout");
        Allocator train = root.child("train");
        IllegalStateException error = assertThrows(IllegalStateException.class, root::close);
        assertEquals("allocator closed with open children: allocator=trainer, children=[trainer/rollout, trainer/train]",
                error.getMessage());
        rollout.close();
        train.close();
        root.close();
    }

    @Test
    void shouldRecordAllocationSitesInDebugMode() {
        String previous = System.getProperty(Allocator.DEBUG_ALLOCATIONS_PROPERTY);
        System.setProperty(Allocator.DEBUG_ALLOCATIONS_PROPERTY, "true");
        Allocator root;
        try {
            root = Allocator.root("debug");
        } finally {
            if (previous == null) {
                System.clearProperty(Allocator.DEBUG_ALLOCATIONS_PROPERTY);
            } else {
                System.setProperty(Allocator.DEBUG_ALLOCATIONS_PROPERTY, previous);
            }
        }
        Allocator child = root.child("kv");
        Tensor leaked = Tensor.allocate(child, DType.I32, Shape.of(2, 3), Device.host());
        IllegalStateException error = assertThrows(IllegalStateException.class, child::close);
        String message = error.getMessage();
        assertTrue(message.startsWith("allocator closed with live tensors: allocator=debug/kv, liveBytes=24, liveCount=1;"
                + " allocation sites:\n  allocated tensor dtype=I32, shape=[2, 3], device=host (24 bytes) from debug/kv\n"),
                message);
        assertTrue(message.contains("at io.yatt.tensor.AllocatorTest.shouldRecordAllocationSitesInDebugMode("), message);
        leaked.close();
        child.close();
        root.close();
    }

    @Test
    void shouldOmitAllocationSitesWithoutDebugMode() {
        Allocator root = Allocator.root("quiet");
        Tensor leaked = Tensor.allocate(root, DType.U8, Shape.of(3), Device.host());
        IllegalStateException error = assertThrows(IllegalStateException.class, root::close);
        assertEquals("allocator closed with live tensors: allocator=quiet, liveBytes=3, liveCount=1", error.getMessage());
        leaked.close();
        root.close();
    }

    @Test
    void shouldRejectSecondClose() {
        Allocator root = Allocator.root("trainer");
        root.close();
        IllegalStateException error = assertThrows(IllegalStateException.class, root::close);
        assertEquals("allocator already closed: allocator=trainer", error.getMessage());
    }

    @Test
    void shouldRejectAllocationFromClosedAllocator() {
        Allocator root = Allocator.root("trainer");
        root.close();
        IllegalStateException error = assertThrows(IllegalStateException.class,
                () -> Tensor.allocate(root, DType.F32, Shape.of(1), Device.host()));
        assertEquals("allocator is closed: allocator=trainer", error.getMessage());
        IllegalStateException childError = assertThrows(IllegalStateException.class, () -> root.child("late"));
        assertEquals("allocator is closed: allocator=trainer", childError.getMessage());
    }

    @Test
    void shouldRejectDuplicateOpenChildNameButAllowReuseAfterClose() {
        try (Allocator root = Allocator.root("trainer")) {
            Allocator step = root.child("step");
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> root.child("step"));
            assertEquals("allocator child already exists: allocator=trainer/step", error.getMessage());
            step.close();
            root.child("step").close();
        }
    }

    @Test
    void shouldRejectInvalidNamesAndLimits() {
        IllegalArgumentException slash = assertThrows(IllegalArgumentException.class, () -> Allocator.root("a/b"));
        assertEquals("invalid allocator name: name=a/b, expected a non-empty name without '/'", slash.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> Allocator.root(""));
        assertEquals("invalid allocator name: name=, expected a non-empty name without '/'", empty.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> Allocator.root("trainer", -1));
        assertEquals("negative allocator limit: allocator=trainer, limitBytes=-1", negative.getMessage());
        try (Allocator root = Allocator.root("trainer")) {
            IllegalArgumentException childNegative = assertThrows(IllegalArgumentException.class,
                    () -> root.child("kv", -5));
            assertEquals("negative allocator limit: allocator=trainer/kv, limitBytes=-5", childNegative.getMessage());
        }
    }

    @Test
    void shouldAccountConcurrentAllocationsExactly() throws Exception {
        try (Allocator root = Allocator.root("threads", 64L << 20)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    Allocator child = root.child("rank" + t);
                    futures.add(pool.submit(() -> {
                        for (int i = 0; i < 500; i++) {
                            try (Tensor tensor = Tensor.allocate(child, DType.F32, Shape.of(256 + i), Device.host())) {
                                tensor.fill(i);
                            }
                        }
                        child.close();
                        return null;
                    }));
                }
                for (Future<?> future : futures) {
                    future.get();
                }
            } finally {
                pool.shutdown();
            }
            assertEquals(0, root.allocatedBytes());
            assertTrue(root.peakBytes() >= 1024, "peak " + root.peakBytes());
            assertTrue(root.peakBytes() <= 4 * 755 * 4, "peak " + root.peakBytes());
        }
    }

    /** A bump-pointer slab over one Arena segment: a host memory source that records what it hands out. */
    private static final class Slab implements HostMemory {
        final Arena arena = Arena.ofShared();
        final MemorySegment memory = arena.allocate(1 << 16, 4096);
        final List<MemorySegment> freed = new ArrayList<>();
        long used;

        @Override
        public synchronized MemorySegment allocate(long byteSize, long alignmentBytes) {
            long start = (used + alignmentBytes - 1) / alignmentBytes * alignmentBytes;
            if (start + byteSize > memory.byteSize()) {
                throw new IllegalStateException("slab full: requested=" + byteSize);
            }
            used = start + byteSize;
            return memory.asSlice(start, byteSize).fill((byte) 0);
        }

        @Override
        public synchronized void free(MemorySegment segment) {
            freed.add(segment);
        }
    }

    @Test
    void shouldTakeHostMemoryFromTheRootsSourceForEveryDescendant() {
        Slab slab = new Slab();
        slab.memory.fill((byte) 7);
        try (Allocator root = Allocator.root("shm", Allocator.UNLIMITED, slab); Allocator child = root.child("gen")) {
            Tensor a = Tensor.allocate(root, DType.F32, Shape.of(10), Device.host());
            Tensor b = Tensor.allocate(child, DType.U8, Shape.of(100), Device.host());
            // a at 0 (40 bytes), b at the next 64-byte boundary
            assertEquals(slab.memory.address(), a.segment().address());
            assertEquals(slab.memory.address() + 64, b.segment().address());
            assertEquals(0.0, a.getDouble(9));
            assertEquals(0.0, b.getDouble(99));
            assertEquals(140, root.allocatedBytes());
            assertEquals(100, child.allocatedBytes());
            b.close();
            assertEquals(1, slab.freed.size());
            assertEquals(slab.memory.address() + 64, slab.freed.getFirst().address());
            assertEquals(100, slab.freed.getFirst().byteSize());
            assertEquals(40, root.allocatedBytes());
            a.close();
            assertEquals(2, slab.freed.size());
            assertEquals(0, root.allocatedBytes());
            assertEquals(140, root.peakBytes());
        } finally {
            slab.arena.close();
        }
    }

    @Test
    void shouldUnreserveWhenTheHostMemorySourceHasNoRoom() {
        Slab slab = new Slab();
        try (Allocator root = Allocator.root("shm", Allocator.UNLIMITED, slab)) {
            IllegalStateException error = assertThrows(IllegalStateException.class,
                    () -> Tensor.allocate(root, DType.U8, Shape.of(1 << 17), Device.host()));
            assertEquals("slab full: requested=131072", error.getMessage());
            assertEquals(0, root.allocatedBytes());
            assertEquals(0, root.liveCount());
        } finally {
            slab.arena.close();
        }
    }

    @Test
    void shouldRejectANullHostMemorySource() {
        NullPointerException error = assertThrows(NullPointerException.class,
                () -> Allocator.root("shm", Allocator.UNLIMITED, null));
        assertEquals("hostMemory", error.getMessage());
    }
}
