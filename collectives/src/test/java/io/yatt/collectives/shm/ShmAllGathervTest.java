package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTestData;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.RankContext;
import io.yatt.collectives.RankOutcome;
import io.yatt.collectives.RankTask;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Direct placement of shm {@code allGatherv} on 3 rank JVMs: strided send views (column blocks of a matrix) read
 * straight from the owner's memory into strided receive views, with the arena, mixed and heap placements; counted
 * bytes exact and no staged all-gather behind it; no arena staging when every send view is in the arena (a full
 * arena does not stop it), and the staged fallback when a heap sender finds no room.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShmAllGathervTest {
    private static final int SIZE = 3;
    private static final long WIDTH = 5;

    private final ShmProcessHarness harness = new ShmProcessHarness(SIZE,
        new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)).debugChecks(true));

    @AfterAll
    void close() {
        harness.close();
    }

    private <T> List<T> everyRank(RankTask<T> task) {
        return harness.run(task).stream().map(RankOutcome::get).toList();
    }

    private static boolean inArena(String placement, int rank) {
        return placement.equals("all") || placement.equals("mixed") && rank % 2 == 1;
    }

    private static Tensor make(RankContext ctx, boolean arena, DType dtype, byte[] content) {
        if (!arena) {
            return CollectiveTestData.tensor(ctx, dtype, content);
        }
        Tensor t = ((ShmCommunicator) ctx.communicator()).allocate(dtype, Shape.of(content.length / dtype.byteSize()));
        MemorySegment.copy(MemorySegment.ofArray(content), 0, t.segment(), 0, content.length);
        return t;
    }

    private static void release(RankContext ctx, boolean arena, Tensor t) {
        if (arena) {
            ((ShmCommunicator) ctx.communicator()).free(t);
        } else {
            t.close();
        }
    }

    /** The rows x WIDTH block of rank q's input matrix (rows x SIZE*WIDTH) that rank q sends. */
    private static byte[] expectedGather(DType dtype, byte[][] inputs, long rows) {
        // rank q's input is a rows x (SIZE * WIDTH) matrix; it sends its column block q; receivers place block q of
        // every row into column block q of their own rows x (SIZE * WIDTH) matrix
        List<byte[]> parts = new ArrayList<>();
        for (long r = 0; r < rows; r++) {
            for (int q = 0; q < SIZE; q++) {
                parts.add(CollectiveTestData.slice(dtype, inputs[q], r * SIZE * WIDTH + q * WIDTH, WIDTH));
            }
        }
        return CollectiveTestData.concat(parts.toArray(new byte[0][]));
    }

    @ParameterizedTest(name = "{0} rows={1} {2}")
    @CsvSource({"all, 7, BF16", "mixed, 7, BF16", "none, 7, I32", "all, 70001, F32", "mixed, 70001, F32",
        "none, 70001, F32", "all, 1, I8"})
    void shouldPlaceStridedPiecesStraightFromThePeersViews(String placement, long rows, DType dtype) {
        long elements = rows * SIZE * WIDTH;
        byte[][] inputs = CollectiveTestData.inputs(dtype, SIZE, elements, rows * 7 + placement.hashCode());
        List<Object[]> results = everyRank(ctx -> {
            int me = ctx.rank();
            Communicator comm = ctx.communicator();
            boolean arena = inArena(placement, me);
            Tensor src = make(ctx, arena, dtype, inputs[me]);
            Tensor out = make(ctx, !arena, dtype, new byte[(int) (elements * dtype.byteSize())]);
            Tensor send = src.view(Shape.of(rows, SIZE * WIDTH)).narrow(1, me * WIDTH, WIDTH);
            Tensor matrix = out.view(Shape.of(rows, SIZE * WIDTH));
            List<List<Tensor>> recv = new ArrayList<>();
            for (int q = 0; q < SIZE; q++) {
                recv.add(List.of(matrix.narrow(1, q * WIDTH, WIDTH)));
            }
            long arenaBefore = ((ShmCommunicator) comm).arenaUsedBytes();
            comm.barrier();
            comm.resetStats();
            comm.allGatherv(List.of(send), recv);
            CommunicatorStats stats = comm.stats();
            long arenaAfter = ((ShmCommunicator) comm).arenaUsedBytes();
            byte[] got = CollectiveTestData.bytes(out);
            release(ctx, arena, src);
            release(ctx, !arena, out);
            return new Object[] {got, new long[] {stats.bytesReceived(), stats.bytesSent(),
                stats.calls(CollectiveKind.ALL_GATHER_V), stats.calls(CollectiveKind.ALL_GATHER),
                stats.calls(CollectiveKind.SEND), arenaAfter - arenaBefore}};
        });
        byte[] expected = expectedGather(dtype, inputs, rows);
        long pieceBytes = rows * WIDTH * dtype.byteSize();
        for (int r = 0; r < SIZE; r++) {
            assertArrayEquals(expected, (byte[]) results.get(r)[0], "result on rank " + r);
            assertArrayEquals(new long[] {(SIZE - 1) * pieceBytes, (SIZE - 1) * pieceBytes, 1, 0, 0, 0},
                (long[]) results.get(r)[1], "received, sent, allGatherv, allGather, send calls, arena growth on rank "
                    + r);
        }
    }

    @Test
    void shouldChargeThePackedBlockAndHeapReceiveStagingToTheCallersScratch() {
        long rows = 220_001; // each rank's piece (4,400,020 bytes) is larger than its 4 MiB staging half
        DType dtype = DType.F32;
        long elements = rows * SIZE * WIDTH;
        byte[][] inputs = CollectiveTestData.inputs(dtype, SIZE, elements, 41);
        List<Object[]> results = everyRank(ctx -> {
            int me = ctx.rank();
            ShmCommunicator comm = (ShmCommunicator) ctx.communicator();
            Tensor src = make(ctx, false, dtype, inputs[me]);
            Tensor send = src.view(Shape.of(rows, SIZE * WIDTH)).narrow(1, me * WIDTH, WIDTH);
            // first into private native memory (placed directly), then into a Java array (through scratch blocks)
            Tensor out = make(ctx, false, dtype, new byte[(int) (elements * dtype.byteSize())]);
            byte[] onHeap = new byte[(int) (elements * dtype.byteSize())];
            Tensor heapOut = Tensor.wrap(MemorySegment.ofArray(onHeap), dtype, Shape.of(elements));
            long tableBytes = (ShmViews.tableBytes(List.of(send)) + 63) / 64 * 64;
            long arenaBefore = comm.arenaUsedBytes();
            long[] charged;
            try (Allocator arenaScratch = comm.allocator("scratch"); Allocator heapScratch = Allocator.root("scratch")) {
                comm.barrier();
                comm.allGatherv(List.of(send), columnBlocks(out, rows), arenaScratch);
                long arenaGrowth = comm.arenaUsedBytes() - arenaBefore;
                comm.allGatherv(List.of(send), columnBlocks(heapOut, rows), heapScratch);
                charged = new long[] {arenaScratch.peakBytes(), arenaScratch.allocatedBytes(), heapScratch.peakBytes(),
                    heapScratch.allocatedBytes(), arenaGrowth, tableBytes};
            }
            byte[] expected = expectedGather(dtype, inputs, rows);
            boolean[] same = {Arrays.equals(expected, CollectiveTestData.bytes(out)), Arrays.equals(expected, onHeap)};
            src.close();
            out.close();
            return new Object[] {same, charged};
        });
        long pieceBytes = rows * WIDTH * dtype.byteSize();
        for (int r = 0; r < SIZE; r++) {
            assertArrayEquals(new boolean[] {true, true}, (boolean[]) results.get(r)[0],
                "native and Java array results equal the expected gather on rank " + r);
            long[] charged = (long[]) results.get(r)[1];
            // arena scratch: the packed block (table + this rank's piece) for the call; heap scratch: one peer piece at
            // a time through a contiguous block for the strided Java-array receive views (its packed block then comes
            // from the arena, which a heap allocator cannot hold); nothing left allocated, no arena growth
            assertArrayEquals(new long[] {charged[5] + pieceBytes, 0, pieceBytes, 0, 0, charged[5]}, charged,
                "arena scratch peak, live; heap scratch peak, live; arena growth; table bytes on rank " + r);
        }
    }

    private static List<List<Tensor>> columnBlocks(Tensor out, long rows) {
        Tensor matrix = out.view(Shape.of(rows, SIZE * WIDTH));
        List<List<Tensor>> recv = new ArrayList<>();
        for (int q = 0; q < SIZE; q++) {
            recv.add(List.of(matrix.narrow(1, q * WIDTH, WIDTH)));
        }
        return recv;
    }

    @Test
    void shouldPlaceArenaViewsWithoutStagingEvenWhenTheArenaIsFull() {
        DType dtype = DType.F32;
        long rows = 220_000; // 4.4 MB per piece: more than a staging half (4 MiB)
        long elements = rows * SIZE * WIDTH;
        List<long[]> results = everyRank(ctx -> {
            int me = ctx.rank();
            ShmCommunicator comm = (ShmCommunicator) ctx.communicator();
            byte[][] inputs = CollectiveTestData.inputs(dtype, SIZE, elements, 11);
            Tensor src = make(ctx, true, dtype, inputs[me]);
            List<Tensor> filler = fillArena(comm);
            try (Tensor out = CollectiveTestData.zeros(ctx, dtype, elements)) {
                Tensor send = src.view(Shape.of(rows, SIZE * WIDTH)).narrow(1, me * WIDTH, WIDTH);
                Tensor matrix = out.view(Shape.of(rows, SIZE * WIDTH));
                List<List<Tensor>> recv = new ArrayList<>();
                for (int q = 0; q < SIZE; q++) {
                    recv.add(List.of(matrix.narrow(1, q * WIDTH, WIDTH)));
                }
                comm.barrier();
                comm.resetStats();
                comm.allGatherv(List.of(send), recv);
                CommunicatorStats stats = comm.stats();
                boolean same = Arrays.equals(expectedGather(dtype, inputs, rows),
                    CollectiveTestData.bytes(out));
                return new long[] {same ? 1 : 0, stats.calls(CollectiveKind.ALL_GATHER), stats.bytesReceived()};
            } finally {
                for (Tensor t : filler) {
                    comm.free(t);
                }
                comm.free(src);
            }
        });
        for (int r = 0; r < SIZE; r++) {
            assertArrayEquals(new long[] {1, 0, (SIZE - 1) * rows * WIDTH * 4}, results.get(r),
                "correct, staged all-gathers, bytes received on rank " + r);
        }
    }

    @Test
    void shouldFallBackToTheStagedPathWhenAHeapSenderFindsNoArenaRoom() {
        DType dtype = DType.I32;
        long count = 2_000_000; // 8 MB: more than a staging half, and the arena is full
        List<long[]> results = everyRank(ctx -> {
            int me = ctx.rank();
            byte[][] inputs = CollectiveTestData.inputs(dtype, SIZE, count, 5);
            ShmCommunicator comm = (ShmCommunicator) ctx.communicator();
            List<Tensor> filler = me == 1 ? fillArena(comm) : List.of();
            try (Tensor send = CollectiveTestData.tensor(ctx, dtype, inputs[me]);
                 Tensor out = CollectiveTestData.zeros(ctx, dtype, SIZE * count)) {
                List<List<Tensor>> recv = new ArrayList<>();
                for (int q = 0; q < SIZE; q++) {
                    recv.add(List.of(out.narrow(0, q * count, count)));
                }
                comm.barrier();
                comm.resetStats();
                comm.allGatherv(List.of(send), recv);
                CommunicatorStats stats = comm.stats();
                boolean same = Arrays.equals(CollectiveTestData.concat(inputs),
                    CollectiveTestData.bytes(out));
                return new long[] {same ? 1 : 0, stats.calls(CollectiveKind.ALL_GATHER_V),
                    stats.calls(CollectiveKind.ALL_GATHER), stats.bytesReceived()};
            } finally {
                for (Tensor t : filler) {
                    comm.free(t);
                }
            }
        });
        for (int r = 0; r < SIZE; r++) {
            assertArrayEquals(new long[] {1, 1, 1, (SIZE - 1) * count * 4}, results.get(r),
                "correct, allGatherv calls, staged all-gathers, bytes received on rank " + r);
        }
    }

    @Test
    void shouldGatherInsideAGroupTogetherWithAnAllReduce() {
        DType dtype = DType.F32;
        long rows = 4;
        long elements = rows * SIZE * WIDTH;
        byte[][] inputs = CollectiveTestData.inputs(dtype, SIZE, elements, 3);
        List<byte[][]> results = everyRank(ctx -> {
            int me = ctx.rank();
            Communicator comm = ctx.communicator();
            try (Tensor src = CollectiveTestData.tensor(ctx, dtype, inputs[me]);
                 Tensor out = CollectiveTestData.zeros(ctx, dtype, elements);
                 Tensor sum = CollectiveTestData.tensor(ctx, dtype, inputs[me])) {
                Tensor send = src.view(Shape.of(rows, SIZE * WIDTH)).narrow(1, me * WIDTH, WIDTH);
                Tensor matrix = out.view(Shape.of(rows, SIZE * WIDTH));
                List<List<Tensor>> recv = new ArrayList<>();
                for (int q = 0; q < SIZE; q++) {
                    recv.add(List.of(matrix.narrow(1, q * WIDTH, WIDTH)));
                }
                try (var group = comm.group()) {
                    comm.allGatherv(List.of(send), recv);
                    comm.allReduce(sum, ReduceOp.SUM);
                }
                return new byte[][] {CollectiveTestData.bytes(out), CollectiveTestData.bytes(sum)};
            }
        });
        for (int r = 0; r < SIZE; r++) {
            assertArrayEquals(expectedGather(dtype, inputs, rows), results.get(r)[0], "gather on rank " + r);
            assertArrayEquals(CollectiveTestData.reduce(dtype, ReduceOp.SUM, inputs, 0, elements),
                results.get(r)[1], "sum on rank " + r);
        }
    }

    @Test
    void shouldRejectAClosedViewAndKeepWorking() {
        List<String> results = everyRank(ctx -> {
            int me = ctx.rank();
            Communicator comm = ctx.communicator();
            Tensor closed = CollectiveTestData.zeros(ctx, DType.F32, 4);
            closed.close();
            byte[] input = CollectiveTestData.input(DType.F32, me, 4, 9);
            try (Tensor out = CollectiveTestData.zeros(ctx, DType.F32, 4L * SIZE);
                 Tensor mine = CollectiveTestData.tensor(ctx, DType.F32, input)) {
                List<List<Tensor>> recv = new ArrayList<>();
                for (int q = 0; q < SIZE; q++) {
                    recv.add(List.of(out.narrow(0, 4L * q, 4)));
                }
                String message;
                try {
                    comm.allGatherv(List.of(closed), recv);
                    message = "no exception";
                } catch (IllegalStateException e) {
                    message = e.getMessage();
                }
                comm.allGatherv(List.of(mine), recv); // the communicator was not aborted
                byte[] expected = CollectiveTestData.concat(CollectiveTestData.inputs(DType.F32, SIZE, 4, 9));
                boolean same = Arrays.equals(expected, CollectiveTestData.bytes(out));
                return message + (same ? "" : ", wrong result after");
            }
        });
        for (int r = 0; r < SIZE; r++) {
            assertEquals("allGatherv view closed: send piece 0, rank=" + r, results.get(r));
        }
    }

    @Test
    void shouldReportPiecesThatDoNotMatchTheReceiveViewsOnEveryRank() {
        // rank 1 sends a 2 x 3 piece where ranks 0 and 2 expect 3 x 2 from it (same element count)
        List<RankOutcome<Object>> outcomes;
        try (ShmProcessHarness fresh = new ShmProcessHarness(SIZE,
            new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(30)).debugChecks(true))) {
            outcomes = fresh.run(ctx -> {
                int me = ctx.rank();
                try (Tensor src = CollectiveTestData.zeros(ctx, DType.I32, 6);
                     Tensor out = CollectiveTestData.zeros(ctx, DType.I32, 6 * SIZE)) {
                    Tensor send = src.view(me == 1 ? Shape.of(2, 3) : Shape.of(3, 2));
                    List<List<Tensor>> recv = new ArrayList<>();
                    for (int q = 0; q < SIZE; q++) {
                        recv.add(List.of(out.narrow(0, 6L * q, 6).view(q == me ? send.shape() : Shape.of(3, 2))));
                    }
                    ctx.communicator().allGatherv(List.of(send), recv);
                    return "returned";
                }
            });
        }
        String fromRank0 = "allGatherv views do not match: piece 0, rank 1 sends I32[2, 3], rank 0 receives I32[3, 2]";
        String fromRank2 = "allGatherv views do not match: piece 0, rank 1 sends I32[2, 3], rank 2 receives I32[3, 2]";
        // a receiver reports what it found unless the other receiver's abort reached it first
        for (RankOutcome<Object> outcome : outcomes) {
            assertEquals(CollectiveMismatchException.class, outcome.failure().getClass(), "rank " + outcome.rank());
            String message = outcome.failure().getMessage();
            assertTrue(message.equals(fromRank0) || message.equals(fromRank2), "rank " + outcome.rank() + ": "
                + message);
        }
    }

    /** Allocates arena tensors until less than 1 MiB is left. */
    private static List<Tensor> fillArena(ShmCommunicator comm) {
        List<Tensor> filler = new ArrayList<>();
        for (long chunk = 64L << 20; chunk >= (1L << 20); ) {
            try {
                filler.add(comm.allocate(DType.U8, Shape.of(chunk)));
            } catch (IllegalStateException full) {
                chunk /= 2;
            }
        }
        return filler;
    }
}
