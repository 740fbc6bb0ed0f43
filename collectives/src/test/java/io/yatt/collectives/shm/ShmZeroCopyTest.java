package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveTestData;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.RankContext;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The zero-copy paths (tensors from {@link ShmCommunicator#allocate}) and mixed calls (some ranks' tensors in the
 * arena, others on the heap, so some read peers in place and others stage), with sizes past one staging round,
 * against the reference.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShmZeroCopyTest {
    private final ShmProcessHarness harness = new ShmProcessHarness(3,
        new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)).debugChecks(true));

    @AfterAll
    void close() {
        harness.close();
    }

    /** Placement: "all" = every rank's tensors in the arena, "mixed" = only odd ranks, "none" = heap everywhere. */
    private static boolean inArena(String placement, int rank) {
        return placement.equals("all") || placement.equals("mixed") && rank % 2 == 1;
    }

    private static Tensor make(RankContext ctx, String placement, DType dtype, byte[] content) {
        ShmCommunicator comm = (ShmCommunicator) ctx.communicator();
        if (!inArena(placement, ctx.rank())) {
            return CollectiveTestData.tensor(ctx, dtype, content);
        }
        Tensor t = comm.allocate(dtype, Shape.of(content.length / dtype.byteSize()));
        MemorySegment.copy(MemorySegment.ofArray(content), 0, t.segment(), 0, content.length);
        return t;
    }

    private static void release(RankContext ctx, String placement, Tensor... tensors) {
        for (Tensor t : tensors) {
            if (inArena(placement, ctx.rank())) {
                ((ShmCommunicator) ctx.communicator()).free(t);
            } else {
                t.close();
            }
        }
    }

    private <T> List<T> everyRank(io.yatt.collectives.RankTask<T> task) {
        return harness.run(task).stream().map(io.yatt.collectives.RankOutcome::get).toList();
    }

    @ParameterizedTest(name = "{0} count={1} inPlace={2}")
    @CsvSource({"all, 1000003, false", "all, 1000003, true", "mixed, 1000003, false", "mixed, 77, true",
        "none, 1000003, true", "all, 5, false"})
    void shouldAllGatherAndAllReduceInPlaceOrStaged(String placement, long count, boolean inPlace) {
        DType dtype = DType.BF16;
        long seed = count * 31 + (inPlace ? 1 : 0) + placement.hashCode();
        byte[][] inputs = CollectiveTestData.inputs(dtype, 3, count, seed);
        List<byte[]> gathered = everyRank(ctx -> {
            int r = ctx.rank();
            Tensor recv = make(ctx, placement, dtype, new byte[(int) (3 * count * dtype.byteSize())]);
            Tensor send = inPlace ? recv.narrow(0, r * count, count) : make(ctx, placement, dtype, inputs[r]);
            if (inPlace) {
                MemorySegment.copy(MemorySegment.ofArray(inputs[r]), 0, send.segment(), 0, inputs[r].length);
            }
            ctx.communicator().allGather(send, recv);
            byte[] out = CollectiveTestData.bytes(recv);
            if (!inPlace) {
                release(ctx, placement, send);
            }
            release(ctx, placement, recv);
            return out;
        });
        byte[] expected = CollectiveTestData.concat(inputs);
        for (byte[] g : gathered) {
            assertArrayEquals(expected, g);
        }
        List<byte[]> reduced = everyRank(ctx -> {
            Tensor send = make(ctx, placement, dtype, inputs[ctx.rank()]);
            Tensor recv = inPlace ? send : make(ctx, placement, dtype, new byte[inputs[0].length]);
            ctx.communicator().allReduce(send, recv, ReduceOp.SUM);
            byte[] out = CollectiveTestData.bytes(recv);
            release(ctx, placement, inPlace ? new Tensor[] {send} : new Tensor[] {send, recv});
            return out;
        });
        byte[] sum = CollectiveTestData.reduce(dtype, ReduceOp.SUM, inputs, 0, count);
        for (byte[] g : reduced) {
            assertArrayEquals(sum, g);
        }
    }

    @ParameterizedTest(name = "{0} count={1}")
    @CsvSource({"all, 700001", "mixed, 700001", "all, 3", "mixed, 0"})
    void shouldReduceScatterBroadcastReduceAllToAllAndSendInTheArena(String placement, long count) {
        DType dtype = DType.F32;
        byte[][] inputs = CollectiveTestData.inputs(dtype, 3, 3 * count, count + 5);
        List<List<byte[]>> results = everyRank(ctx -> {
            int r = ctx.rank();
            Communicator comm = ctx.communicator();
            Tensor send = make(ctx, placement, dtype, inputs[r]);
            Tensor part = make(ctx, placement, dtype, new byte[(int) (count * 4)]);
            Tensor all = make(ctx, placement, dtype, new byte[inputs[r].length]);
            Tensor bc = make(ctx, placement, dtype, inputs[r]);
            Tensor red = make(ctx, placement, dtype, new byte[inputs[r].length]);
            comm.reduceScatter(send, part, ReduceOp.MAX);
            comm.broadcast(bc, 1);
            comm.reduce(send, red, ReduceOp.SUM, 2);
            comm.allToAll(send, all);
            Tensor ring = make(ctx, placement, dtype, new byte[inputs[r].length]);
            try (var group = comm.group()) {
                comm.send(send, (r + 1) % 3);
                comm.recv(ring, (r + 2) % 3);
            }
            List<byte[]> out = List.of(CollectiveTestData.bytes(part), CollectiveTestData.bytes(bc),
                CollectiveTestData.bytes(red), CollectiveTestData.bytes(all), CollectiveTestData.bytes(ring));
            release(ctx, placement, send, part, all, bc, red, ring);
            return out;
        });
        byte[] max = CollectiveTestData.reduce(dtype, ReduceOp.MAX, inputs, 0, 3 * count);
        byte[] sum = CollectiveTestData.reduce(dtype, ReduceOp.SUM, inputs, 0, 3 * count);
        for (int r = 0; r < 3; r++) {
            List<byte[]> got = results.get(r);
            assertArrayEquals(CollectiveTestData.slice(dtype, max, r * count, count), got.get(0), "reduceScatter");
            assertArrayEquals(inputs[1], got.get(1), "broadcast");
            if (r == 2) {
                assertArrayEquals(sum, got.get(2), "reduce");
            }
            byte[][] blocks = new byte[3][];
            for (int q = 0; q < 3; q++) {
                blocks[q] = CollectiveTestData.slice(dtype, inputs[q], r * count, count);
            }
            assertArrayEquals(CollectiveTestData.concat(blocks), got.get(3), "allToAll");
            assertArrayEquals(inputs[(r + 2) % 3], got.get(4), "ring send/recv");
        }
        assertEquals(3, results.size());
    }
}
