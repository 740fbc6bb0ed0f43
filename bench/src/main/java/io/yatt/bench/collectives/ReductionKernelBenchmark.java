package io.yatt.bench.collectives;

import io.yatt.bench.JvmFlags;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.ReductionKernel;
import io.yatt.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * The shm reductions' kernel alone: the sum of {@code operands} operands into a destination, as one rank of a
 * reduce-scatter of {@code inputBytes} per rank does with its slice (operands and destination of
 * {@code inputBytes / operands} each, mapped from files in {@code /dev/shm} like the shm backend's arenas), beside a
 * copy of the output's bytes. The copy floor counts the sum as reading every operand and writing one, so the floor
 * time of {@code reduce} is {@code (operands + 1) / 2} times that of {@code copyOutput}. Run with {@code -t 2} for two
 * threads, each with its own operands (the two ranks of np=2 on two cores).
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

    /** Bytes of one rank's input (all operands together): 16K (L1), 16M and 256M (the sweep's sizes). */
    @Param({"16K", "16M", "256M"})
    public String inputBytes;

    /** Element type. */
    @Param({"F32", "F64"})
    public DType dtype;

    private Arena arena;
    private MemorySegment[] srcs;
    private MemorySegment dst;
    private ReductionKernel kernel;

    /**
     * Maps and fills the operands (values with full mantissas) and the destination.
     *
     * @throws IOException if {@code /dev/shm} (or the temporary directory where it is missing) cannot hold them
     */
    @Setup
    public void setUp() throws IOException {
        arena = Arena.ofShared();
        long elements = CollectivesSweepCommand.parseSize(inputBytes) / dtype.byteSize() / operands;
        long bytes = elements * dtype.byteSize();
        srcs = new MemorySegment[operands];
        for (int k = 0; k < operands; k++) {
            srcs[k] = shared(bytes);
            for (long i = 0; i < elements; i++) {
                double v = (i % 1000 + 1) * 0.37 * (k + 1);
                if (dtype == DType.F32) {
                    srcs[k].setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
                } else {
                    srcs[k].setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
                }
            }
        }
        dst = shared(bytes);
        dst.fill((byte) 0);
        kernel = ReductionKernel.create();
    }

    /** A shared mapping of a fresh file, unlinked at once (the mapping stays until the arena closes). */
    private MemorySegment shared(long bytes) throws IOException {
        Path dir = Path.of("/dev/shm");
        Path file = Files.isDirectory(dir) ? Files.createTempFile(dir, "yatt-kernel-", ".bin")
            : Files.createTempFile("yatt-kernel-", ".bin");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            return channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
        } finally {
            Files.delete(file);
        }
    }

    /** Unmaps the operands. */
    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** One reduction of every operand into the destination. */
    @Benchmark
    public void reduce() {
        kernel.reduce(dtype, ReduceOp.SUM, srcs, srcs.length, 0, dst, 0, dst.byteSize() / dtype.byteSize());
    }

    /** A copy of the output's bytes (one operand into the destination): the unit of the copy floor. */
    @Benchmark
    public void copyOutput() {
        MemorySegment.copy(srcs[0], 0, dst, 0, dst.byteSize());
    }
}
