package io.yatt.bench.collectives;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
