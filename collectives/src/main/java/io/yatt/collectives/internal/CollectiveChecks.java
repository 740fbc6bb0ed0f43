package io.yatt.collectives.internal;

import io.yatt.collectives.ReduceOp;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * Argument checks shared by every backend, so that each one rejects bad calls before any data moves with the
 * same message ({@code recv too small: required=4194304, byteSize=2097152}). Each op's check returns whether the
 * call is in place. Stateless and thread-safe.
 */
public final class CollectiveChecks {
    /** The dtypes reductions are defined on. */
    public static final String REDUCIBLE = "[F32, F64, F16, BF16, I32, I64]";

    private CollectiveChecks() {
    }

    /** Whether reductions are defined on {@code dtype}. */
    public static boolean isReducible(DType dtype) {
        return switch (dtype) {
            case F32, F64, F16, BF16, I32, I64 -> true;
            default -> false;
        };
    }

    /**
     * Checks that the tensor lives on the host.
     *
     * @throws IllegalArgumentException {@code tensor not on host: name=send, device=cuda:0, backend=in-process}
     */
    public static void requireHost(String name, Tensor tensor, String backend) {
        Objects.requireNonNull(tensor, name);
        if (!tensor.device().isHost()) {
            throw new IllegalArgumentException("tensor not on host: name=" + name + ", device=" + tensor.device()
                    + ", backend=" + backend);
        }
    }

    /**
     * Checks {@code allGather(send, recv)}: same dtype, contiguous, {@code recv} exactly {@code size} times
     * {@code send}, and {@code send} either this rank's slice of {@code recv} (in place) or disjoint from it.
     *
     * @return whether the call is in place
     */
    public static boolean allGather(Tensor send, Tensor recv, int rank, int size) {
        sendRecv(send, recv);
        requireByteSize("recv", recv, send.byteSize() * size);
        return sliceInPlace("allGather", "send", send, "recv", recv, rank);
    }

    /**
     * Checks {@code reduceScatter(send, recv, op)}: reducible dtype, {@code send} exactly {@code size} times
     * {@code recv}, {@code recv} either this rank's slice of {@code send} (in place) or disjoint from it.
     *
     * @return whether the call is in place
     */
    public static boolean reduceScatter(Tensor send, Tensor recv, ReduceOp op, int rank, int size) {
        sendRecv(send, recv);
        reducible(send.dtype(), op);
        requireByteSize("send", send, recv.byteSize() * size);
        return sliceInPlace("reduceScatter", "recv", recv, "send", send, rank);
    }

    /**
     * Checks {@code allReduce(send, recv, op)}: reducible dtype, equal sizes, same memory or disjoint.
     *
     * @return whether the call is in place
     */
    public static boolean allReduce(Tensor send, Tensor recv, ReduceOp op) {
        sendRecv(send, recv);
        reducible(send.dtype(), op);
        requireByteSize("recv", recv, send.byteSize());
        return sameOrDisjoint("allReduce", send, recv);
    }

    /**
     * Checks {@code broadcast(send, recv, root)}: root in range, equal sizes, same memory or disjoint.
     *
     * @return whether the call is in place
     */
    public static boolean broadcast(Tensor send, Tensor recv, int root, int size) {
        sendRecv(send, recv);
        requireRoot(root, size);
        requireByteSize("recv", recv, send.byteSize());
        return sameOrDisjoint("broadcast", send, recv);
    }

    /**
     * Checks {@code reduce(send, recv, op, root)}: reducible dtype, root in range, equal sizes, same memory or
     * disjoint.
     *
     * @return whether the call is in place
     */
    public static boolean reduce(Tensor send, Tensor recv, ReduceOp op, int root, int size) {
        sendRecv(send, recv);
        reducible(send.dtype(), op);
        requireRoot(root, size);
        requireByteSize("recv", recv, send.byteSize());
        return sameOrDisjoint("reduce", send, recv);
    }

    /** Checks {@code allToAll(send, recv)}: count divisible by size, equal sizes, disjoint. */
    public static void allToAll(Tensor send, Tensor recv, int size) {
        sendRecv(send, recv);
        if (send.numel() % size != 0) {
            throw new IllegalArgumentException("allToAll count not divisible by size: count=" + send.numel()
                    + ", size=" + size);
        }
        requireByteSize("recv", recv, send.byteSize());
        if (overlaps(send, recv)) {
            throw new IllegalArgumentException("send and recv overlap: op=allToAll, in-place allToAll is not supported");
        }
    }

