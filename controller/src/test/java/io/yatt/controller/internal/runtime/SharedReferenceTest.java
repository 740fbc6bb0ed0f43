package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.SharedMemory;
import io.yatt.collectives.ShmContext;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ReferenceColumn;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.io.IOException;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Pulls over shared memory between two ranks of a real shm world (two threads of this JVM, each with its own rank's
 * region) and a real reference plane: the owner's store keeps its regions in its arena, the consumer (under another
 * controller id, so it does not find the store in this process) copies the rows in place and tells the owner.
 */
class SharedReferenceTest {

    private static final long OWNER_CONTROLLER = 0x5EED_0101L;
    private static final long CONSUMER_CONTROLLER = 0x5EED_0102L;
    private static final int OWNER = 7;
    /** Rows of 256 floats (1 KiB), row i holding i * 1000 + j. */
    private static final int ROWS = 64;
    private static final int ROW_FLOATS = 256;
    private static final long REGION_BYTES = ROWS * ROW_FLOATS * 4L;

    private ControlPlane plane;
    private Communicator[] comms;
    private SharedMemory consumerShared;
    private ReferenceStore store;
    private ReferencePlane ownerPlane;
    private ReferencePlane consumerPlane;
    private Allocator ownerAllocator;
    private Allocator consumerAllocator;

