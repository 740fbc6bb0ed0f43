package io.yatt.collectives.cudalocal;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.util.List;

/**
 * One validated call of a cuda-local rank: what must match across ranks (kind, count, dtype, op, root or peer) and
 * where its buffers live (device addresses, never dereferenced from Java). Posted by its rank before a control
 * barrier and read by peers after it. Immutable.
 *
 * @param kind        the call
 * @param sendAddress device address of the first send element (0 when there is none)
 * @param recvAddress device address of the first recv element (0 when there is none)
 * @param count       elements, counted as {@link CallSignature} prints them
 * @param dtype       element type, null for a barrier
 * @param op          reduction, null where none applies
 * @param root        root for broadcast and reduce, peer for send and recv, -1 otherwise
 * @param inPlace     whether send and recv share memory as the op's in-place form
 * @param device      the posting rank's CUDA device
 * @param sendByteSize bytes of the send buffer (of every send piece for allGatherv)
 * @param sendViews   allGatherv: this rank's send pieces (peers read them after the barrier); empty otherwise
 * @param recvViews   allGatherv: the views receiving each rank's pieces; empty otherwise
 */
record DeviceCall(CollectiveKind kind, long sendAddress, long recvAddress, long count, DType dtype, ReduceOp op,
                  int root, boolean inPlace, int device, long sendByteSize, List<Tensor> sendViews,
                  List<List<Tensor>> recvViews) {

    DeviceCall(CollectiveKind kind, long sendAddress, long recvAddress, long count, DType dtype, ReduceOp op,
               int root, boolean inPlace, int device, long sendByteSize) {
        this(kind, sendAddress, recvAddress, count, dtype, op, root, inPlace, device, sendByteSize, List.of(),
                List.of());
    }

    boolean sameSignature(DeviceCall other) {
        return kind == other.kind && count == other.count && dtype == other.dtype && op == other.op
                && root == other.root;
    }

    boolean isReduction() {
        return kind == CollectiveKind.ALL_REDUCE || kind == CollectiveKind.REDUCE_SCATTER
                || kind == CollectiveKind.REDUCE;
    }

    /** Whether executing it reads a peer's device buffer (so the peer must wait before reusing it). */
    boolean readsPeers() {
        return kind == CollectiveKind.ALL_GATHER || kind == CollectiveKind.BROADCAST
                || kind == CollectiveKind.ALL_TO_ALL || kind == CollectiveKind.ALL_GATHER_V;
    }

    String describe() {
        return CallSignature.describe(kind, count, dtype, op, root);
    }
}
