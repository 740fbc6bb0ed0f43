package io.yatt.hybrid;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
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
 * <p>Direct placement: every received byte is copied once, straight into its generation position, by one
 * {@link Communicator#allGatherv(List, List)} over the scheme's gather group whose receive side is a list of views
 * (contiguous blocks for column-parallel, vocab and bias slots, strided column blocks for row-parallel slots, one
 * block per component for fused QKV and gate/up). HybridFlow's training weights are views into the generation buffer
 * ({@code M/(t_g*p_g)} bytes) at their generation positions, strided for row-parallel weights, so the own shard never
 * moves, except fused kinds: their training shard {@code [q_s; k_s; v_s]} (or {@code [gate_s; up_s]}) sits
 * contiguously at its first component's generation position, and {@link #updateWeights()} moves the other components
 * of the own shard into place locally (memmove order, no scratch) before the gather; {@link #release()} moves them
 * back. The baselines keep the training shard apart and gather the whole model ({@code M}, every generation shard in
 * (generation stage, generation TP) order) into a buffer that {@link #toTraining()} frees; they too copy each byte
 * once. Replicated parameters live at their generation positions and are gathered over the micro-PP group when
 * stages merge.
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
     * What one transition did, measured: bytes received from peers (counted by the communicators where they moved
     * the bytes, {@link Communicator#stats()}), the peak bytes of the generation-side parameter allocator, local
     * copies, and the time.
     *
     * @param bytesReceived bytes of sharded parameters received, as the gather group's communicator counted them
     * @param replicatedBytesReceived bytes of replicated parameters received, as the micro-PP communicator counted them
     * @param peakParameterBytes peak of sharded parameter memory held for generation, from the allocator
     * @param localBytesMoved bytes copied locally: HybridFlow's own fused components moved into place; the baselines'
     *        own training shard copied into the gather buffer
     * @param timeNs wall time of the transition
     */
    public record TransitionStats(long bytesReceived, long replicatedBytesReceived, long peakParameterBytes,
                                  long localBytesMoved, long timeNs) {
    }

    private final ReshardPlan plan;
    private final RankPlan rankPlan;
    private final DType dtype;
    private final Allocator paramAllocator;
    private final Allocator generationAllocator;
    private final Map<GroupKind, Communicator> comms = new EnumMap<>(GroupKind.class);
    private final boolean resident;
    private final DirectPlacement sharded;
    private final DirectPlacement replicated;
    /** HybridFlow: the generation buffer, which holds the training shard; baselines: the training shard alone. */
    private final Tensor trainingBuffer;
    private final Tensor replicatedBuffer;
    private final Map<String, Tensor> trainingWeights;
    private final List<Tensor> sendViews;
    private final List<Tensor> replicatedSendViews;
    private final List<List<Tensor>> replicatedRecvViews;
    /** HybridFlow: own fused components, (source, target, byteLength) triples in memmove order, and the reverse. */
    private final long[] ownMovesForward;
    private final long[] ownMovesBackward;
    private List<List<Tensor>> recvViews;
    private Map<String, Tensor> residentGenerationWeights;
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
        this.resident = plan.scheme() == ReshardScheme.HYBRIDFLOW;
        this.sharded = DirectPlacement.sharded(plan, rank);
        this.replicated = DirectPlacement.replicated(plan, rank);
        int es = dtype.byteSize();
        this.trainingBuffer = allocateElements(resident ? generationAllocator : paramAllocator,
                resident ? sharded.bufferElements : rankPlan.trainingParameterBytes() / es);
        this.replicatedBuffer = allocateElements(paramAllocator, replicated.bufferElements);
        Map<String, Tensor> views = new LinkedHashMap<>();
        MoveList forward = new MoveList();
        MoveList backward = new MoveList();
        for (DirectPlacement.OwnParam own : sharded.ownParams) {
            Shape shape = own.param().shardShape(layout.train().t());
            if (!resident) {
                views.put(own.localName(), trainingBuffer.narrow(0, own.flatBase(), shape.numel()).view(shape));
            } else if (own.pieces().size() == 1) {
                Tensor view = DirectPlacement.targetView(trainingBuffer, own.pieces().getFirst());
                views.put(own.localName(), view.shape().equals(shape) ? view : view.view(shape));
            } else {
                // fused: the shard sits at its first component's target; the rest moves into place at each transition
                long home = own.pieces().getFirst().dstBase() + own.pieces().getFirst().dstCol();
                views.put(own.localName(), trainingBuffer.narrow(0, home, shape.numel()).view(shape));
                List<long[]> moves = new ArrayList<>();
                for (DirectPlacement.Piece piece : own.pieces()) {
                    if (piece.count() != 1) {
                        throw new IllegalStateException("fused pieces must be contiguous: name=" + own.localName());
                    }
                    moves.add(new long[] {(home + piece.srcBase() - own.flatBase()) * es,
                            (piece.dstBase() + piece.dstCol()) * es, piece.length() * es});
                }
                forward.addOrdered(moves);
                List<long[]> back = new ArrayList<>();
                for (long[] m : moves) {
                    back.add(new long[] {m[1], m[0], m[2]});
                }
                backward.addOrdered(back);
            }
        }
        for (DirectPlacement.OwnParam own : replicated.ownParams) {
            views.put(own.localName(), DirectPlacement.targetView(replicatedBuffer, own.pieces().getFirst())
                    .view(own.param().shape()));
        }
        this.trainingWeights = Collections.unmodifiableMap(views);
        this.ownMovesForward = forward.toArray();
        this.ownMovesBackward = backward.toArray();
        if (resident) {
            this.recvViews = sharded.targetViews(trainingBuffer);
            this.sendViews = recvViews.get(sharded.own);
            this.residentGenerationWeights = generationViews(trainingBuffer, 0);
        } else {
            this.sendViews = sharded.ownSourceViews(trainingBuffer);
        }
        this.replicatedRecvViews = replicated.targetViews(replicatedBuffer);
        this.replicatedSendViews = replicatedRecvViews.get(replicated.own);
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
     * The training shard of this rank by stage-local name; write the weights here (with {@link Tensor#copyFrom}:
     * under HybridFlow, row-parallel shards are strided views into the generation buffer). Valid in
     * {@link State#TRAINING}.
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

    /** Rollout lifecycle: make room for generation weights (baselines allocate the {@code M}-byte gather buffer). */
    public void resume() {
        requireState(State.TRAINING);
        if (gatherBuffer == null && !resident) {
            gatherBuffer = allocateElements(generationAllocator, sharded.bufferElements);
            recvViews = sharded.targetViews(gatherBuffer);
        }
    }

    /**
     * Rollout lifecycle: gathers the current training weights straight into their generation positions; collective
     * over the gather groups.
     *
     * @throws IllegalStateException if not in training state
     */
    public Map<String, Tensor> updateWeights() {
        requireState(State.TRAINING);
        long start = System.nanoTime();
        resume();
        long local = moveOwn(ownMovesForward);
        long received = gatherCounted(communicator(plan.scheme().gatherGroup()), sendViews, recvViews);
        if (!resident) {
            for (Tensor t : sendViews) {
                local += t.byteSize();
            }
        }
        long replicatedReceived = 0;
        if (replicated.ranks.size() > 1) {
            replicatedReceived = gatherCounted(communicator(GroupKind.MICRO_PP), replicatedSendViews,
                    replicatedRecvViews);
        }
        generationWeights = resident ? residentGenerationWeights : generationViews(gatherBuffer, blockElements());
        state = State.GENERATION;
        lastStats = new TransitionStats(received, replicatedReceived, generationAllocator.peakBytes(), local,
                System.nanoTime() - start);
        return generationWeights;
    }

    /** Runs one allGatherv and returns the bytes the communicator counted as received by this rank. */
    private static long gatherCounted(Communicator comm, List<Tensor> send, List<List<Tensor>> recv) {
        CommunicatorStats before = comm.stats();
        comm.allGatherv(send, recv);
        return comm.stats().minus(before).bytesReceived();
    }

    /** {@link #resume()} then {@link #updateWeights()}. */
    public Map<String, Tensor> toGeneration() {
        resume();
        return updateWeights();
    }

    /**
     * Rollout lifecycle: drops the generation weights and returns to training. HybridFlow moves its own fused
     * components back into their training shards (nothing else of the own shard ever moved); the baselines free the
     * gather buffer. Local, not collective.
     *
     * @throws IllegalStateException if not in generation state
     */
    public void release() {
        requireState(State.GENERATION);
        if (resident) {
            moveOwn(ownMovesBackward);
        } else {
            gatherBuffer.close();
            gatherBuffer = null;
            recvViews = null;
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

    private long moveOwn(long[] moves) {
        if (moves.length == 0) {
            return 0;
        }
        MemorySegment buffer = trainingBuffer.segment();
        long bytes = 0;
        for (int i = 0; i < moves.length; i += 3) {
            MemorySegment.copy(buffer, moves[i], buffer, moves[i + 1], moves[i + 2]);
            bytes += moves[i + 2];
        }
        return bytes;
    }

    /** Where this rank's generation shard starts in the baselines' whole-model buffer (elements). */
    private long blockElements() {
        HybridLayout layout = plan.layout();
        RankCoordinates c = rankPlan.coordinates();
        int pg = layout.gen().pg();
        int tg = layout.gen().tg();
        long block = 0;
        for (int sg = 0; sg <= c.genPp(); sg++) {
            long stage = 0;
            for (ParameterSpec param : plan.spec().stageParameters(sg, pg)) {
                if (param.kind().isSharded()) {
                    stage += param.shardByteSize(tg) / dtype.byteSize();
                }
            }
            block += sg < c.genPp() ? tg * stage : c.genTp() * stage;
        }
        return block;
    }

    /** The generation weights by name: sharded ones over {@code buffer} from {@code base}, then replicated ones. */
    private Map<String, Tensor> generationViews(Tensor buffer, long base) {
        int es = dtype.byteSize();
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (GatherLayout.Target target : rankPlan.sharded().targets) {
            weights.put(target.name(), buffer.narrow(0, base + target.byteOffset() / es, target.shape().numel())
                    .view(target.shape()));
        }
        for (GatherLayout.Target target : rankPlan.replicated().targets) {
            weights.put(target.name(), replicatedBuffer.narrow(0, target.byteOffset() / es, target.shape().numel())
                    .view(target.shape()));
        }
        return Collections.unmodifiableMap(weights);
    }

    private Tensor allocateElements(Allocator allocator, long elements) {
        return Tensor.allocate(allocator, dtype, Shape.of(elements), Device.host());
    }

    /**
     * Move triples {@code (source, target, byteLength)} of one parameter's own components, ordered so that no move
     * overwrites a source still to be read (leftward moves by ascending source, then rightward moves by descending
     * source); checked.
     */
    private static final class MoveList {
        private final List<long[]> moves = new ArrayList<>();

        void addOrdered(List<long[]> group) {
            List<long[]> left = new ArrayList<>();
            List<long[]> right = new ArrayList<>();
            for (long[] m : group) {
                if (m[0] > m[1]) {
                    left.add(m);
                } else if (m[0] < m[1]) {
                    right.add(m);
                }
            }
            left.sort((a, b) -> Long.compare(a[0], b[0]));
            right.sort((a, b) -> Long.compare(b[0], a[0]));
            List<long[]> ordered = new ArrayList<>(left);
            ordered.addAll(right);
            for (int i = 0; i < ordered.size(); i++) {
                for (int j = i + 1; j < ordered.size(); j++) {
                    long[] a = ordered.get(i);
                    long[] b = ordered.get(j);
                    if (a[1] < b[0] + b[2] && b[0] < a[1] + a[2]) {
                        throw new IllegalStateException("own component moves overlap: target=" + a[1] + ", source="
                                + b[0] + ", byteLength=" + b[2]);
                    }
                }
            }
            moves.addAll(ordered);
        }

        long[] toArray() {
            long[] out = new long[moves.size() * 3];
            for (int i = 0; i < moves.size(); i++) {
                System.arraycopy(moves.get(i), 0, out, i * 3, 3);
            }
            return out;
        }
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
