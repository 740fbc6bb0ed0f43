package io.yatt.collectives.cudalocal;

import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.Communicator;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * cuda-local {@code allGatherv} by direct placement into strided device views (the row-parallel case: each rank's
 * {@code [rows, cols]} block lands as a column block of a {@code [rows, size*cols]} matrix), with exact counted device
 * bytes, nothing charged to the scratch allocator, and a piece mismatch reported alike on every rank. Skipped without a
 * device.
 */
@Tag("gpu")
class CudaLocalAllGathervTest {
    private static final long ROWS = 5;
    private static final long COLS = 3;

    @BeforeEach
    void requireDevice() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
    }

    private static <T> List<T> onEveryRank(int size, IntFunction<Communicator> comms, RankBody<T> body)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                int rank = r;
                futures.add(pool.submit(() -> body.run(rank, comms.apply(rank))));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get(120, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    interface RankBody<T> {
        T run(int rank, Communicator comm) throws Exception;
    }

    @Test
    void shouldPlaceEveryRanksBlockAsAStridedColumnBlockAndCountItsBytes() throws Exception {
        int size = 3;
        try (CudaLocalWorld world = CudaLocalWorld.create(size, 0, new Communicator.Context())) {
            List<long[]> results = onEveryRank(size, world::communicator, (rank, comm) -> {
                try (Allocator root = Allocator.root("rank" + rank);
                     Allocator scratch = Allocator.root("scratch" + rank);
                     Tensor hostBlock = Tensor.allocate(root, DType.I32, Shape.of(ROWS, COLS), Device.host());
                     Tensor block = Tensor.allocate(root, DType.I32, Shape.of(ROWS, COLS), Device.cuda(0));
                     Tensor full = Tensor.allocate(root, DType.I32, Shape.of(ROWS, size * COLS), Device.cuda(0));
                     Tensor back = Tensor.allocate(root, DType.I32, Shape.of(ROWS, size * COLS), Device.host())) {
                    for (long i = 0; i < ROWS; i++) {
                        for (long j = 0; j < COLS; j++) {
                            hostBlock.setDouble(1000 * rank + 10 * i + j, i, j);
                        }
                    }
                    block.copyFrom(hostBlock);
                    List<List<Tensor>> recv = new ArrayList<>();
                    for (int q = 0; q < size; q++) {
                        recv.add(List.of(full.narrow(1, q * COLS, COLS)));
                    }
                    comm.resetStats();
                    comm.allGatherv(List.of(block), recv, scratch);
                    CommunicatorStats stats = comm.stats();
                    back.copyFrom(full);
                    long[] out = new long[(int) (ROWS * size * COLS) + 3];
                    for (long i = 0; i < ROWS; i++) {
                        for (long j = 0; j < size * COLS; j++) {
                            out[(int) (i * size * COLS + j)] = (long) back.getDouble(i, j);
                        }
                    }
                    out[out.length - 3] = stats.bytesReceived();
                    out[out.length - 2] = stats.bytesSent();
                    out[out.length - 1] = scratch.peakBytes();
                    return out;
                }
            });
            for (int r = 0; r < size; r++) {
                long[] out = results.get(r);
                for (long i = 0; i < ROWS; i++) {
                    for (long j = 0; j < size * COLS; j++) {
                        long q = j / COLS;
                        assertEquals(1000 * q + 10 * i + j % COLS, out[(int) (i * size * COLS + j)],
                                "rank " + r + " element [" + i + ", " + j + "]");
                    }
                }
                long blockBytes = ROWS * COLS * 4;
                assertEquals((size - 1) * blockBytes, out[out.length - 3], "device bytes received, rank " + r);
                assertEquals((size - 1) * blockBytes, out[out.length - 2], "device bytes sent, rank " + r);
                assertEquals(0, out[out.length - 1], "scratch peak, rank " + r);
            }
        }
    }

    @Test
    void shouldReportAPieceShapeMismatchOnEveryRank() throws Exception {
        int size = 2;
        try (CudaLocalWorld world = CudaLocalWorld.create(size, 0, new Communicator.Context())) {
            List<Throwable> failures = onEveryRank(size, world::communicator, (rank, comm) -> {
                try (Allocator root = Allocator.root("rank" + rank);
                     Tensor mine = Tensor.allocate(root, DType.F32, Shape.of(6), Device.cuda(0));
                     Tensor out = Tensor.allocate(root, DType.F32, Shape.of(12), Device.cuda(0))) {
                    // rank 1 sends [6] but rank 0 expects it as [2, 3]: same total, other shape
                    Tensor fromOne = rank == 0 ? out.narrow(0, 6, 6).view(Shape.of(2, 3)) : out.narrow(0, 6, 6);
                    try {
                        comm.allGatherv(List.of(mine), List.of(List.of(out.narrow(0, 0, 6)), List.of(fromOne)));
                        return null;
                    } catch (RuntimeException e) {
                        return e;
                    }
                }
            });
            for (int r = 0; r < size; r++) {
                CollectiveMismatchException e = assertInstanceOf(CollectiveMismatchException.class, failures.get(r),
                        "rank " + r);
                assertEquals("allGatherv views do not match: piece 0, rank 1 sends F32[6], rank 0 receives F32[2, 3]",
                        e.getMessage(), "rank " + r);
            }
        }
    }
}
