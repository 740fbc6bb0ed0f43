package io.yatt.trainer.launch;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import io.yatt.controller.WorkerMethod;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * The {@code collective} kind, for tests and benchmarks of worker JVMs: all-reduces over the world communicator, its
 * rank, a sleep, and the last collective failure it saw. Its calls run one at a time (the worker's call thread).
 */
final class CollectiveWorker {
    private final int rank;
    private final Communicator world;
    private final Allocator allocator;
    private volatile String lastFailure = "";

    CollectiveWorker(int rank, Communicator world) {
        this.rank = rank;
        this.world = Objects.requireNonNull(world, "world");
        this.allocator = Allocator.root("collective-worker-" + rank);
    }

    @WorkerMethod(dispatch = "ONE_TO_ALL")
    int rank() {
        return rank;
    }

    @WorkerMethod(dispatch = "ONE_TO_ALL")
    int worldSize() {
        return world.size();
    }

    /** The element-wise sum over the world of every rank's {@code values} (all ranks pass the same length). */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    float[] allReduceSum(float[] values) {
        if (values.length == 0) {
            return values;
        }
        try (Tensor t = Tensor.allocate(allocator, DType.F32, Shape.of(values.length), Device.host())) {
            java.lang.foreign.MemorySegment.copy(values, 0, t.segment(), ValueLayout.JAVA_FLOAT, 0, values.length);
            reduce(t);
            return t.segment().toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /**
     * {@code iterations} all-reduces of {@code count} floats, rank {@code r} contributing {@code r + 1} everywhere;
     * each result must be {@code size * (size + 1) / 2} in every element.
     *
     * @return the iterations done
     * @throws IllegalArgumentException if iterations or count is not positive
     * @throws IllegalStateException if a result is wrong, naming iteration, index, value and expected value
     */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    int allReduceLoop(int iterations, int count) {
        if (iterations < 1 || count < 1) {
            throw new IllegalArgumentException("iterations and count must be positive: iterations=" + iterations
                    + ", count=" + count);
        }
        float expected = world.size() * (world.size() + 1) / 2f;
        try (Tensor t = Tensor.allocate(allocator, DType.F32, Shape.of(count), Device.host())) {
            for (int i = 0; i < iterations; i++) {
                for (int j = 0; j < count; j++) {
                    t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, j, rank + 1f);
                }
                try {
                    reduce(t);
                } catch (RuntimeException e) {
                    lastFailure = "iteration=" + i + ", error=" + e.getClass().getSimpleName() + ": " + e.getMessage();
                    throw e;
                }
                for (int j = 0; j < count; j++) {
                    float v = t.segment().getAtIndex(ValueLayout.JAVA_FLOAT, j);
                    if (v != expected) {
                        throw new IllegalStateException("wrong all-reduce result: iteration=" + i + ", index=" + j
                                + ", value=" + v + ", expected=" + expected);
                    }
                }
            }
        }
        return iterations;
    }

    /** Sleeps {@code millis} (interruptible: an abort ends it) and returns it. */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    long sleep(long millis) throws InterruptedException {
        Thread.sleep(millis);
        return millis;
    }

    /** The last failure of {@link #allReduceLoop}: {@code iteration=I, error=Class: message}, or empty. */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    String lastFailure() {
        return lastFailure;
    }

    private void reduce(Tensor t) {
        world.allReduce(t, ReduceOp.SUM);
    }
}
