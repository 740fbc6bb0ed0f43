package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveTestData;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.RankContext;
import io.yatt.collectives.RankOutcome;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * All-reduce on two rank JVMs past the one-round size, where each rank pushes its reduced slice into both outputs
 * when every buffer is in the arena: out of place, in place, one rank in place and the other not, and one rank on
 * the heap (the staged path), three calls in a row each with new inputs, against the rank-order reference, with the
 * inputs of out-of-place ranks left untouched and exact counted bytes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShmAllReduceTest {
    private static final int CALLS = 3;
    private final ShmProcessHarness harness = new ShmProcessHarness(2,
        new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)).debugChecks(true));

    @AfterAll
    void close() {
        harness.close();
    }

    /** Rank {@code rank}'s placement under {@code mode}: "out", "in", "mixed" (rank 0 in place), "heap1" (rank 1). */
    private static boolean inPlace(String mode, int rank) {
        return mode.equals("in") || mode.equals("mixed") && rank == 0;
    }

    private static boolean inArena(String mode, int rank) {
        return !(mode.equals("heap1") && rank == 1);
    }

    private static Tensor make(RankContext ctx, boolean arena, DType dtype, long count) {
        if (!arena) {
            return CollectiveTestData.zeros(ctx, dtype, count);
        }
        return ((ShmCommunicator) ctx.communicator()).allocate(dtype, Shape.of(count));
    }

    private static void fill(Tensor t, byte[] content) {
        MemorySegment.copy(MemorySegment.ofArray(content), 0, t.segment(), 0, content.length);
    }

    @ParameterizedTest(name = "{0} {1} {2} count={3}")
    @CsvSource({"out, F32, SUM, 1000003", "in, F32, SUM, 1000003", "mixed, F32, SUM, 1000003",
        "heap1, F32, SUM, 1000003", "out, BF16, MAX, 300001", "in, BF16, MAX, 300001", "mixed, F64, AVG, 16385",
        "in, I32, SUM, 8193", "out, F32, MIN, 16384"})
    void shouldAllReduceEveryPlacementOnTwoRanks(String mode, DType dtype, ReduceOp op, long count) {
        long seed = count * 7 + mode.hashCode() + op.ordinal();
        byte[][][] inputs = new byte[CALLS][][];
        for (int c = 0; c < CALLS; c++) {
            inputs[c] = CollectiveTestData.inputs(dtype, 2, count, seed + c);
        }
        List<RankOutcome<List<byte[]>>> outcomes = harness.run(ctx -> {
            int r = ctx.rank();
            boolean arena = inArena(mode, r);
            boolean in = inPlace(mode, r);
            Tensor send = make(ctx, arena, dtype, count);
            Tensor recv = in ? send : make(ctx, arena, dtype, count);
            List<byte[]> out = new ArrayList<>();
            CommunicatorStats before = ctx.communicator().stats();
            for (int c = 0; c < CALLS; c++) {
                fill(send, inputs[c][r]);
                ctx.communicator().allReduce(send, recv, op);
                out.add(CollectiveTestData.bytes(recv));
                out.add(in ? inputs[c][r] : CollectiveTestData.bytes(send));
            }
            CommunicatorStats delta = ctx.communicator().stats().minus(before);
            out.add(ByteBuffer.allocate(16).putLong(delta.bytesReceived()).putLong(delta.bytesSent()).array());
            if (arena) {
                ((ShmCommunicator) ctx.communicator()).free(send);
                if (!in) {
                    ((ShmCommunicator) ctx.communicator()).free(recv);
                }
            } else {
                send.close();
                recv.close();
            }
            return out;
        });
        for (int r = 0; r < 2; r++) {
            List<byte[]> got = outcomes.get(r).get();
            for (int c = 0; c < CALLS; c++) {
                byte[] expected = CollectiveTestData.reduce(dtype, op, inputs[c], 0, count);
                assertArrayEquals(expected, got.get(2 * c), "rank " + r + ", call " + c + ": result");
                assertArrayEquals(inputs[c][r], got.get(2 * c + 1), "rank " + r + ", call " + c + ": input changed");
            }
            // two ranks: each receives the peer's input slice and reduced slice, count elements in all, per call
            ByteBuffer counted = ByteBuffer.wrap(got.get(2 * CALLS));
            assertEquals(CALLS * count * dtype.byteSize(), counted.getLong(), "rank " + r + ": bytes received");
            assertEquals(CALLS * count * dtype.byteSize(), counted.getLong(), "rank " + r + ": bytes sent");
        }
        assertEquals(2, outcomes.size());
    }
}
