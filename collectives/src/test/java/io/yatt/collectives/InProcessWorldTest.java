package io.yatt.collectives;

import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.yatt.collectives.CollectiveTestData.bytes;
import static io.yatt.collectives.CollectiveTestData.input;
import static io.yatt.collectives.CollectiveTestData.inputs;
import static io.yatt.collectives.CollectiveTestData.reduce;
import static io.yatt.collectives.CollectiveTestData.tensor;
import static io.yatt.collectives.CollectiveTestData.zeros;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Behaviour specific to the in-process backend and its world. */
class InProcessWorldTest {

    @Test
    void shouldNameTheOperationSequenceAndMissingRanksOnTimeout() {
        try (InProcessHarness harness = new InProcessHarness(3, new Communicator.Context().timeoutNs(200_000_000L))) {
            List<RankOutcome<String>> outcomes = harness.run(ctx -> {
                if (ctx.rank() == 1) {
                    return "silent";
                }
                try (Tensor buf = zeros(ctx, DType.F32, 4)) {
                    ctx.communicator().allReduce(buf, ReduceOp.SUM);
                    if (ctx.rank() == 2) {
                        Thread.sleep(50);
                    }
                    ctx.communicator().barrier();
                    return "no timeout";
                } catch (CollectiveTimeoutException e) {
                    return e.getMessage();
                }
            });
            assertEquals("allReduce timed out: op=allReduce, seq=0, missing ranks=[1], timeoutNs=200000000",
                    outcomes.get(0).get());
            assertEquals("allReduce timed out: op=allReduce, seq=0, missing ranks=[1], timeoutNs=200000000",
                    outcomes.get(2).get());
        }
    }

