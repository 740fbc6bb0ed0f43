package io.yatt.trainer.rollout;

import io.yatt.collectives.Communicator;
import io.yatt.controller.placement.RuntimePlacement;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Makes every rank of a run agree on the next step's placement: rank 0 (the trainer that owns the
 * {@link io.yatt.controller.placement.DynamicPlacement} decision) broadcasts it over the sync communicator before each
 * step, so trainer and rollout ranks switch at the same step. Stateless.
 */
public final class PlacementBroadcast {

    private PlacementBroadcast() {
    }

    /**
     * Collective over {@code comm}: every rank gets rank 0's {@code proposed} (other ranks' values are ignored).
     *
     * @throws IllegalStateException if the value received is not a placement
     */
    public static RuntimePlacement fromRankZero(Communicator comm, Allocator allocator, RuntimePlacement proposed) {
        Objects.requireNonNull(proposed, "proposed");
        try (Tensor t = Tensor.allocate(allocator, DType.I32, Shape.of(1), Device.host())) {
            t.segment().setAtIndex(ValueLayout.JAVA_INT, 0, proposed.ordinal());
            comm.broadcast(t, 0);
            int ordinal = t.segment().getAtIndex(ValueLayout.JAVA_INT, 0);
            RuntimePlacement[] all = RuntimePlacement.values();
            if (ordinal < 0 || ordinal >= all.length) {
                throw new IllegalStateException("placement broadcast carried no placement: ordinal=" + ordinal);
            }
            return all[ordinal];
        }
    }
}
