package io.yatt.bench.tensor;

import io.yatt.bench.JvmFlags;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * Host copy bandwidth: {@code Tensor.copyFrom} against {@code MemorySegment.copy} and libc
 * {@code memcpy} (the machine's copy ceiling) on the same buffers. Time per copy; bandwidth is
 * {@code bytes / time}. Target: tensor copies within 10% of {@code MemorySegment.copy}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.NATIVE_ACCESS, JvmFlags.UNSAFE_ACCESS, JvmFlags.ADD_EXPORTS, JvmFlags.INTERNAL_MISC})
@State(Scope.Thread)
public class TensorCopyBenchmark {
    private static final MethodHandle MEMCPY;

    static {
        Linker linker = Linker.nativeLinker();
        MEMCPY = linker.downcallHandle(
                linker.defaultLookup().find("memcpy").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
                Linker.Option.critical(false));
    }

    /** Bytes per copy. */
    @Param({"4096", "1048576", "67108864", "268435456"})
    public long byteSize;

    private Allocator allocator;
    private Tensor source;
    private Tensor target;
    private MemorySegment sourceSegment;
    private MemorySegment targetSegment;

    @Setup(Level.Trial)
    public void setUp() {
        allocator = Allocator.root("bench");
        Shape shape = Shape.of(byteSize / DType.F32.byteSize());
        source = Tensor.allocate(allocator, DType.F32, shape, Device.host());
        target = Tensor.allocate(allocator, DType.F32, shape, Device.host());
        source.fillRandom(42);
        sourceSegment = source.segment();
        targetSegment = target.segment();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        source.close();
        target.close();
        allocator.close();
    }

    @Benchmark
    public Tensor tensorCopyFrom() {
        target.copyFrom(source);
        return target;
    }

    @Benchmark
    public MemorySegment segmentCopy() {
        MemorySegment.copy(sourceSegment, 0, targetSegment, 0, byteSize);
        return targetSegment;
    }

    @Benchmark
    public MemorySegment libcMemcpy() throws Throwable {
        return (MemorySegment) MEMCPY.invokeExact(targetSegment, sourceSegment, byteSize);
    }
}
