package io.yatt.hybrid;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.Communicator;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One rank's executor of a {@link ReshardPlan} over the collectives API: it owns the rank's actor weights and moves
 * them between the training layout and the generation layout.
 *
 * <p>HybridFlow keeps the training shard inside the generation buffer from the start (its own slot of the micro-DP
 * gather buffer, {@code M/(t_g*p_g)} bytes), so {@link #toGeneration()} is one in-place all-gather over the micro-DP
 * group plus a local in-place rearrangement (component split, concatenation, re-fusion, layer renumbering), and the
 * own shard is never copied. The baselines keep the training shard apart and gather the whole model ({@code M}) into
 * a buffer that {@link #toTraining()} frees. Replicated parameters live in a {@code k_p}-slot buffer gathered over
 * the micro-PP group when stages merge.
 *
 * <p>Host tensors (in-process and shm backends). Confined to the rank's thread.
 */
public final class HybridEngine implements AutoCloseable {

    /** Where the weights are. */
    public enum State {
        /** Training views are valid. */
        TRAINING,
        /** Generation views are valid. */
        GENERATION
    }

    /**
     * What one transition did, measured: bytes received from peers (counted from the tensors that moved), the peak
     * bytes of the generation-side parameter allocator, and the time.
     *
     * @param bytesReceived bytes of sharded parameters received
     * @param replicatedBytesReceived bytes of replicated parameters received
     * @param peakParameterBytes peak of sharded parameter memory held for generation, from the allocator
     * @param rearrangedBytes bytes moved locally by the in-place rearrangement
     * @param timeNs wall time of the transition
     */
    public record TransitionStats(long bytesReceived, long replicatedBytesReceived, long peakParameterBytes,
                                  long rearrangedBytes, long timeNs) {
    }

    private final ReshardPlan plan;
    private final RankPlan rankPlan;
    private final DType dtype;
    private final Allocator paramAllocator;
    private final Allocator generationAllocator;
    private final Map<GroupKind, Communicator> comms = new EnumMap<>(GroupKind.class);
    private final Tensor trainingBuffer;
    private final Tensor replicatedBuffer;
    private final Map<String, Tensor> trainingWeights;
    private Tensor gatherBuffer;
    private Map<String, Tensor> generationWeights = Map.of();
    private State state = State.TRAINING;
    private TransitionStats lastStats;
    private boolean closed;

    private HybridEngine(ReshardPlan plan, int rank, Communicator world, Allocator allocator) {
        this.plan = plan;
        this.rankPlan = plan.rank(rank);
        this.dtype = plan.spec().dtype();
        HybridLayout layout = plan.layout();
        for (GroupKind kind : List.of(plan.scheme().gatherGroup(), GroupKind.MICRO_PP, GroupKind.TP,
                GroupKind.MICRO_DP, GroupKind.GEN_PP)) {
            if (!comms.containsKey(kind)) {
                List<Integer> group = layout.group(kind, rank);
                int color = layout.groups(kind).indexOf(group);
                comms.put(kind, world.split(color, rank).orElseThrow());
            }
        }
        this.paramAllocator = allocator.child("hybrid-params");
        this.generationAllocator = allocator.child("hybrid-generation");
        GatherLayout sharded = rankPlan.sharded();
        GatherLayout replicated = rankPlan.replicated();
        boolean resident = plan.scheme() == ReshardScheme.HYBRIDFLOW;
        // HybridFlow: the generation-sized buffer is the training storage; baselines: the training shard alone
        this.trainingBuffer = allocateBytes(resident ? generationAllocator : paramAllocator,
                resident ? sharded.bufferBytes : rankPlan.trainingParameterBytes());
        this.replicatedBuffer = allocateBytes(paramAllocator, replicated.bufferBytes);
        Map<String, Tensor> views = new LinkedHashMap<>();
        long shardedBase = resident ? sharded.segments.get(sharded.ownSegment).bufferOffset() : 0;
        long replicatedBase = replicated.segments.get(replicated.ownSegment).bufferOffset();
        int p = layout.train().p();
        int t = layout.train().t();
        int stage = rankPlan.coordinates().pp();
        long shardedOffset = 0;
        long replicatedOffset = 0;
        for (ParameterSpec param : plan.spec().stageParameters(stage, p)) {
            String name = param.localName(p, plan.spec().layers());
            Shape shape = param.shardShape(t);
            if (param.kind().isSharded()) {
                views.put(name, view(trainingBuffer, shardedBase + shardedOffset, shape));
                shardedOffset += param.shardByteSize(t);
            } else {
                views.put(name, view(replicatedBuffer, replicatedBase + replicatedOffset, shape));
                replicatedOffset += param.byteSize();
            }
        }
        this.trainingWeights = Collections.unmodifiableMap(views);
    }

    /**
     * Creates rank {@code rank}'s engine; collective over {@code world} (every rank must call it, in the same order
     * relative to other collectives), since it splits the group communicators.
     *
     * @throws IllegalArgumentException if the world size or rank does not match the plan
     */
    public static HybridEngine create(ReshardPlan plan, int rank, Communicator world, Allocator allocator) {
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(world, "world");
        Objects.requireNonNull(allocator, "allocator");
        if (world.size() != plan.layout().worldSize() || world.rank() != rank) {
            throw new IllegalArgumentException("communicator does not match the plan: size=" + world.size()
                    + ", rank=" + world.rank() + ", expected size=" + plan.layout().worldSize() + ", rank=" + rank);
        }
        return new HybridEngine(plan, rank, world, allocator);
    }

    /** The plan. */
    public ReshardPlan plan() {
        return plan;
    }

    /** This rank's plan. */
    public RankPlan rankPlan() {
        return rankPlan;
    }

    /** The current state. */
    public State state() {
        return state;
    }

    /** The communicator of one of this rank's groups (TP, MICRO_DP, MICRO_PP, GEN_PP, and the scheme's group). */
    public Communicator communicator(GroupKind kind) {
        Communicator c = comms.get(kind);
        if (c == null) {
            throw new IllegalArgumentException("no communicator for group: group=" + kind);
        }
        return c;
    }

    /**
     * The training shard of this rank by stage-local name; write the weights here. Valid in {@link State#TRAINING}.
     *
     * @throws IllegalStateException if not in training state
     */
    public Map<String, Tensor> trainingWeights() {
        requireState(State.TRAINING);
        return trainingWeights;
    }

    /**
     * The generation weights by generation-stage-local name (layers renumbered), valid until {@link #toTraining()}.
     *
     * @throws IllegalStateException if not in generation state
     */
    public Map<String, Tensor> generationWeights() {
        requireState(State.GENERATION);
        return generationWeights;
    }

    /** Rollout lifecycle: make room for generation weights (baselines allocate the gather buffer). */
    public void resume() {
        requireState(State.TRAINING);
        if (gatherBuffer == null && plan.scheme() != ReshardScheme.HYBRIDFLOW) {
            gatherBuffer = allocateBytes(generationAllocator, rankPlan.sharded().bufferBytes);
        }
    }

    /**
     * Rollout lifecycle: gathers and rearranges the current training weights into generation weights; collective
     * over the gather groups.
     *
     * @throws IllegalStateException if not in training state
     */
    public Map<String, Tensor> updateWeights() {
        requireState(State.TRAINING);
        long start = System.nanoTime();
        resume();
        GatherLayout sharded = rankPlan.sharded();
        Tensor buffer = plan.scheme() == ReshardScheme.HYBRIDFLOW ? trainingBuffer : gatherBuffer;
        GatherLayout.Segment own = sharded.segments.get(sharded.ownSegment);
        Tensor send = plan.scheme() == ReshardScheme.HYBRIDFLOW
                ? slice(buffer, own.bufferOffset(), own.byteLength())
                : slice(trainingBuffer, own.flatStart(), own.byteLength());
        long received = gather(communicator(plan.scheme().gatherGroup()), sharded, buffer, send);
        long rearranged = InPlacePermutation.apply(buffer.segment(), sharded.bufferBytes, sharded.targetBytes,
                sharded.moves(), false);
        long replicatedReceived = 0;
        GatherLayout replicated = rankPlan.replicated();
        if (replicated.ranks.size() > 1) {
            GatherLayout.Segment ownR = replicated.segments.get(replicated.ownSegment);
            replicatedReceived = gather(communicator(GroupKind.MICRO_PP), replicated, replicatedBuffer,
                    slice(replicatedBuffer, ownR.bufferOffset(), ownR.byteLength()));
            rearranged += InPlacePermutation.apply(replicatedBuffer.segment(), replicated.bufferBytes,
                    replicated.targetBytes, replicated.moves(), false);
        }
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (GatherLayout.Target target : sharded.targets) {
            weights.put(target.name(), view(buffer, target.byteOffset(), target.shape()));
        }
        for (GatherLayout.Target target : replicated.targets) {
            weights.put(target.name(), view(replicatedBuffer, target.byteOffset(), target.shape()));
        }
        generationWeights = Collections.unmodifiableMap(weights);
        state = State.GENERATION;
        lastStats = new TransitionStats(received, replicatedReceived, generationAllocator.peakBytes(), rearranged,
                System.nanoTime() - start);
        return generationWeights;
    }

    /** {@link #resume()} then {@link #updateWeights()}. */
    public Map<String, Tensor> toGeneration() {
        resume();
        return updateWeights();
    }

    /**
     * Rollout lifecycle: drops the generation weights and returns to training. HybridFlow rearranges its buffer back
     * so the own training shard is in its slot again (it never left the buffer); the baselines free the gather
     * buffer. Local, not collective.
     *
     * @throws IllegalStateException if not in generation state
     */
    public void release() {
        requireState(State.GENERATION);
        GatherLayout sharded = rankPlan.sharded();
        if (plan.scheme() == ReshardScheme.HYBRIDFLOW) {
            InPlacePermutation.apply(trainingBuffer.segment(), sharded.bufferBytes, sharded.targetBytes,
                    sharded.moves(), true);
        } else {
            gatherBuffer.close();
            gatherBuffer = null;
        }
        GatherLayout replicated = rankPlan.replicated();
        if (replicated.ranks.size() > 1) {
            InPlacePermutation.apply(replicatedBuffer.segment(), replicated.bufferBytes, replicated.targetBytes,
                    replicated.moves(), true);
        }
        generationWeights = Map.of();
        state = State.TRAINING;
    }

    /** {@link #release()}. */
    public void toTraining() {
        release();
    }

    /** The measurements of the last train-to-generation transition, or null before the first. */
    public TransitionStats lastTransition() {
        return lastStats;
    }

    /** The generation-side parameter allocator (its peak is {@code peakParameterBytes}). */
    public Allocator generationAllocator() {
        return generationAllocator;
    }

    private long gather(Communicator comm, GatherLayout layout, Tensor buffer, Tensor send) {
        List<GatherLayout.Segment> segments = layout.segments;
        boolean equal = true;
        for (GatherLayout.Segment s : segments) {
            equal &= s.byteLength() == segments.getFirst().byteLength();
        }
        long received = 0;
        int me = layout.ownSegment;
        if (equal) {
            Tensor recv = slice(buffer, 0, layout.bufferBytes);
            comm.allGather(send, recv);
            received = layout.bufferBytes - segments.get(me).byteLength();
        } else {
            List<Tensor> parts = new ArrayList<>();
            try (CollectiveGroup group = comm.group()) {
                for (int i = 0; i < segments.size(); i++) {
                    if (i == me) {
                        continue;
                    }
                    GatherLayout.Segment seg = segments.get(i);
                    if (segments.get(me).byteLength() > 0) {
                        comm.send(send, i);
                    }
                    if (seg.byteLength() > 0) {
                        Tensor part = slice(buffer, seg.bufferOffset(), seg.byteLength());
                        parts.add(part);
                        comm.recv(part, i);
                        received += seg.byteLength();
                    }
                }
            }
            GatherLayout.Segment own = segments.get(me);
            Tensor ownSlot = slice(buffer, own.bufferOffset(), own.byteLength());
            if (ownSlot.dataPointer().address() != send.dataPointer().address()) {
                ownSlot.copyFrom(send);
            }
        }
        return received;
    }

    private Tensor allocateBytes(Allocator allocator, long bytes) {
        return Tensor.allocate(allocator, dtype, Shape.of(bytes / dtype.byteSize()), Device.host());
    }

    private Tensor slice(Tensor buffer, long byteOffset, long byteLength) {
        return buffer.narrow(0, byteOffset / dtype.byteSize(), byteLength / dtype.byteSize());
    }

    private Tensor view(Tensor buffer, long byteOffset, Shape shape) {
        return slice(buffer, byteOffset, shape.numel() * dtype.byteSize()).view(shape);
    }

    private void requireState(State expected) {
        if (closed) {
            throw new IllegalStateException("hybrid engine closed: rank=" + rankPlan.rank());
        }
        if (state != expected) {
            throw new IllegalStateException("hybrid engine in wrong state: rank=" + rankPlan.rank() + ", state="
                    + state + ", expected=" + expected);
        }
    }

    /**
     * Frees the buffers and closes the group communicators.
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("hybrid engine already closed: rank=" + rankPlan.rank());
        }
        closed = true;
        RuntimeException failure = null;
        List<AutoCloseable> toClose = new ArrayList<>();
        if (gatherBuffer != null) {
            toClose.add(gatherBuffer);
        }
        toClose.add(trainingBuffer);
        toClose.add(replicatedBuffer);
        toClose.addAll(comms.values());
        toClose.add(generationAllocator);
        toClose.add(paramAllocator);
        for (AutoCloseable c : toClose) {
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("hybrid engine close failed: rank=" + rankPlan.rank(), e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
