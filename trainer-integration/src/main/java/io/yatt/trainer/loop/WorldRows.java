package io.yatt.trainer.loop;

import io.yatt.collectives.Communicator;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * All-gathers of a step's per-sample scalars (response lengths, scores, per-row partial sums) over a rank's world or
 * DP communicator, so that every trainer rank holds them without them passing through a controller: each rank gives
 * a block of the same length, and every rank gets all blocks, rank-major, their bits copied unchanged (signed zeros
 * and NaN payloads included). Staging comes
 * from the caller's allocator and is freed before each call returns. Stateless; each call is collective over the
 * world and confined to the calling rank's thread.
 */
final class WorldRows {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private WorldRows() {
    }

    /** Every rank's {@code mine} (the same length on every rank), rank-major. */
    static int[] ints(Communicator world, Allocator allocator, int[] mine) {
        return (int[]) gathered(world, allocator, mine, mine.length, DType.I32, INT,
                new int[mine.length * world.size()]);
    }

    /** Every rank's {@code mine} (the same length on every rank), rank-major. */
    static double[] doubles(Communicator world, Allocator allocator, double[] mine) {
        return (double[]) gathered(world, allocator, mine, mine.length, DType.F64, DOUBLE,
                new double[mine.length * world.size()]);
    }

    /**
     * The blocks of the ranks {@code sources} (in that order) of a gathered array of {@code block}-long blocks: the
     * values that the collect rank of each generation replica produced.
     */
    static int[] pick(int[] all, int block, int[] sources) {
        int[] out = new int[block * sources.length];
        for (int k = 0; k < sources.length; k++) {
            System.arraycopy(all, sources[k] * block, out, k * block, block);
        }
        return out;
    }

    /**
     * The all-gather of {@code block} elements of the primitive array {@code mine} into {@code out} (a primitive array
     * of {@code block * size} elements of the same type), staged in one tensor of {@code dtype} that is freed before
     * this returns.
     */
    private static Object gathered(Communicator world, Allocator allocator, Object mine, int block, DType dtype,
                                   ValueLayout layout, Object out) {
        int size = world.size();
        if (block == 0) {
            return out;
        }
        try (Tensor all = Tensor.allocate(allocator, dtype, Shape.of((long) block * size), Device.host())) {
            Tensor own = all.narrow(0, (long) world.rank() * block, block);
            MemorySegment.copy(mine, 0, own.segment(), layout, 0, block);
            if (size > 1) {
                world.allGather(own, all);
            }
            MemorySegment.copy(all.segment(), layout, 0, out, 0, block * size);
        }
        return out;
    }
}
