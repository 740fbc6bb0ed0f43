package io.yatt.collectives.cudalocal;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.tensor.DType;

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
 * @param sendByteSize bytes of the send buffer
 */
record DeviceCall(CollectiveKind kind, long sendAddress, long recvAddress, long count, DType dtype, ReduceOp op,
                  int root, boolean inPlace, int device, long sendByteSize) {

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
                || kind == CollectiveKind.ALL_TO_ALL;
    }

    String describe() {
        return CallSignature.describe(kind, count, dtype, op, root);
    }
}
