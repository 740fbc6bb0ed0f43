package io.yatt.hybrid;

import io.yatt.collectives.Communicator;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.Objects;

/**
 * Data-path helpers around generation: broadcast the prompt batch inside the training TP group, give each micro-DP
 * rank its chunk, and gather responses back in order (over micro-DP, then over generation PP). Stateless;
 * collective calls are confined to the rank's thread like their communicators.
 */
public final class DataPath {

    private DataPath() {
    }

    /**
     * Broadcasts {@code batch} in place from TP rank 0 to the training TP group.
     *
     * @throws IllegalArgumentException if the ranks' batches differ in dtype or size
     */
    public static void broadcastBatch(Communicator tpGroup, Tensor batch) {
        Objects.requireNonNull(tpGroup, "tpGroup").broadcast(batch, 0);
    }

    /**
     * This micro-DP rank's chunk of the batch along dim 0 (a view): chunk {@code microDpRank} of {@code dg}.
     *
     * @throws IllegalArgumentException if {@code dg} does not divide the batch's first dimension or the rank is out of
     *         range
     */
    public static Tensor microDpChunk(Tensor batch, int dg, int microDpRank) {
        long rows = batch.shape().dim(0);
        if (dg <= 0 || rows % dg != 0) {
            throw new IllegalArgumentException("micro-DP size must divide the batch: rows=" + rows + ", d_g=" + dg);
        }
        if (microDpRank < 0 || microDpRank >= dg) {
            throw new IllegalArgumentException("micro-DP rank out of range: microDpRank=" + microDpRank + ", d_g=" + dg);
        }
        return batch.narrow(0, microDpRank * (rows / dg), rows / dg);
    }

    /**
     * All-gathers {@code local} along dim 0 over a group (micro-DP, then generation PP), in group rank order, into a
     * new contiguous tensor from {@code allocator}.
     *
     * @throws IllegalArgumentException if the ranks' tensors differ in dtype or size
     */
    public static Tensor gather(Communicator group, Tensor local, Allocator allocator) {
        long[] dims = local.shape().dims();
        dims[0] *= group.size();
        Tensor out = Tensor.allocate(allocator, local.dtype(), Shape.of(dims), local.device());
        Tensor send = local.isContiguous() ? local : local.contiguous(allocator);
        try {
            group.allGather(send.flatten(), out.flatten());
        } finally {
            if (send != local) {
                send.close();
            }
        }
        return out;
    }
}
