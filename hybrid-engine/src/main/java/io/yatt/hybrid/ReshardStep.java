package io.yatt.hybrid;

import java.util.List;

/** One step of a rank's {@link RankPlan}, as a plain value. Immutable and thread-safe. */
public sealed interface ReshardStep {

    /**
     * One member's contribution inside a gather buffer.
     *
     * @param rank the contributing rank
     * @param byteOffset where it lands in the gather buffer
     * @param byteSize its size
     * @param parameters the training-local names of the parameters (or parameter pieces) it carries
     */
    record Slot(int rank, long byteOffset, long byteSize, List<String> parameters) {
        /** Defensive copy. */
        public Slot {
            parameters = List.copyOf(parameters);
        }
    }

    /**
     * An all-gather over a group into one buffer; this rank's own slot is already in place (HybridFlow) or copied in
     * (baselines). Slots of different sizes are gathered with grouped send/recv.
     *
     * @param group which group
     * @param ranks the group's ranks, in slot order
     * @param slots one slot per rank (DS-Chat: each rank's 1/d chunk)
     * @param bufferByteSize the gather buffer's size
     * @param bytesReceived bytes this rank receives (every slot but its own)
     * @param replicated whether it gathers replicated parameters (outside Table 2's M)
     */
    record AllGather(GroupKind group, List<Integer> ranks, List<Slot> slots, long bufferByteSize, long bytesReceived,
                     boolean replicated) implements ReshardStep {
        /** Defensive copies. */
        public AllGather {
            ranks = List.copyOf(ranks);
            slots = List.copyOf(slots);
        }
    }

    /**
     * Where the gathered bytes end up: fused QKV and gate/up split into components, concatenated per component and
     * re-fused, plain kinds concatenated along their shard dimension, merged layers renumbered
     * ({@code global = local + stage * layersPerStage}); the generation weights then start at byte 0. The executor
     * does it by direct placement during the gather (each received byte copied once into its final position; only
     * HybridFlow's own fused components move locally), not as a separate pass.
     *
     * @param parameters the generation-local names, in buffer order
     * @param byteSize bytes of the generation weights
     * @param replicated whether it arranges replicated parameters
     */
    record Rearrange(List<String> parameters, long byteSize, boolean replicated) implements ReshardStep {
        /** Defensive copy. */
        public Rearrange {
            parameters = List.copyOf(parameters);
        }
    }
}
