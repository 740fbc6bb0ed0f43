package io.yatt.bench.collectives;

import io.yatt.bench.JvmFlags;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.InProcessWorld;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
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
 * In-process all-gather against {@code MemorySegment.copy} of the same bytes, measured in one run. {@code byteSize}
 * is the full gathered buffer, as nccl-tests counts it; each of {@code ranks} ranks contributes
 * {@code byteSize / ranks}. The benchmark thread is rank 0; the other ranks are threads that call all-gather in a loop
 * (the collective paces them). Time per operation; bandwidths: all-gather busbw =
 * {@code byteSize * (ranks - 1) / ranks / time}, algbw = {@code byteSize / time}, copy = {@code byteSize / time}.
 * Target: busbw at 256 MiB at least 80% of the copy bandwidth.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {JvmFlags.NATIVE_ACCESS, JvmFlags.UNSAFE_ACCESS})
public class InProcessAllGatherBenchmark {

    /** The ranks and their buffers; ranks 1..n-1 run on their own threads until the world closes. */
    @State(Scope.Benchmark)
    public static class World {
        /** Bytes of the gathered buffer. */
        @Param({"1048576", "16777216", "268435456"})
        public long byteSize;

        /** Number of ranks (threads). */
        @Param({"2"})
        public int ranks;

        /** Whether each rank's send is its own slice of recv (only the peers' slices move). */
        @Param({"true", "false"})
        public boolean inPlace;

        private Allocator allocator;
        private InProcessWorld world;
        private final List<Tensor> owned = new ArrayList<>();
        private final List<Thread> peers = new ArrayList<>();
        Communicator rank0;
        Tensor send0;
        Tensor recv0;

        @Setup(Level.Trial)
        public void setUp() {
            allocator = Allocator.root("bench-allgather");
            world = InProcessWorld.create(ranks, new Communicator.Context().timeoutNs(TimeUnit.MINUTES.toNanos(30)));
            long count = byteSize / DType.F32.byteSize() / ranks;
            for (int r = 0; r < ranks; r++) {
                Tensor recv = Tensor.allocate(allocator, DType.F32, Shape.of(count * ranks), Device.host());
                owned.add(recv);
                Tensor send;
                if (inPlace) {
                    send = recv.narrow(0, r * count, count);
                } else {
                    send = Tensor.allocate(allocator, DType.F32, Shape.of(count), Device.host());
                    owned.add(send);
                }
                send.fill(r + 1);
                Communicator comm = world.communicator(r);
                if (r == 0) {
                    rank0 = comm;
                    send0 = send;
                    recv0 = recv;
                } else {
                    Thread peer = new Thread(() -> {
                        try {
                            while (true) {
                                comm.allGather(send, recv);
                            }
                        } catch (CommunicatorAbortedException closed) {
                            // the world closed: the trial is over
                        }
                    }, "allgather-rank-" + r);
                    peer.setDaemon(true);
                    peer.start();
                    peers.add(peer);
                }
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws InterruptedException {
            world.close();
            for (Thread peer : peers) {
                peer.join(TimeUnit.SECONDS.toMillis(30));
            }
            for (Tensor tensor : owned) {
                tensor.close();
            }
            allocator.close();
        }
    }

    /** Two buffers of {@code byteSize} bytes for the copy baseline. */
    @State(Scope.Benchmark)
    public static class Copy {
        /** Bytes per copy. */
        @Param({"1048576", "16777216", "268435456"})
        public long byteSize;

        private Allocator allocator;
        private Tensor source;
        private Tensor target;
        MemorySegment sourceSegment;
        MemorySegment targetSegment;

        @Setup(Level.Trial)
        public void setUp() {
            allocator = Allocator.root("bench-copy");
            Shape shape = Shape.of(byteSize / DType.F32.byteSize());
            source = Tensor.allocate(allocator, DType.F32, shape, Device.host());
            target = Tensor.allocate(allocator, DType.F32, shape, Device.host());
            source.fill(1);
            sourceSegment = source.segment();
            targetSegment = target.segment();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            source.close();
            target.close();
            allocator.close();
        }
    }

    /** One all-gather of {@code byteSize} bytes over {@code ranks} ranks, seen from rank 0. */
    @Benchmark
    public Tensor allGather(World world) {
        world.rank0.allGather(world.send0, world.recv0);
        return world.recv0;
    }

    /** The copy ceiling: one {@code MemorySegment.copy} of {@code byteSize} bytes. */
    @Benchmark
    public MemorySegment segmentCopy(Copy copy) {
        MemorySegment.copy(copy.sourceSegment, 0, copy.targetSegment, 0, copy.byteSize);
        return copy.targetSegment;
    }
}
