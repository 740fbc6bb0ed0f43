package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.collectives.InProcessWorld;
import io.yatt.tensor.Allocator;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The step batch's all-gathers: every rank gets every rank's block, rank-major, with the bits unchanged (a NaN's
 * payload and a negative zero survive), and {@code pick} takes the blocks of the source ranks in the order given.
 */
class WorldRowsTest {

    @Test
    void shouldGatherEveryRanksBlockWithItsBitsUnchanged() {
        double nanPayloadD = Double.longBitsToDouble(0x7ff8000000abcdefL);
        try (InProcessWorld world = InProcessWorld.create(3)) {
            List<Object[]> got = RankThreads.run(world, comm -> {
                int r = comm.rank();
                try (Allocator a = Allocator.root("world-rows-" + r)) {
                    Object[] out = {
                        WorldRows.ints(comm, a, new int[] {r, -r, 100 + r}),
                        WorldRows.doubles(comm, a, new double[] {r == 0 ? -0.0 : r == 1 ? -1.0 : nanPayloadD}),
                        a.allocatedBytes()};
                    return out;
                }
            });
            for (Object[] rank : got) {
                assertArrayEquals(new int[] {0, 0, 100, 1, -1, 101, 2, -2, 102}, (int[]) rank[0]);
                double[] d = (double[]) rank[1];
                assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(d[0]));
                assertEquals(Double.doubleToRawLongBits(-1.0), Double.doubleToRawLongBits(d[1]));
                assertEquals(0x7ff8000000abcdefL, Double.doubleToRawLongBits(d[2]));
                assertEquals(0L, rank[2]);
            }
        }
    }

    @Test
    void shouldPickTheSourceRanksBlocksInTheOrderGiven() {
        int[] all = {0, 0, 1, 1, 2, 2, 3, 3};
        assertArrayEquals(new int[] {2, 2, 0, 0}, WorldRows.pick(all, 2, new int[] {2, 0}));
    }
}
