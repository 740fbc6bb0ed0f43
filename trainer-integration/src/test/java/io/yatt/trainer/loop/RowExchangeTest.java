package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.collectives.InProcessWorld;
import io.yatt.tensor.Allocator;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The step's rows move from the generation replicas that made them to the training DP ranks that hold them: each rank
 * gets exactly its rows, in its order, and receives (counted by its communicator) only the bytes of its rows made
 * elsewhere.
 */
class RowExchangeTest {
    private static final int WIDTH = 3;
    private static final int PER = 4;
    /** Two replicas (blocks of 4 rows) made on ranks 0 and 2. */
    private static final int[] SOURCES = {0, 2};
    /** Training DP 2 x TP 2 with two mini-batches of 4: DP rank d holds rows u*4 + d*2 + j. */
    private static final int[][] ROWS = {{0, 1, 4, 5}, {0, 1, 4, 5}, {2, 3, 6, 7}, {2, 3, 6, 7}};

    private static int value(int row, int c) {
        return row * 100 + c;
    }

    @Test
    void shouldGiveEachRankItsRowsAndMoveOnlyThose() {
        try (InProcessWorld world = InProcessWorld.create(4)) {
            List<Object[]> got = RankThreads.run(world, comm -> {
                int r = comm.rank();
                int[] produced = new int[PER * WIDTH];
                int block = r == 0 ? 0 : r == 2 ? 1 : -1;
                for (int k = 0; k < PER && block >= 0; k++) {
                    for (int c = 0; c < WIDTH; c++) {
                        produced[k * WIDTH + c] = value(block * PER + k, c);
                    }
                }
                try (Allocator a = Allocator.root("row-exchange-" + r)) {
                    comm.resetStats();
                    int[] rows = RowExchange.exchange(comm, a, block >= 0 ? produced : new int[0], WIDTH, SOURCES,
                            PER, ROWS);
                    return new Object[] {rows, comm.stats().bytesReceived(), a.allocatedBytes()};
                }
            });
            for (int r = 0; r < 4; r++) {
                int[] expected = new int[ROWS[r].length * WIDTH];
                for (int k = 0; k < ROWS[r].length; k++) {
                    for (int c = 0; c < WIDTH; c++) {
                        expected[k * WIDTH + c] = value(ROWS[r][k], c);
                    }
                }
                assertArrayEquals(expected, (int[]) got.get(r)[0], "rows of rank " + r);
                assertEquals(0L, got.get(r)[2], "staging left on rank " + r);
            }
            // ranks 0 and 2 made half their rows themselves; ranks 1 and 3 receive all four rows, 12 bytes each
            assertEquals(2L * WIDTH * Integer.BYTES, got.get(0)[1]);
            assertEquals(4L * WIDTH * Integer.BYTES, got.get(1)[1]);
            assertEquals(2L * WIDTH * Integer.BYTES, got.get(2)[1]);
            assertEquals(4L * WIDTH * Integer.BYTES, got.get(3)[1]);
        }
    }

    @Test
    void shouldRejectABlockThatDoesNotFitAndRowsOutsideTheBlocks() {
        try (InProcessWorld world = InProcessWorld.create(1);
             Allocator a = Allocator.root("row-exchange-bad")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RowExchange.exchange(
                    world.communicator(0), a, new int[5], WIDTH, new int[] {0}, PER, new int[][] {{0, 1, 2, 3}}));
            assertEquals("produced block does not fit: values=5, expected=4 rows x 3", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> RowExchange.exchange(world.communicator(0), a,
                    new int[PER * WIDTH], WIDTH, new int[] {0}, PER, new int[][] {{0, 1, 2, 4}}));
            assertEquals("row outside the produced blocks: row=4, blocks=1 x 4", e.getMessage());
        }
    }
}