    @Test
    void shouldFailWaitingRanksAtOnceWhenTheWorldCloses() throws Exception {
        InProcessWorld world = InProcessWorld.create(2);
        CompletableFuture<Throwable> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                world.communicator(0).barrier();
                return null;
            } catch (RuntimeException e) {
                return e;
            }
        });
        Thread.sleep(100);
        long start = System.nanoTime();
        world.close();
        Throwable failure = waiter.get(10, TimeUnit.SECONDS);
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
        assertInstanceOf(CommunicatorAbortedException.class, failure);
        assertEquals("communicator aborted: rank=0, size=2, cause=in-process world closed: size=2", failure.getMessage());
        assertEquals("in-process world already closed: size=2", assertThrows(IllegalStateException.class, world::close)
                .getMessage());
    }

    @Test
    void shouldAbortFromAnotherThread() throws Exception {
        try (InProcessWorld world = InProcessWorld.create(3)) {
            CompletableFuture<Throwable> waiter = CompletableFuture.supplyAsync(() -> {
                try {
                    world.communicator(1).barrier();
                    return null;
                } catch (RuntimeException e) {
                    return e;
                }
            });
            Thread.sleep(50);
            world.communicator(2).abort();
            assertEquals("communicator aborted: rank=1, size=3, cause=communicator aborted by rank 2: size=3",
                    waiter.get(10, TimeUnit.SECONDS).getMessage());
            assertEquals("communicator aborted: rank=0, size=3, cause=communicator aborted by rank 2: size=3",
                    assertThrows(CommunicatorAbortedException.class, () -> world.communicator(0).barrier()).getMessage());
        }
    }

    @Test
    void shouldCloseEachEndpointOnce() {
        try (InProcessWorld world = InProcessWorld.create(2)) {
            Communicator comm = world.communicator(1);
            comm.close();
            assertEquals("communicator closed: rank=1, size=2", assertThrows(IllegalStateException.class, comm::barrier)
                    .getMessage());
            assertEquals("communicator already closed: rank=1, size=2", assertThrows(IllegalStateException.class,
                    comm::close).getMessage());
        }
    }

    @Test
    void shouldValidateWorldAndContext() {
        assertEquals("invalid world size: size=0, expected >= 1", assertThrows(IllegalArgumentException.class,
                () -> InProcessWorld.create(0)).getMessage());
        assertEquals("invalid timeout: timeoutNs=0, expected > 0", assertThrows(IllegalArgumentException.class,
                () -> InProcessWorld.create(2, new Communicator.Context().timeoutNs(0))).getMessage());
        Communicator.Context context = new Communicator.Context().conclude();
        assertEquals("context already concluded", assertThrows(IllegalStateException.class,
                () -> context.timeoutNs(5)).getMessage());
        assertEquals(Communicator.Context.DEFAULT_TIMEOUT_NS, context.timeoutNs());
        assertTrue(context.debugChecks(), "tests run with -Dyatt.debug.checks=true");
        assertFalse(context.copy().isConcluded());
        try (InProcessWorld world = InProcessWorld.create(2)) {
            assertEquals("rank out of range: rank=2, size=2", assertThrows(IllegalArgumentException.class,
                    () -> world.communicator(2)).getMessage());
            assertEquals(2, world.communicators().size());
        }
    }

    @Test
    void shouldRejectSplitInsideAGroupAndTooManySendsToOnePeer() {
        try (InProcessHarness harness = new InProcessHarness(2, new Communicator.Context())) {
            List<RankOutcome<List<String>>> outcomes = harness.run(ctx -> {
                Communicator comm = ctx.communicator();
                String split;
                try (CollectiveGroup group = comm.group()) {
                    split = assertThrows(IllegalStateException.class, () -> comm.split(0, 0)).getMessage();
                }
                String sends;
                try (Tensor buf = zeros(ctx, DType.F32, 1)) {
                    CollectiveGroup group = comm.group();
                    for (int i = 0; i < 64; i++) {
                        comm.recv(buf, 1 - ctx.rank());
                    }
                    for (int i = 0; i < 64; i++) {
                        comm.send(buf, 1 - ctx.rank());
                    }
                    sends = assertThrows(IllegalArgumentException.class, () -> comm.send(buf, 1 - ctx.rank())).getMessage();
                    group.close();
                }
                return List.of(split, sends);
            });
            assertEquals(List.of("split inside a group is not supported: rank=0",
                    "too many sends to one peer in a group: peer=1, sends=65, max=64"), outcomes.get(0).get());
        }
    }

    @Test
    void shouldAllReduceLargeUnevenBuffersAcrossBlocks() {
        long count = (1 << 20) + 3;
        try (InProcessHarness harness = new InProcessHarness(3, new Communicator.Context())) {
            List<RankOutcome<byte[]>> outcomes = harness.run(ctx -> {
                try (Tensor buf = tensor(ctx, DType.BF16, input(DType.BF16, ctx.rank(), count, 5))) {
                    ctx.communicator().allReduce(buf, ReduceOp.SUM);
                    return bytes(buf);
                }
            });
            byte[] expected = reduce(DType.BF16, ReduceOp.SUM, inputs(DType.BF16, 3, count, 5), 0, count);
            for (RankOutcome<byte[]> outcome : outcomes) {
                assertArrayEquals(expected, outcome.get());
            }
        }
    }

    @Test
    void shouldReportAsyncFailuresThroughTheHandle() throws ExecutionException, InterruptedException {
        try (InProcessHarness harness = new InProcessHarness(2, new Communicator.Context().timeoutNs(150_000_000L))) {
            List<RankOutcome<String>> outcomes = harness.run(ctx -> {
                if (ctx.rank() == 1) {
                    return "silent";
                }
                try (Tensor buf = zeros(ctx, DType.F32, 4)) {
                    CollectiveHandle handle = ctx.communicator().allReduceAsync(buf, ReduceOp.SUM);
                    CollectiveTimeoutException e = assertThrows(CollectiveTimeoutException.class,
                            () -> handle.await(TimeUnit.SECONDS.toNanos(10)));
                    assertTrue(handle.isDone());
                    return e.getMessage();
                }
            });
            assertEquals("allReduce timed out: op=allReduce, seq=0, missing ranks=[1], timeoutNs=150000000",
                    outcomes.get(0).get());
        }
    }
}
