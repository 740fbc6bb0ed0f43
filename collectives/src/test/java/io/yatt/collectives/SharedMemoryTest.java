package io.yatt.collectives;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.ServerSocket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link Communicators#sharedMemory}: two ranks of a real shm world as two threads of this JVM. */
class SharedMemoryTest {

    private static Communicator[] world() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ExecutorService ranks = Executors.newFixedThreadPool(2);
        try {
            CompletableFuture<Communicator> r0 = CompletableFuture.supplyAsync(() -> rank(0, port), ranks);
            CompletableFuture<Communicator> r1 = CompletableFuture.supplyAsync(() -> rank(1, port), ranks);
            return new Communicator[] {r0.get(60, TimeUnit.SECONDS), r1.get(60, TimeUnit.SECONDS)};
        } finally {
            ranks.shutdown();
        }
    }

    /** Closes both ranks together (closing is collective). */
    private static void close(Communicator[] comms) throws Exception {
        ExecutorService ranks = Executors.newFixedThreadPool(2);
        try {
            CompletableFuture<Void> c0 = CompletableFuture.runAsync(comms[0]::close, ranks);
            CompletableFuture<Void> c1 = CompletableFuture.runAsync(comms[1]::close, ranks);
            c0.get(60, TimeUnit.SECONDS);
            c1.get(60, TimeUnit.SECONDS);
        } finally {
            ranks.shutdown();
        }
    }

    private static Communicator rank(int rank, int port) {
        return Communicators.shm(RendezvousConfig.of(rank, 2, "127.0.0.1", port),
            new ShmContext().arenaBytes(4L << 20).stagingBytes(64 * 1024).splitStagingBytes(64 * 1024));
    }

    @Test
    void shouldReadAPeersArenaBytesInPlaceAndKeepThemMappedAfterTheCommunicatorCloses() throws Exception {
        Communicator[] comms = world();
        SharedMemory owner = Communicators.sharedMemory(comms[0]).orElseThrow();
        SharedMemory reader = Communicators.sharedMemory(comms[1]).orElseThrow();
        try {
            assertEquals(owner.worldId(), reader.worldId());
            assertEquals(0, owner.rank());
            assertEquals(1, reader.rank());
            assertEquals(2, reader.size());
            assertEquals(ProcessHandle.current().pid(), reader.pid(0));
            assertTrue(reader.isAlive(0));
            long used = owner.arenaUsedBytes();
            try (Allocator arena = owner.allocator("shared-test")) {
                Tensor t = Tensor.allocate(arena, DType.U8, Shape.of(4096), Device.host());
                for (int i = 0; i < 4096; i++) {
                    t.segment().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 3));
                }
                assertEquals(used + 4096, owner.arenaUsedBytes());
                long offset = owner.offsetOf(t.segment());
                assertTrue(offset > 0, "offset=" + offset);
                close(comms);
                // the views hold the world: the rank's bytes are read in place after both communicators closed
                // (which returned their staging buffers: only the tensor is left in the arena)
                assertEquals(4096, owner.arenaUsedBytes());
                MemorySegment seen = reader.peerBytes(0, offset, 4096);
                assertArrayEquals(t.segment().toArray(ValueLayout.JAVA_BYTE), seen.toArray(ValueLayout.JAVA_BYTE));
                assertEquals((byte) 10, seen.get(ValueLayout.JAVA_BYTE, 1));
                t.close();
            }
            assertEquals(0, owner.arenaUsedBytes());
        } finally {
            owner.close();
            reader.close();
        }
    }

    @Test
    void shouldRefuseBytesOutsideAnArenaAndRanksOutsideTheWorld() throws Exception {
        Communicator[] comms = world();
        Communicator[] other = world();
        try (SharedMemory a = Communicators.sharedMemory(comms[1]).orElseThrow();
             SharedMemory b = Communicators.sharedMemory(other[1]).orElseThrow()) {
            assertNotEquals(a.worldId(), b.worldId());
            assertEquals(-1, a.offsetOf(MemorySegment.ofArray(new byte[16])));
            IllegalArgumentException header = assertThrows(IllegalArgumentException.class,
                () -> a.peerBytes(0, 0, 16));
            assertTrue(header.getMessage().startsWith("bytes outside the rank's shared arena: rank=0, offset=0,"
                + " byteSize=16, expected within ["), header.getMessage());
            assertEquals("rank not in the shm world: rank=2, worldSize=2",
                assertThrows(IllegalArgumentException.class, () -> a.peerBytes(2, 0, 16)).getMessage());
            assertEquals("rank not in the shm world: rank=-1, worldSize=2",
                assertThrows(IllegalArgumentException.class, () -> a.isAlive(-1)).getMessage());
            a.close();
            assertEquals("shared memory view closed: rank=1, world=" + a.worldId(),
                assertThrows(IllegalStateException.class, () -> a.peerBytes(0, 0, 16)).getMessage());
        } finally {
            close(comms);
            close(other);
        }
    }

    @Test
    void shouldGiveNoSharedMemoryForAnInProcessWorld() {
        try (CommunicatorWorld world = Communicators.inProcess(1, new Communicator.Context())) {
            assertTrue(Communicators.sharedMemory(world.communicator(0)).isEmpty());
        }
    }
}
