package io.yatt.trainer.loop;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.Communicator;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Moves a step's rows from the ranks that produced them to the ranks that hold them, over a rank's world
 * communicator: the batch's rows come in blocks of {@code per} rows, block {@code g} produced on world rank
 * {@code sources[g]} (a generation replica's TP rank 0), and world rank {@code q} holds the rows {@code rowsByRank[q]}
 * (its training DP rank's rows, in update order). Each producer sends each rank only the rows that rank holds, in one
 * group of point-to-point calls (an all-to-all of uneven pieces), so no rank ever holds another's rows; a producer's
 * own rows are copied without the communicator. Rows are {@code width} ints each, their bits copied unchanged. Staging
 * comes from the caller's allocator and is freed before each call returns. Stateless; each call is collective over
 * the world and confined to the calling rank's thread.
 */
final class RowExchange {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    private RowExchange() {
    }

    /**
     * This rank's rows ({@code rowsByRank[world.rank()]}, in that order, {@code width} ints each) from the blocks
     * the producers made; {@code produced} is this rank's block ({@code per} rows) if it is a source, else ignored.
     *
     * @throws IllegalArgumentException if {@code produced} does not hold a block of {@code per} rows of
     *         {@code width} on a source, or a row is outside the blocks
     */
    static int[] exchange(Communicator world, Allocator allocator, int[] produced, int width, int[] sources, int per,
                          int[][] rowsByRank) {
        int me = world.rank();
        int size = world.size();
        boolean source = false;
        for (int src : sources) {
            source |= src == me;
        }
        if (source && produced.length != per * width) {
            throw new IllegalArgumentException("produced block does not fit: values=" + produced.length
                    + ", expected=" + per + " rows x " + width);
        }
        int[] mine = rowsByRank[me];
        int[] out = new int[mine.length * width];
        for (int[] rows : rowsByRank) {
            for (int row : rows) {
                if (row < 0 || row / per >= sources.length) {
                    throw new IllegalArgumentException("row outside the produced blocks: row=" + row + ", blocks="
                            + sources.length + " x " + per);
                }
            }
        }
        Tensor[] sends = new Tensor[size];
        Tensor[] recvs = new Tensor[size];
        try {
            boolean any = false;
            for (int q = 0; q < size; q++) {
                int count = 0;
                for (int row : rowsByRank[q]) {
                    count += sources[row / per] == me ? 1 : 0;
                }
                if (q == me || count == 0) {
                    continue;
                }
                sends[q] = Tensor.allocate(allocator, DType.I32, Shape.of((long) count * width), Device.host());
                int at = 0;
                for (int row : rowsByRank[q]) {
                    if (sources[row / per] == me) {
                        MemorySegment.copy(produced, (row % per) * width, sends[q].segment(), INT,
                                (long) at * width * Integer.BYTES, width);
                        at++;
                    }
                }
                any = true;
            }
            for (int q = 0; q < size; q++) {
                int count = 0;
                for (int row : mine) {
                    count += sources[row / per] == q ? 1 : 0;
                }
                if (q == me || count == 0) {
                    continue;
                }
                recvs[q] = Tensor.allocate(allocator, DType.I32, Shape.of((long) count * width), Device.host());
                any = true;
            }
            if (any) {
                try (CollectiveGroup group = world.group()) {
                    for (int q = 0; q < size; q++) {
                        if (sends[q] != null) {
                            world.send(sends[q], q);
                        }
                    }
                    for (int q = 0; q < size; q++) {
                        if (recvs[q] != null) {
                            world.recv(recvs[q], q);
                        }
                    }
                }
            }
            int[] taken = new int[size];
            for (int k = 0; k < mine.length; k++) {
                int row = mine[k];
                int from = sources[row / per];
                if (from == me) {
                    System.arraycopy(produced, (row % per) * width, out, k * width, width);
                } else {
                    MemorySegment.copy(recvs[from].segment(), INT, (long) taken[from] * width * Integer.BYTES, out,
                            k * width, width);
                    taken[from]++;
                }
            }
            return out;
        } finally {
            for (int q = 0; q < size; q++) {
                if (sends[q] != null) {
                    sends[q].close();
                }
                if (recvs[q] != null) {
                    recvs[q].close();
                }
            }
        }
    }
}
