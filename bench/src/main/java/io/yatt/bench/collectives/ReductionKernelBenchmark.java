package io.yatt.bench.collectives;

import io.yatt.bench.JvmFlags;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.ReductionKernel;
import io.yatt.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The shm reductions' kernel alone on one thread: the sum of {@code operands} native operands of {@code elements}
 * each into a native destination (what one rank of a reduce-scatter does with its slice), beside a copy of one
 * operand's bytes. The copy floor counts the sum as reading every operand and writing one, so the floor time of
 * {@code reduce} is {@code (operands + 1) / 2} times that of {@code copyOneOperand}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.NATIVE_ACCESS})
@State(Scope.Thread)
public class ReductionKernelBenchmark {
    /** Operands (ranks) summed. */
    @Param({"2", "4", "8"})
    public int operands;

    /** Elements per operand: 8 KiB of F32 (L1), 1 MiB (L2), 16 MiB (memory or L3). */
    @Param({"2048", "262144", "4194304"})
    public int elements;

    /** Element type. */
    @Param({"F32", "F64"})
    public DType dtype;

    private Arena arena;
    private MemorySegment[] srcs;
    private MemorySegment dst;
    private ReductionKernel kernel;

    /** Allocates and fills the operands (values with full mantissas) and the destination. */
    @Setup
    public void setUp() {
        arena = Arena.ofShared();
        long bytes = (long) elements * dtype.byteSize();
        srcs = new MemorySegment[operands];
        for (int k = 0; k < operands; k++) {
            srcs[k] = arena.allocate(bytes, 64);
            for (long i = 0; i < elements; i++) {
                double v = (i % 1000 + 1) * 0.37 * (k + 1);
                if (dtype == DType.F32) {
                    srcs[k].setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
                } else {
                    srcs[k].setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
                }
            }
        }
        dst = arena.allocate(bytes, 64);
        dst.fill((byte) 0);
        kernel = ReductionKernel.create();
    }

    /** Frees the operands. */
    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** One reduction of every operand into the destination. */
    @Benchmark
    public void reduce() {
        kernel.reduce(dtype, ReduceOp.SUM, srcs, operands, 0, dst, 0, elements);
    }

    /** A copy of one operand into the destination (the unit of the copy floor). */
    @Benchmark
    public void copyOneOperand() {
        MemorySegment.copy(srcs[0], 0, dst, 0, dst.byteSize());
    }
}
