package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.RankOutcome;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one-round all-gather on 3 rank JVMs: peers copied in the order they post, the chunk staged instead of a closing
 * barrier when ranks share cores, and the same results, counted bytes and mismatch messages either way.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShmAllGatherTest {
    private static final int RANKS = 3;
    private static final Communicator.Context CONTEXT =
        new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)).debugChecks(true);
    private final ShmProcessHarness harness = new ShmProcessHarness(RANKS, CONTEXT);

    @AfterAll
    void close() {
        harness.close();
    }

    /** The byte rank {@code rank} sends in call {@code call}: differs between consecutive calls and between ranks. */
    private static byte mark(int call, int rank) {
        return (byte) (1 + call * RANKS + rank);
    }

    /** 16 KiB: staged instead of a closing barrier when the ranks share cores; 256 KiB: read in place, then a barrier. */
    @ParameterizedTest(name = "chunkBytes={0}")
    @ValueSource(longs = {16 * 1024, 256 * 1024})
    void shouldGatherEachCallsChunksWhenEveryRankRewritesItsArenaInputRightAfterReturn(long chunkBytes) {
        int calls = 100;
        List<String> results = harness.run(ctx -> {
            ShmCommunicator comm = (ShmCommunicator) ctx.communicator();
            int r = ctx.rank();
            Tensor send = comm.allocate(DType.I8, Shape.of(chunkBytes));
            Tensor recv = comm.allocate(DType.I8, Shape.of(RANKS * chunkBytes));
            long receivedBefore = comm.stats().bytesReceived();
            StringBuilder wrong = new StringBuilder();
            send.segment().fill(mark(0, r));
            for (int call = 0; call < calls; call++) {
                comm.allGather(send, recv);
                // a peer that still read this rank's tensor after the call returned would see the next call's mark
                send.segment().fill(mark(call + 1, r));
                for (int p = 0; p < RANKS; p++) {
                    for (long i = 0; i < chunkBytes; i += 509) {
                        byte got = recv.segment().get(ValueLayout.JAVA_BYTE, p * chunkBytes + i);
                        if (got != mark(call, p) && wrong.isEmpty()) {
                            wrong.append("call=").append(call).append(", chunk=").append(p).append(", byte=")
                                .append(i).append(", got=").append(got).append(", expected=").append(mark(call, p));
                        }
                    }
                }
            }
            long received = comm.stats().bytesReceived() - receivedBefore;
            comm.free(send);
            comm.free(recv);
            return wrong.isEmpty() ? "received=" + received : wrong.toString();
        }).stream().map(RankOutcome::get).toList();
        String expected = "received=" + calls * (RANKS - 1) * chunkBytes;
        assertEquals(List.of(expected, expected, expected), results);
    }

    @Test
    void shouldReportTheMismatchWithRankTwoOnEveryRank() {
        try (ShmProcessHarness fresh = new ShmProcessHarness(RANKS, CONTEXT)) {
            List<String> messages = fresh.run(ctx -> {
                long count = ctx.rank() == 2 ? 8 : 4;
                try (Allocator allocator = Allocator.root("mismatch");
                     Tensor send = Tensor.allocate(allocator, DType.F32, Shape.of(count), Device.host());
                     Tensor recv = Tensor.allocate(allocator, DType.F32, Shape.of(RANKS * count), Device.host())) {
                    ctx.communicator().allGather(send, recv);
                    return "no mismatch";
                } catch (CollectiveMismatchException e) {
                    return e.getMessage();
                }
            }).stream().map(RankOutcome::get).toList();
            String rank0 = "mismatched collective: rank 0 called allGather(count=4, dtype=F32) but rank 2 called "
                + "allGather(count=8, dtype=F32)";
            String rank1 = "mismatched collective: rank 1 called allGather(count=4, dtype=F32) but rank 2 called "
                + "allGather(count=8, dtype=F32)";
            // every rank reports a comparison of a matching rank with rank 2: its own, or that of the rank whose abort
            // record it found first (ranks 0 and 1 compare at the same time, so either may be first)
            for (String message : messages) {
                assertTrue(message.equals(rank0) || message.equals(rank1), message);
            }
        }
    }
}
