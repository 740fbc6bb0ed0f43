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
 * All-gathers of a step's per-sample arrays over a rank's world communicator, so that every trainer rank holds the
 * whole batch without it passing through a controller: each rank gives a block of the same length, and every rank
 * gets all blocks, rank-major, their bits copied unchanged (signed zeros and NaN payloads included). Staging comes
 * from the caller's allocator and is freed before each call returns. Stateless; each call is collective over the
 * world and confined to the calling rank's thread.
 */
final class WorldRows {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private WorldRows() {
    }

    /** Every rank's {@code mine} (the same length on every rank), rank-major. */
    static int[] ints(Communicator world, Allocator allocator, int[] mine) {
        int[] out = new int[mine.length * world.size()];
        try (Tensor all = gathered(world, allocator, DType.I32, mine.length, seg -> MemorySegment.copy(mine, 0, seg,
                INT, 0, mine.length))) {
            MemorySegment.copy(all.segment(), INT, 0, out, 0, out.length);
        }
        return out;
    }

    /** Every rank's {@code mine} (the same length on every rank), rank-major. */
    static float[] floats(Communicator world, Allocator allocator, float[] mine) {
        float[] out = new float[mine.length * world.size()];
        try (Tensor all = gathered(world, allocator, DType.F32, mine.length, seg -> MemorySegment.copy(mine, 0, seg,
                FLOAT, 0, mine.length))) {
            MemorySegment.copy(all.segment(), FLOAT, 0, out, 0, out.length);
        }
        return out;
    }

    /** Every rank's {@code mine} (the same length on every rank), rank-major. */
    static double[] doubles(Communicator world, Allocator allocator, double[] mine) {
        double[] out = new double[mine.length * world.size()];
        try (Tensor all = gathered(world, allocator, DType.F64, mine.length, seg -> MemorySegment.copy(mine, 0, seg,
                DOUBLE, 0, mine.length))) {
            MemorySegment.copy(all.segment(), DOUBLE, 0, out, 0, out.length);
        }
        return out;
    }

    /**
     * The blocks of the ranks {@code sources} (in that order) of a gathered array of {@code block}-long blocks: the
     * rows that the collect rank of each DP rank or generation replica produced.
     */
    static int[] pick(int[] all, int block, int[] sources) {
        int[] out = new int[block * sources.length];
        for (int k = 0; k < sources.length; k++) {
            System.arraycopy(all, sources[k] * block, out, k * block, block);
        }
        return out;
    }

    /** As {@link #pick(int[], int, int[])} for floats. */
    static float[] pick(float[] all, int block, int[] sources) {
        float[] out = new float[block * sources.length];
        for (int k = 0; k < sources.length; k++) {
            System.arraycopy(all, sources[k] * block, out, k * block, block);
        }
        return out;
    }

    private static Tensor gathered(Communicator world, Allocator allocator, DType dtype, int block,
                                   java.util.function.Consumer<MemorySegment> fill) {
        int size = world.size();
        Tensor all = Tensor.allocate(allocator, dtype, Shape.of(Math.max(1L, (long) block * size)), Device.host());
        try {
            if (block > 0) {
                Tensor mine = all.narrow(0, (long) world.rank() * block, block);
                fill.accept(mine.segment());
                if (size > 1) {
                    world.allGather(mine, all);
                }
            }
            return all;
        } catch (RuntimeException | Error e) {
            all.close();
            throw e;
        }
    }
}
