package io.yatt.collectives.nccl;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.tensor.DType;

/**
 * One validated call of an NCCL rank, ready to enqueue: device addresses (never dereferenced from Java), count in
 * elements as {@link CallSignature} prints it, and the values that must match across ranks. Immutable.
 *
 * @param kind        the call
 * @param sendAddress device address of the first send element (0 when there is none)
 * @param recvAddress device address of the first recv element (0 when there is none)
 * @param count       elements: send count for all-gather, all-reduce, broadcast, reduce, all-to-all, send; recv
 *                    count for reduce-scatter and recv
 * @param dtype       element type, null for a barrier
 * @param op          reduction, null where none applies
 * @param root        root for broadcast and reduce, peer for send and recv, -1 otherwise
 */
record NcclCall(CollectiveKind kind, long sendAddress, long recvAddress, long count, DType dtype, ReduceOp op,
                int root) {

    String describe() {
        return CallSignature.describe(kind, count, dtype, op, root);
    }
}
