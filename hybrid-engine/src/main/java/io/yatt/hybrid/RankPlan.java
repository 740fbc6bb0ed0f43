package io.yatt.hybrid;

import io.yatt.tensor.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One rank's part of a {@link ReshardPlan}: the steps the executor runs, in order ({@link #steps()} to generation,
 * {@link #releaseSteps()} back to training), and, computed from them before anything runs, the bytes the rank will
 * receive and its peak parameter bytes. Byte counts follow Table 2 of docs/architecture.md: {@code M} counts the
 * TP-sharded parameters; replicated parameters (norms, row-parallel biases) are counted apart
 * ({@link #replicatedBytesReceived()}), since they move only when pipeline stages merge. Immutable and thread-safe.
 */
public final class RankPlan {

    /** A generation weight: its generation-local name, spec, shape and byte offset in the generation shard. */
    record Target(String name, ParameterSpec param, Shape shape, long byteOffset) {
    }

    private final int rank;
    private final RankCoordinates coordinates;
    private final ReshardScheme scheme;
    private final int elementBytes;
    private final List<ReshardStep> steps;
    private final List<ReshardStep> releaseSteps;
    private final ReshardStep.Gather sharded;
    private final ReshardStep.Gather replicated;
    private final List<DirectPlacement.OwnParam> ownSharded;
    private final List<DirectPlacement.OwnParam> ownReplicated;
    private final List<Target> shardedTargets;
    private final List<Target> replicatedTargets;
    private final long trainingParameterBytes;
    private final long generationBaseElements;

    RankPlan(int rank, RankCoordinates coordinates, ReshardScheme scheme, int elementBytes, List<ReshardStep> steps,
             List<ReshardStep> releaseSteps, ReshardStep.Gather sharded, ReshardStep.Gather replicated,
             List<DirectPlacement.OwnParam> ownSharded, List<DirectPlacement.OwnParam> ownReplicated,
             List<Target> shardedTargets, List<Target> replicatedTargets, long trainingParameterBytes,
             long generationBaseElements) {
        this.rank = rank;
        this.coordinates = coordinates;
        this.scheme = scheme;
        this.elementBytes = elementBytes;
        this.steps = List.copyOf(steps);
        this.releaseSteps = List.copyOf(releaseSteps);
        this.sharded = sharded;
        this.replicated = replicated;
        this.ownSharded = List.copyOf(ownSharded);
        this.ownReplicated = List.copyOf(ownReplicated);
        this.shardedTargets = List.copyOf(shardedTargets);
        this.replicatedTargets = List.copyOf(replicatedTargets);
        this.trainingParameterBytes = trainingParameterBytes;
        this.generationBaseElements = generationBaseElements;
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

    /**
     * The train-to-generation steps, in the order the executor runs them: HybridFlow's own fused components moved
     * into place ({@link ReshardStep.LocalMoves}, when there are any), the gather of the sharded parameters, and, when
     * pipeline stages merge, the gather of the replicated ones.
     */
    public List<ReshardStep> steps() {
        return steps;
    }

    /** The generation-to-training steps: HybridFlow's own fused components moved back (empty for the baselines). */
    public List<ReshardStep> releaseSteps() {
        return releaseSteps;
    }

    /** Bytes of sharded parameters this rank receives in one train-to-generation transition (Table 2). */
    public long bytesReceived() {
        return sharded.receivedElements() * elementBytes;
    }

    /** Bytes of replicated parameters this rank receives (non-zero only when pipeline stages merge). */
    public long replicatedBytesReceived() {
        return replicated.ranks().size() > 1 ? replicated.receivedElements() * elementBytes : 0;
    }

    /**
     * Peak bytes of sharded parameters held for generation (Table 2): the gather buffer, which for HybridFlow also
     * holds the training shard ({@code M/(t_g*p_g)}), and for the baselines is the whole model ({@code M}).
     */
    public long peakParameterBytes() {
        return sharded.bufferElements() * elementBytes;
    }

    /**
     * Bytes of sharded parameters held twice at the peak: 0 for HybridFlow; the training shard ({@code M/(t*p)})
     * for the baselines, which keep it apart from the gather buffer.
     */
    public long redundantParameterBytes() {
        return scheme == ReshardScheme.HYBRIDFLOW ? 0 : trainingParameterBytes;
    }

    /**
     * Bytes of this rank's training shard of sharded parameters ({@code M/(t*p)} for stage-balanced models, plus the
     * replicated KV heads' share when {@code t} exceeds the KV heads, see {@link ReshardPlan#formulaBytesReceived()}).
     */
    public long trainingParameterBytes() {
        return trainingParameterBytes;
    }

    /**
     * Bytes of this rank's generation shard of sharded parameters ({@code M/(t_g*p_g)} when balanced and
     * {@code t_g} does not exceed the KV heads).
     */
    public long generationParameterBytes() {
        long bytes = 0;
        for (Target target : shardedTargets) {
            bytes += target.shape().numel() * elementBytes;
        }
        return bytes;
    }

    /** The generation weights this rank ends up with: generation-local name to shape, in buffer order. */
    public Map<String, Shape> generationShapes() {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        for (Target target : shardedTargets) {
            shapes.put(target.name(), target.shape());
        }
        for (Target target : replicatedTargets) {
            shapes.put(target.name(), target.shape());
        }
        return shapes;
    }

    /** The gather of the sharded parameters (also in {@link #steps()}). */
    ReshardStep.Gather sharded() {
        return sharded;
    }

    /** The gather of the replicated parameters (in {@link #steps()} only when its group has several ranks). */
    ReshardStep.Gather replicated() {
        return replicated;
    }

    /** This rank's sharded training parameters and their pieces (where its training views are). */
    List<DirectPlacement.OwnParam> ownSharded() {
        return ownSharded;
    }

    /** This rank's replicated training parameters and their pieces. */
    List<DirectPlacement.OwnParam> ownReplicated() {
        return ownReplicated;
    }

    List<Target> shardedTargets() {
        return shardedTargets;
    }

    List<Target> replicatedTargets() {
        return replicatedTargets;
    }

    /** Where this rank's generation shard starts in the gather buffer (elements; 0 for HybridFlow). */
    long generationBaseElements() {
        return generationBaseElements;
    }

    @Override
    public String toString() {
        return "RankPlan{rank=" + rank + ", scheme=" + scheme + ", bytesReceived=" + bytesReceived()
                + ", peakParameterBytes=" + peakParameterBytes() + ", replicatedBytesReceived="
                + replicatedBytesReceived() + ", steps=" + steps.size() + "}";
    }
}