    /**
     * Checks {@code send(tensor, peer)} or {@code recv(tensor, peer)}: contiguous, peer in range.
     *
     * @throws IllegalArgumentException {@code peer out of range: peer=4, size=4}
     */
    public static void pointToPoint(String name, Tensor tensor, int peer, int size) {
        Objects.requireNonNull(tensor, name);
        requireContiguous(name, tensor);
        if (peer < 0 || peer >= size) {
            throw new IllegalArgumentException("peer out of range: peer=" + peer + ", size=" + size);
        }
    }

    /**
     * Checks a root.
     *
     * @throws IllegalArgumentException {@code root out of range: root=4, size=4}
     */
    public static void requireRoot(int root, int size) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("root out of range: root=" + root + ", size=" + size);
        }
    }

    /**
     * Checks that a reduction is defined on the dtype.
     *
     * @throws IllegalArgumentException {@code unsupported dtype for reduction: dtype=I8, op=SUM, expected one of [...]}
     */
    public static void reducible(DType dtype, ReduceOp op) {
        Objects.requireNonNull(op, "op");
        if (!isReducible(dtype)) {
            throw new IllegalArgumentException("unsupported dtype for reduction: dtype=" + dtype + ", op=" + op
                    + ", expected one of " + REDUCIBLE);
        }
    }

    /**
     * Checks a tensor's byte size.
     *
     * @throws IllegalArgumentException {@code recv too small: required=4194304, byteSize=2097152} (or too large)
     */
    public static void requireByteSize(String name, Tensor tensor, long required) {
        long byteSize = tensor.byteSize();
        if (byteSize < required) {
            throw new IllegalArgumentException(name + " too small: required=" + required + ", byteSize=" + byteSize);
        }
        if (byteSize > required) {
            throw new IllegalArgumentException(name + " too large: required=" + required + ", byteSize=" + byteSize);
        }
    }

    /**
     * Checks contiguity.
     *
     * @throws IllegalArgumentException {@code tensor not contiguous: name=recv, shape=[4, 4], strides=[1, 4]}
     */
    public static void requireContiguous(String name, Tensor tensor) {
        if (!tensor.isContiguous()) {
            throw new IllegalArgumentException("tensor not contiguous: name=" + name + ", shape=" + tensor.shape()
                    + ", strides=" + Arrays.toString(tensor.strides()));
        }
    }

    private static void sendRecv(Tensor send, Tensor recv) {
        Objects.requireNonNull(send, "send");
        Objects.requireNonNull(recv, "recv");
        requireContiguous("send", send);
        requireContiguous("recv", recv);
        if (send.dtype() != recv.dtype()) {
            throw new IllegalArgumentException("dtype mismatch: send=" + send.dtype() + ", recv=" + recv.dtype());
        }
    }

    /** In place when {@code part} starts at byte {@code rank * part.byteSize()} of {@code whole}. */
    private static boolean sliceInPlace(String op, String partName, Tensor part, String wholeName, Tensor whole,
                                        int rank) {
        if (part.byteSize() == 0 || !overlaps(part, whole)) {
            return false;
        }
        long offset = address(part) - address(whole);
        long expected = rank * part.byteSize();
        if (offset != expected) {
            throw new IllegalArgumentException(partName + " overlaps " + wholeName + " but is not this rank's slice: op="
                    + op + ", rank=" + rank + ", offset=" + offset + ", expected=" + expected);
        }
        return true;
    }

    private static boolean sameOrDisjoint(String op, Tensor send, Tensor recv) {
        if (send.byteSize() == 0 || !overlaps(send, recv)) {
            return false;
        }
        long offset = address(send) - address(recv);
        if (offset != 0) {
            throw new IllegalArgumentException("send and recv overlap partially: op=" + op + ", offset=" + offset
                    + ", expected=0 (same memory) or disjoint");
        }
        return true;
    }

    private static boolean overlaps(Tensor a, Tensor b) {
        if (a.byteSize() == 0 || b.byteSize() == 0 || !a.device().equals(b.device())) {
            return false;
        }
        long a0 = address(a);
        long b0 = address(b);
        return a0 < b0 + b.byteSize() && b0 < a0 + a.byteSize();
    }

    private static long address(Tensor tensor) {
        return tensor.dataPointer().address();
    }
}
