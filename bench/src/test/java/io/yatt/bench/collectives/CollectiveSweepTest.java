package io.yatt.bench.collectives;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CollectiveSweepTest {

    /** Every op, 96 and 384 bytes, 5 timed calls per point, no warm-up, checked. */
    private static final CollectiveSweep.Options OPTIONS = new CollectiveSweep.Options(List.of(SweepOp.values()), 96,
            384, 4, DType.F32, ReduceOp.SUM, 0, 5, 0, true, true, false);

    /** Runs the sweep on an in-process world of {@code n} ranks, each rank's communicator wrapped; rank 0's rows. */
    static List<CollectiveSweep.Result> sweep(int n, BiFunction<Communicator, Integer, Communicator> wrap)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        try (InProcessWorld world = InProcessWorld.create(n,
                new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)))) {
            List<Future<List<CollectiveSweep.Result>>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                Communicator comm = wrap.apply(world.communicator(r), r);
                futures.add(pool.submit(() -> {
                    CollectiveSweep sweep = new CollectiveSweep(comm, OPTIONS, out);
                    try {
                        return sweep.run();
                    } finally {
                        sweep.close();
                    }
                }));
            }
            List<CollectiveSweep.Result> rows = futures.getFirst().get(120, TimeUnit.SECONDS);
            for (Future<List<CollectiveSweep.Result>> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
            return rows;
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest(name = "ranks={0}")
    @ValueSource(ints = {2, 3})
    void shouldFindNothingWrongOnACorrectBackend(int n) throws Exception {
        List<CollectiveSweep.Result> rows = sweep(n, (comm, rank) -> comm);
        assertEquals(SweepOp.values().length * 2 * 2, rows.size());
        for (CollectiveSweep.Result row : rows) {
            long expected = row.inPlace() && row.op() == SweepOp.ALL_TO_ALL ? -1 : 0;
            assertEquals(expected, row.wrong(), row.toString());
        }
    }

    @ParameterizedTest(name = "ranks={0}")
    @ValueSource(ints = {2, 3})
    void shouldCountWrongElementsWhenOneRankReceivesNothing(int n) throws Exception {
        int victim = n - 1;
        List<CollectiveSweep.Result> rows = sweep(n, (comm, rank) -> new StaleChunkCommunicator(comm, victim, false));
        assertEquals(SweepOp.values().length * 2 * 2, rows.size());
        for (CollectiveSweep.Result row : rows) {
            if (row.inPlace() && row.op() == SweepOp.ALL_TO_ALL) {
                assertEquals(-1, row.wrong(), row.toString());
            } else if (row.op() == SweepOp.REDUCE && OPTIONS.root() != victim) {
                assertEquals(0, row.wrong(), "reduce checks the root only, which is not the victim: " + row);
            } else {
                assertTrue(row.wrong() > 0, "the sweep must see the missing data: " + row);
            }
        }
    }

    /**
     * A backend whose in-place calls alone deliver nothing: the in-place all-gather shares its receive buffer with the
     * out-of-place point just before it, which left the right answer there, so only the sentinel fill of the peers'
     * chunks lets the check see it.
     */
    @ParameterizedTest(name = "ranks={0}")
    @ValueSource(ints = {2, 3})
    void shouldCountWrongElementsWhenOnlyInPlaceCallsReceiveNothing(int n) throws Exception {
        int victim = n - 1;
        List<CollectiveSweep.Result> rows = sweep(n, (comm, rank) -> new StaleChunkCommunicator(comm, victim, true));
        assertEquals(SweepOp.values().length * 2 * 2, rows.size());
        for (CollectiveSweep.Result row : rows) {
            if (!row.inPlace()) {
                assertEquals(0, row.wrong(), row.toString());
            } else if (row.op() == SweepOp.ALL_TO_ALL) {
                assertEquals(-1, row.wrong(), row.toString());
            } else if (row.op() == SweepOp.REDUCE && OPTIONS.root() != victim) {
                assertEquals(0, row.wrong(), "reduce checks the root only, which is not the victim: " + row);
            } else {
                assertTrue(row.wrong() > 0, "the sweep must see the missing data: " + row);
            }
        }
    }

    @Test
    void shouldTakeTheMiddleBatchSoOnePreemptedBatchCannotMoveAPoint() {
        // one batch 20x slow: the mean (the old statistic) would be (4 * 1 + 20) / 5 = 4.8
        assertEquals(1.0, CollectiveSweep.median(new double[] {1, 1, 20, 1, 1}));
        assertEquals(3.0, CollectiveSweep.median(new double[] {5, 1, 3, 40, 2}));
        assertEquals(2.5, CollectiveSweep.median(new double[] {4, 1, 3, 2}));
        assertEquals(7.0, CollectiveSweep.median(new double[] {7}));
    }

    @Test
    void shouldRejectTheMedianOfNoBatches() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> CollectiveSweep.median(new double[0]));
        assertEquals("median of no values: length=0, expected at least 1", e.getMessage());
    }

    @Test
    void shouldReportTheMedianOfItsFiveBatchesAsEachPointsTime() throws Exception {
        List<CollectiveSweep.Result> rows = sweep(2, (comm, rank) -> comm);
        for (CollectiveSweep.Result row : rows) {
            if (row.inPlace() && row.op() == SweepOp.ALL_TO_ALL) {
                assertEquals(List.of(), row.batchUs(), row.toString());
                continue;
            }
            assertEquals(CollectiveSweep.BATCHES, row.batchUs().size(), row.toString());
            double[] batches = row.batchUs().stream().mapToDouble(Double::doubleValue).toArray();
            assertEquals(CollectiveSweep.median(batches), row.timeUs(), row.toString());
        }
    }

    @Test
    void shouldPrintEveryBatchInTheJsonLine() {
        CollectiveSweep.Result row = new CollectiveSweep.Result(SweepOp.ALL_REDUCE, 1024, 256, DType.F32, ReduceOp.SUM,
            -1, false, 2.0, 0.512, 0.512, 0, 12.5, List.of(2.0, 1.5, 2.25, 3.0, 1.0));
        assertEquals("{\"op\":\"all_reduce\",\"size\":1024,\"count\":256,\"type\":\"f32\",\"redop\":\"sum\","
            + "\"root\":-1,\"inPlace\":false,\"timeUs\":2.000,\"algbw\":0.512,\"busbw\":0.512,\"wrong\":0,"
            + "\"othersPct\":12.500,\"batchUs\":[2.000,1.500,2.250,3.000,1.000]}", CollectiveSweep.json(row));
    }
}
