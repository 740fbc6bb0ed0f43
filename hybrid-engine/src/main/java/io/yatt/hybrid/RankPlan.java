package io.yatt.hybrid;

import io.yatt.tensor.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One rank's part of a {@link ReshardPlan}: its steps and, computed before anything runs, the bytes it will receive
 * and its peak parameter bytes. Byte counts follow Table 2 of docs/architecture.md: {@code M} counts the TP-sharded
 * parameters; replicated parameters (norms, row-parallel biases) are counted apart ({@link #replicatedBytesReceived()}), since
 * they move only when pipeline stages merge. Immutable and thread-safe.
 */
public final class RankPlan {

    private final int rank;
    private final RankCoordinates coordinates;
    private final ReshardScheme scheme;
    private final List<ReshardStep> steps;
    private final GatherLayout sharded;
    private final GatherLayout replicated;
    private final long trainingParameterBytes;

    RankPlan(int rank, RankCoordinates coordinates, ReshardScheme scheme, List<ReshardStep> steps, GatherLayout sharded,
             GatherLayout replicated, long trainingParameterBytes) {
        this.rank = rank;
        this.coordinates = coordinates;
        this.scheme = scheme;
        this.steps = List.copyOf(steps);
        this.sharded = sharded;
        this.replicated = replicated;
        this.trainingParameterBytes = trainingParameterBytes;
    }

    /** The rank. */
    public int rank() {
        return rank;
    }

    /** The rank's coordinates. */
    public RankCoordinates coordinates() {
        return coordinates;
    }

    /** The scheme. */
    public ReshardScheme scheme() {
        return scheme;
    }

    /** The steps, in order. */
    public List<ReshardStep> steps() {
        return steps;
    }

    /** Bytes of sharded parameters this rank receives in one train-to-generation transition (Table 2). */
    public long bytesReceived() {
        return sharded.bytesReceived();
    }

    /** Bytes of replicated parameters this rank receives (non-zero only when pipeline stages merge). */
    public long replicatedBytesReceived() {
        return replicated.ranks.size() > 1 ? replicated.bytesReceived() : 0;
    }

    /**
     * Peak bytes of sharded parameters held for generation (Table 2): the gather buffer, which for HybridFlow also
     * holds the training shard ({@code M/(t_g*p_g)}), and for the baselines is the whole model ({@code M}).
     */
    public long peakParameterBytes() {
        return sharded.bufferBytes;
    }

    /**
     * Bytes of sharded parameters held twice at the peak: 0 for HybridFlow; the training shard ({@code M/(t*p)})
     * for the baselines, which keep it apart from the gather buffer.
     */
    public long redundantParameterBytes() {
        return scheme == ReshardScheme.HYBRIDFLOW ? 0 : trainingParameterBytes;
    }

    /** Bytes of this rank's training shard of sharded parameters ({@code M/(t*p)} for stage-balanced models). */
    public long trainingParameterBytes() {
        return trainingParameterBytes;
    }

    /** Bytes of this rank's generation shard of sharded parameters ({@code M/(t_g*p_g)} when balanced). */
    public long generationParameterBytes() {
        return sharded.targetBytes;
    }

    /** The generation weights this rank ends up with: generation-local name to shape, in buffer order. */
    public Map<String, Shape> generationShapes() {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        for (GatherLayout.Target target : sharded.targets) {
            shapes.put(target.name(), target.shape());
        }
        for (GatherLayout.Target target : replicated.targets) {
            shapes.put(target.name(), target.shape());
        }
        return shapes;
    }

    GatherLayout sharded() {
        return sharded;
    }

    GatherLayout replicated() {
        return replicated;
    }

    @Override
    public String toString() {
        return "RankPlan{rank=" + rank + ", scheme=" + scheme + ", bytesReceived=" + bytesReceived()
                + ", peakParameterBytes=" + peakParameterBytes() + ", replicatedBytesReceived="
                + replicatedBytesReceived() + ", steps=" + steps.size() + "}";
    }
}
