package io.yatt.collectives.shm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShmRegionTest {
    @TempDir
    Path dir;

    @Test
    void shouldWriteTheHeaderAndShareBytesWithAnAttachedMapping() {
        Path path = dir.resolve("yatt-t-0-comm");
        try (ShmRegion owner = ShmRegion.create(path, 1 << 16, 3, 4); ShmRegion peer = ShmRegion.attach(path)) {
            assertEquals(ShmRegionDescriptor.MAGIC, peer.segment().get(ValueLayout.JAVA_LONG, ShmRegionDescriptor.MAGIC_OFFSET));
            assertEquals(1 << 16, peer.segment().get(ValueLayout.JAVA_LONG, ShmRegionDescriptor.REGION_BYTES_OFFSET));
            assertEquals(3, peer.segment().get(ValueLayout.JAVA_INT, ShmRegionDescriptor.RANK_OFFSET));
            assertEquals(4, peer.segment().get(ValueLayout.JAVA_INT, ShmRegionDescriptor.WORLD_SIZE_OFFSET));
            assertEquals(ProcessHandle.current().pid(), peer.ownerPid());
            owner.unlink();
            assertTrue(Files.notExists(path));
            owner.segment().set(ValueLayout.JAVA_LONG, 4096, 42L);
            assertEquals(42L, peer.segment().get(ValueLayout.JAVA_LONG, 4096), "mappings outlive the unlinked file");
            assertTrue(owner.isOwner());
            assertFalse(peer.isOwner());
        }
    }

    @Test
    void shouldRejectBadNamesSizesAndSecondClose() {
        IllegalArgumentException name = assertThrows(IllegalArgumentException.class,
            () -> ShmRegion.create(dir.resolve("other"), 4096, 0, 1));
        assertEquals("region name must start with yatt-: path=" + dir.resolve("other"), name.getMessage());
        IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
            () -> ShmRegion.create(dir.resolve("yatt-x"), 16, 0, 1));
        assertEquals("region too small: byteSize=16, minimum=256", small.getMessage());
        ShmRegion region = ShmRegion.create(dir.resolve("yatt-y"), 4096, 0, 1);
        region.close();
        IllegalStateException twice = assertThrows(IllegalStateException.class, region::close);
        assertEquals("shm region already closed: path=" + dir.resolve("yatt-y"), twice.getMessage());
        IllegalStateException notPeer = assertThrows(IllegalStateException.class,
            () -> ShmRegion.attach(dir.resolve("yatt-missing")));
        assertTrue(notPeer.getMessage().startsWith("shm region attach failed: path=" + dir.resolve("yatt-missing")),
            notPeer.getMessage());
    }

    @Test
    void shouldAllocateAndCoalesceArenaRanges() {
        ShmArena arena = new ShmArena(8192, 8192 + 64 * 4096);
        long a = arena.allocate(1);
        long b = arena.allocate(4097);
        long c = arena.allocate(4096);
        assertEquals(8192, a);
        assertEquals(8192 + 4096, b);
        assertEquals(8192 + 3 * 4096, c);
        arena.free(b);
        arena.free(a);
        assertEquals(8192, arena.allocate(3 * 4096), "freed neighbours coalesce");
        IllegalStateException full = assertThrows(IllegalStateException.class, () -> arena.allocate(1L << 30));
        assertTrue(full.getMessage().startsWith("shm arena exhausted: requested=1073741824"), full.getMessage());
    }
}
