package io.yatt.bench.trainer.model;

import io.yatt.bench.JvmFlags;
import io.yatt.ffi.blas.Blas;
import io.yatt.trainer.model.Gemm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
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
 * {@code C[m,n] = A[m,k] * W[n,k]^T}, the product of a linear layer with weights stored {@code [out, in]}, at the
 * shapes of the trainer's two model sizes: {@code java} is {@link Gemm}'s Java kernel, {@code blasHeap} is
 * {@link Gemm}'s BLAS path on the {@code float[]} arrays (FFM critical downcall with heap access, no copy), and
 * {@code blasNative} is the same {@code cblas_sgemm} on native memory, the peak this binding can reach (no heap,
 * no copy); {@code blasCopy} copies A, W and C to native memory and C back around it, the cost a binding without
 * heap access would pay. Reported as time per call; GFLOP/s = {@code 2 m n k / time}. The {@code blas*} methods
 * throw when no BLAS library is found. {@code threads} sets OpenBLAS's threads per call.
 *
 * <p>Shapes ({@code m x n x k}): 512 tokens (batch 8, sequence 64) through the 1M model (hidden 128, 4 heads, 2
 * KV heads: fused QKV out 256; FFN 512: fused gate/up out 1024, down in 512; vocab 64) and the 25M model (hidden
 * 512, 8 heads, 4 KV heads: fused QKV out 1024; FFN 1376: fused gate/up out 2752, down in 1376; vocab 8192), and
 * generation steps (batch 16) through the 25M model; the presets of {@code bench/peers/torch/llama_peer.py}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.NATIVE_ACCESS, JvmFlags.UNSAFE_ACCESS})
@State(Scope.Thread)
public class GemmBenchmark {
    /** {@code m x n x k}. */
    @Param({"512x256x128", "512x1024x128", "512x128x512", "512x64x128",
            "512x1024x512", "512x2752x512", "512x512x1376", "512x8192x512",
            "16x2752x512", "16x8192x512"})
    public String shape;

    /** OpenBLAS threads per call (ignored by the Java kernel, which runs on the calling thread). */
    @Param({"1"})
    public int threads;

    private int m;
    private int n;
    private int k;
    private float[] a;
    private float[] w;
    private float[] c;
    private Arena arena;
    private MemorySegment nativeA;
    private MemorySegment nativeW;
    private MemorySegment nativeC;

    @Setup(Level.Trial)
    public void setUp() {
        String[] mnk = shape.split("x");
        m = Integer.parseInt(mnk[0]);
        n = Integer.parseInt(mnk[1]);
        k = Integer.parseInt(mnk[2]);
        SplittableRandom random = new SplittableRandom(42);
        a = new float[m * k];
        w = new float[n * k];
        c = new float[m * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (random.nextDouble() - 0.5);
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (random.nextDouble() - 0.5) * 0.1f;
        }
        arena = Arena.ofConfined();
        nativeA = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a);
        nativeW = arena.allocateFrom(ValueLayout.JAVA_FLOAT, w);
        nativeC = arena.allocate(ValueLayout.JAVA_FLOAT, c.length);
        if (Blas.available()) {
            Blas.threads(threads);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] java() {
        Gemm.sgemm(Gemm.Backend.JAVA, false, true, m, n, k, 1f, a, 0, k, w, 0, k, 0f, c, 0, n);
        return c;
    }

    @Benchmark
    public float[] blasHeap() {
        Gemm.sgemm(Gemm.Backend.BLAS, false, true, m, n, k, 1f, a, 0, k, w, 0, k, 0f, c, 0, n);
        return c;
    }

    @Benchmark
    public MemorySegment blasNative() {
        Blas.sgemm(false, true, m, n, k, 1f, nativeA, k, nativeW, k, 0f, nativeC, n);
        return nativeC;
    }

    @Benchmark
    public float[] blasCopy() {
        MemorySegment.copy(a, 0, nativeA, ValueLayout.JAVA_FLOAT, 0, a.length);
        MemorySegment.copy(w, 0, nativeW, ValueLayout.JAVA_FLOAT, 0, w.length);
        MemorySegment.copy(c, 0, nativeC, ValueLayout.JAVA_FLOAT, 0, c.length);
        Blas.sgemm(false, true, m, n, k, 1f, nativeA, k, nativeW, k, 0f, nativeC, n);
        MemorySegment.copy(nativeC, ValueLayout.JAVA_FLOAT, 0, c, 0, c.length);
        return c;
    }
}
