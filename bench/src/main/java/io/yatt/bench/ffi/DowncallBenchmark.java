package io.yatt.bench.ffi;

import io.yatt.bench.JvmFlags;
import io.yatt.ffi.cuda.raw.CudaRuntime;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Downcall overhead for the same native function, libc {@code memset} on 8 bytes, called three ways:
 * an FFM downcall (default linkage), an FFM downcall linked with {@code Linker.Option.critical(false)},
 * and JNI through JavaCPP's {@code Pointer.memset} (JavaCPP's core jar binds libc through JNI).
 * Target: FFM critical no slower than JNI.
 *
 * <p>Also the CUDA runtime's {@code cudaGetDeviceCount} through Yatt's raw bindings, default and critical
 * linkage (it returns {@code cudaErrorInsufficientDriver} at once on a machine without a driver, which still
 * measures the call). Its JNI peer, JavaCPP's CUDA preset, is not on the class path: see docs.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.NATIVE_ACCESS, JvmFlags.UNSAFE_ACCESS, JvmFlags.ADD_EXPORTS, JvmFlags.INTERNAL_MISC})
@State(Scope.Thread)
public class DowncallBenchmark {
    private static final long BYTES = 8;
    private static final FunctionDescriptor MEMSET =
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG);
    private static final MethodHandle MEMSET_DEFAULT;
    private static final MethodHandle MEMSET_CRITICAL;

    static {
        Linker linker = Linker.nativeLinker();
        MemorySegment memset = linker.defaultLookup().find("memset").orElseThrow();
        MEMSET_DEFAULT = linker.downcallHandle(memset, MEMSET);
        MEMSET_CRITICAL = linker.downcallHandle(memset, MEMSET, Linker.Option.critical(false));
    }

    private Arena arena;
    private MemorySegment target;
    private MemorySegment deviceCount;
    private BytePointer jniTarget;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofConfined();
        target = arena.allocate(BYTES, 64);
        deviceCount = arena.allocate(ValueLayout.JAVA_INT);
        jniTarget = new BytePointer(BYTES);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        jniTarget.close();
        arena.close();
    }

    @Benchmark
    public MemorySegment ffmDefault() throws Throwable {
        return (MemorySegment) MEMSET_DEFAULT.invokeExact(target, 1, BYTES);
    }

    @Benchmark
    public MemorySegment ffmCritical() throws Throwable {
        return (MemorySegment) MEMSET_CRITICAL.invokeExact(target, 1, BYTES);
    }

    @Benchmark
    public int cudaGetDeviceCountFfm() {
        return CudaRuntime.cudaGetDeviceCount(deviceCount);
    }

    @Benchmark
    public int cudaGetDeviceCountFfmCritical() {
        return CudaRuntime.cudaGetDeviceCountCritical(deviceCount);
    }

    @Benchmark
    public Pointer jniJavaCpp() {
        return Pointer.memset(jniTarget, 1, BYTES);
    }
}
