package io.yatt.trainer.model;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Collectives on {@code float[]} slices over a {@link Communicator}, staged through one host tensor that grows to the
 * largest call and is reused (a group of one, or no communicator, does nothing). Confined to its rank's thread;
 * {@link #close()} frees the staging memory.
 */
final class HostGroup implements AutoCloseable {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private final Communicator communicator;
    private final Allocator allocator;
    private Tensor staging;
    private Tensor scalar;

    private HostGroup(Communicator communicator) {
        this.communicator = communicator;
        this.allocator = communicator == null || communicator.size() == 1 ? null : Allocator.root("model-collectives");
    }

    static HostGroup of(Communicator communicator) {
        return new HostGroup(communicator);
    }

    int rank() {
        return communicator == null ? 0 : communicator.rank();
    }

    int size() {
        return communicator == null ? 1 : communicator.size();
    }

    Communicator communicator() {
        return communicator;
    }

    void allReduce(float[] a, int offset, int count, ReduceOp op) {
        if (allocator == null || count == 0) {
            return;
        }
        Tensor t = staging(count);
        MemorySegment seg = t.segment();
        MemorySegment.copy(a, offset, seg, FLOAT, 0, count);
        communicator.allReduce(t, op);
        MemorySegment.copy(seg, FLOAT, 0, a, offset, count);
    }

    double allReduceSum(double value) {
        if (allocator == null) {
            return value;
        }
        if (scalar == null) {
            scalar = Tensor.allocate(allocator, DType.F64, Shape.of(1), Device.host());
        }
        scalar.segment().set(DOUBLE, 0, value);
        communicator.allReduce(scalar, ReduceOp.SUM);
        return scalar.segment().get(DOUBLE, 0);
    }

    /** Gathers {@code count} elements of every rank, rank-major, into {@code recv} from {@code recvOffset}. */
    void allGather(float[] send, int sendOffset, int count, float[] recv, int recvOffset) {
        if (allocator == null) {
            System.arraycopy(send, sendOffset, recv, recvOffset, count);
            return;
        }
        int n = size();
        Tensor t = staging(count * n);
        Tensor mine = t.narrow(0, (long) rank() * count, count);
        MemorySegment.copy(send, sendOffset, mine.segment(), FLOAT, 0, count);
        communicator.allGather(mine, t);
        MemorySegment.copy(t.segment(), FLOAT, 0, recv, recvOffset, count * n);
    }

    private Tensor staging(int count) {
        if (staging == null || staging.numel() < count) {
            if (staging != null) {
                staging.close();
            }
            staging = Tensor.allocate(allocator, DType.F32, Shape.of(Math.max(count, 1024)), Device.host());
        }
        return staging.narrow(0, 0, count);
    }

    @Override
    public void close() {
        if (staging != null) {
            staging.close();
            staging = null;
        }
        if (scalar != null) {
            scalar.close();
            scalar = null;
        }
        if (allocator != null && !allocator.isClosed()) {
            allocator.close();
        }
    }
}