    @BeforeEach
    void startWorld() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        // the two ranks join the rendezvous together: a thread each
        ExecutorService ranks = Executors.newFixedThreadPool(2);
        try {
            CompletableFuture<Communicator> rank0 = CompletableFuture.supplyAsync(() -> world(0, port), ranks);
            CompletableFuture<Communicator> rank1 = CompletableFuture.supplyAsync(() -> world(1, port), ranks);
            comms = new Communicator[] {rank0.get(60, TimeUnit.SECONDS), rank1.get(60, TimeUnit.SECONDS)};
        } finally {
            ranks.shutdown();
        }
        plane = ControlPlane.launch(new ControlPlane.Context().jobName("shared-refs"));
        ownerAllocator = Allocator.root("shared-owner");
        consumerAllocator = Allocator.root("shared-consumer");
        store = ReferenceStore.open(OWNER_CONTROLLER, OWNER, ownerAllocator,
                Communicators.sharedMemory(comms[0]).orElseThrow());
        consumerShared = Communicators.sharedMemory(comms[1]).orElseThrow();
        long timeoutNs = TimeUnit.SECONDS.toNanos(30);
        ownerPlane = ReferencePlane.start(plane.driverDirectory(), OWNER, "127.0.0.1", timeoutNs, null);
        ownerPlane.serve(store);
        consumerPlane = ReferencePlane.start(plane.driverDirectory(), 9, "127.0.0.1", timeoutNs, null);
    }

    private static Communicator world(int rank, int port) {
        return Communicators.shm(RendezvousConfig.of(rank, 2, "127.0.0.1", port),
                new ShmContext().arenaBytes(4L << 20).stagingBytes(64 * 1024).splitStagingBytes(64 * 1024));
    }

    @AfterEach
    void stopWorld() {
        for (AutoCloseable c : new AutoCloseable[] {consumerPlane, ownerPlane, store, consumerShared, plane}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        comms[0].close();
        comms[1].close();
        assertEquals(0, ownerAllocator.allocatedBytes());
        assertEquals(0, consumerAllocator.allocatedBytes());
        ownerAllocator.close();
        consumerAllocator.close();
    }

    private ReferenceColumn publish(long step) {
        try (Tensor t = Tensor.allocate(ownerAllocator, DType.F32, Shape.of(ROWS, ROW_FLOATS), Device.host())) {
            for (int i = 0; i < ROWS; i++) {
                for (int j = 0; j < ROW_FLOATS; j++) {
                    t.setDouble(i * 1000 + j, i, j);
                }
            }
            return store.publish("logp", step, t);
        }
    }

    private Tensor pull(ReferenceColumn column, Map<ReferenceColumn.Region, ReferenceStore.Claim> claims,
            String location, SharedMemory shared) {
        return ReferenceStore.pull(CONSUMER_CONTROLLER, column, claims, Map.of(OWNER, ownerPlane.endpoint()),
                location == null ? Map.of() : Map.of(OWNER, location), shared, () -> consumerPlane,
                consumerAllocator);
    }

    @Test
    void shouldCopyRowsInPlaceFromTheOwnersArenaAndFreeTheRegionAtItsLastPull() {
        SharedMemory ownerShared = store.sharedMemory();
        long arenaBefore = ownerShared.arenaUsedBytes();
        ReferenceColumn column = publish(3);
        // the region lives in the owner's arena (1 KiB rows fill 4 KiB pages exactly) and the reference says where
        assertEquals(arenaBefore + REGION_BYTES, ownerShared.arenaUsedBytes());
        assertEquals(0, ownerAllocator.allocatedBytes());
        ReferenceColumn.Run run = column.runs().getFirst();
        assertTrue(run.byteOffset() > 0 && run.byteOffset() % 4096 == 0, "byteOffset=" + run.byteOffset());
        assertEquals(consumerShared.worldId() + "/0", store.sharedLocation());
        Map<ReferenceColumn.Region, ReferenceStore.Claim> claims =
                Map.of(new ReferenceColumn.Region(OWNER, 0), new ReferenceStore.Claim(1, 2, true));
        int[] reversed = new int[ROWS];
        for (int i = 0; i < ROWS; i++) {
            reversed[i] = ROWS - 1 - i;
        }
        // rows in reverse (a run of negative stride): one in-place copy per row, no byte over Aeron
        try (Tensor rows = pull(column.select(reversed), claims, store.sharedLocation(), consumerShared)) {
            assertEquals(63_000.0, rows.getDouble(0, 0));
            assertEquals(255.0, rows.getDouble(63, 255));
            assertEquals(5_017.0, rows.getDouble(58, 17));
        }
        assertEquals(REGION_BYTES, consumerPlane.sharedBytes());
        assertEquals(0, consumerPlane.fetchedBytes());
        assertEquals(0, ownerPlane.servedBytes());
        // 1 of the dispatch's 2 pulls: the owner keeps the region
        assertEquals(1, store.liveCount());
        assertEquals(arenaBefore + REGION_BYTES, ownerShared.arenaUsedBytes());
        // the second pull of the same dispatch comes from a consumer of no shm world: over Aeron
        try (Tensor rows = pull(column.subList(10, 12), claims, store.sharedLocation(), null)) {
            assertEquals(10_000.0, rows.getDouble(0, 0));
            assertEquals(11_255.0, rows.getDouble(1, 255));
        }
        assertEquals(2 * 1024, consumerPlane.fetchedBytes());
        assertEquals(2 * 1024, ownerPlane.servedBytes());
        assertEquals(REGION_BYTES, consumerPlane.sharedBytes());
        // the last pull arrived: the arena block is freed
        assertEquals(0, store.liveCount());
        assertEquals(1, store.freedCount());
        assertEquals(arenaBefore, ownerShared.arenaUsedBytes());
        assertEquals(List.of(), store.endStep(3));
    }

    @Test
    void shouldFetchOverAeronFromAnOwnerOfAnotherShmWorldAndCopyInProcessFromTheArena() {
        ReferenceColumn column = publish(1);
        try (Tensor rows = pull(column.subList(0, 4), Map.of(), "w-other-0123456789ab/0", consumerShared)) {
            assertEquals(3_100.0, rows.getDouble(3, 100));
        }
        assertEquals(4 * 1024, consumerPlane.fetchedBytes());
        assertEquals(0, consumerPlane.sharedBytes());
        // a consumer under the owner's controller finds the store in this process: rows at the arena offset
        try (Tensor rows = ReferenceStore.pull(OWNER_CONTROLLER, column.select(new int[] {63, 5}), Map.of(),
                consumerAllocator)) {
            assertEquals(63_255.0, rows.getDouble(0, 255));
            assertEquals(5_000.0, rows.getDouble(1, 0));
        }
        assertEquals(List.of("logp(step=1, owner=7, region=0, bytes=65536, pulled=0/?)"), store.endStep(1));
    }

    @Test
    void shouldFailAPullOfAFreedRegionNamingIt() {
        ReferenceColumn column = publish(2);
        Map<ReferenceColumn.Region, ReferenceStore.Claim> once =
                Map.of(new ReferenceColumn.Region(OWNER, 0), new ReferenceStore.Claim(4, 1, true));
        pull(column, once, store.sharedLocation(), consumerShared).close();
        assertEquals(0, store.liveCount());
        // the rows still lie in the mapped arena, but the owner no longer holds them: the copy is refused
        IllegalArgumentException gone = assertThrows(IllegalArgumentException.class,
                () -> pull(column, Map.of(), store.sharedLocation(), consumerShared));
        assertEquals("referenced region is gone: ownerRank=7, region=0", gone.getMessage());
        assertEquals(REGION_BYTES, consumerPlane.sharedBytes());
    }

    @Test
    void shouldRefuseRowsThatDoNotMatchTheRegionOrLieOutsideTheArena() {
        ReferenceColumn column = publish(2);
        ReferenceColumn.Run run = column.runs().getFirst();
        // the same bytes read as 2 KiB rows of doubles: not the region's dtype
        ReferenceColumn wrongDtype = ReferenceColumn.ofRuns(List.of(new ReferenceColumn.Run(OWNER, 0,
                run.byteOffset(), 2048, 32, DType.F64, Shape.of(256))));
        IllegalArgumentException mismatch = assertThrows(IllegalArgumentException.class,
                () -> pull(wrongDtype, Map.of(), store.sharedLocation(), consumerShared));
        assertEquals("referenced rows disagree with their region: ownerRank=7, region=0, dtype=F64, expected"
                + " dtype=F32 and shape [64, 256]", mismatch.getMessage());
        // rows of 1.5 KiB: not a row size of the region
        ReferenceColumn wrongShape = ReferenceColumn.ofRuns(List.of(new ReferenceColumn.Run(OWNER, 0,
                run.byteOffset(), 1536, 8, DType.F32, Shape.of(384))));
        IllegalArgumentException outsideRegion = assertThrows(IllegalArgumentException.class,
                () -> pull(wrongShape, Map.of(), store.sharedLocation(), consumerShared));
        assertEquals("reference outside its region: ownerRank=7, region=0, byteOffset=" + run.byteOffset()
                + ", rowStrideBytes=1536, rows=8, rowBytes=1536, regionBytes=65536", outsideRegion.getMessage());
        long arenaEnd = (4L << 20) + run.byteOffset();
        ReferenceColumn outside = ReferenceColumn.ofRuns(List.of(new ReferenceColumn.Run(OWNER, 0, arenaEnd, 1024,
                1, DType.F32, Shape.of(256))));
        IllegalArgumentException beyond = assertThrows(IllegalArgumentException.class,
                () -> pull(outside, Map.of(), store.sharedLocation(), consumerShared));
        assertTrue(beyond.getMessage().startsWith("shared reference outside its owner's arena: ownerRank=7, shmRank=0,"
                + " run=" + outside.runs().getFirst() + ": bytes outside the rank's shared arena: rank=0, offset="
                + arenaEnd + ", byteSize=1024"), beyond.getMessage());
        IllegalArgumentException malformed = assertThrows(IllegalArgumentException.class,
                () -> pull(column, Map.of(), "no-rank", consumerShared));
        assertEquals("malformed shared reference location: location=no-rank, expected <world id>/<rank>",
                malformed.getMessage());
        IllegalArgumentException notInWorld = assertThrows(IllegalArgumentException.class,
                () -> pull(column, Map.of(), consumerShared.worldId() + "/2", consumerShared));
        assertEquals("shared reference owner outside the shm world: location=" + consumerShared.worldId()
                + "/2, worldSize=2", notInWorld.getMessage());
        assertEquals(0, consumerPlane.sharedBytes());
        assertEquals(1, store.liveCount());
    }
}
