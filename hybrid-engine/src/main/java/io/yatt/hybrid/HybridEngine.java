package io.yatt.hybrid;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One rank's executor of a {@link ReshardPlan} over the collectives API: it owns the rank's actor weights and moves
 * them between the training layout and the generation layout by running its {@link RankPlan}'s steps in order
 * ({@link RankPlan#steps()} in {@link #updateWeights()}, {@link RankPlan#releaseSteps()} in {@link #release()}); it
 * decides nothing itself, it only allocates the buffers the plan sizes and builds views over the plan's pieces.
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
 * <p>Host tensors (in-process and shm backends) by default; {@link #create(ReshardPlan, int, Communicator, Allocator,
 * Device)} puts every engine buffer on a CUDA device (cuda-local and nccl backends, whose {@code allGatherv} places
 * the pieces straight into the device views), where the local fused moves are device copies split into
 * non-overlapping chunks taken in memmove order. Confined to the rank's thread.
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
     * the bytes, {@link Communicator#stats()}), peak memory from the allocators, local copies, and the time.
     *
     * @param bytesReceived bytes of sharded parameters received, as the gather group's communicator counted them
     * @param replicatedBytesReceived bytes of replicated parameters received, as the micro-PP communicator counted them
     * @param peakParameterBytes peak of sharded parameter memory held for generation (the generation allocator)
     * @param peakBytes peak of every byte allocated for the transition: the generation buffer plus the collectives'
     *        scratch (the staging of a backend without direct placement), which the engine charges to its own
     *        allocator
     * @param localBytesMoved bytes copied locally: HybridFlow's own fused components moved into place; the baselines'
     *        own training shard copied into the gather buffer
     * @param timeNs wall time of the transition
     */
    public record TransitionStats(long bytesReceived, long replicatedBytesReceived, long peakParameterBytes,
                                  long peakBytes, long localBytesMoved, long timeNs) {
    }

    private final ReshardPlan plan;
    private final RankPlan rankPlan;
    private final DType dtype;
    private final Device device;
    private final Allocator paramAllocator;
    /** Everything allocated for the transition: the generation allocator and the collectives' scratch. */
    private final Allocator transitionAllocator;
    private final Allocator generationAllocator;
    private final Allocator scratchAllocator;
    private final Map<GroupKind, Communicator> comms = new EnumMap<>(GroupKind.class);
    private final boolean resident;
    /** HybridFlow: the generation buffer, which holds the training shard; baselines: the training shard alone. */
    private final Tensor trainingBuffer;
    private final Tensor replicatedBuffer;
    private final Map<String, Tensor> trainingWeights;
    /** Per gather step of the plan: this rank's send views and every member's receive views. */
    private final Map<ReshardStep.Gather, List<Tensor>> sendViews = new IdentityHashMap<>();
    private final Map<ReshardStep.Gather, List<List<Tensor>>> recvViews = new IdentityHashMap<>();
    private Map<String, Tensor> residentGenerationWeights;
    private Tensor gatherBuffer;
    private Map<String, Tensor> generationWeights = Map.of();
    private State state = State.TRAINING;
    private TransitionStats lastStats;
    private boolean closed;

    private HybridEngine(ReshardPlan plan, int rank, Communicator world, Allocator allocator, Device device) {
        this.plan = plan;
        this.device = device;
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
        this.transitionAllocator = allocator.child("hybrid-transition");
        this.generationAllocator = transitionAllocator.child("hybrid-generation");
        this.scratchAllocator = transitionAllocator.child("hybrid-scratch");
        ReshardStep.Gather sharded = rankPlan.sharded();
        ReshardStep.Gather replicated = rankPlan.replicated();
        this.resident = sharded.sendsFromTargets();
        int es = dtype.byteSize();
        this.trainingBuffer = allocateElements(resident ? generationAllocator : paramAllocator,
                resident ? sharded.bufferElements() : rankPlan.trainingParameterBytes() / es);
        this.replicatedBuffer = allocateElements(paramAllocator, replicated.bufferElements());
        Map<String, Tensor> views = new LinkedHashMap<>();
        for (DirectPlacement.OwnParam own : rankPlan.ownSharded()) {
            Shape shape = own.param().shardShape(layout.train().t());
            if (!resident) {
                views.put(own.localName(), trainingBuffer.narrow(0, own.flatBase(), shape.numel()).view(shape));
            } else {
                // fused: the shard sits contiguously at its first component's target (the plan's local moves place
                // the other components); any other kind is its single piece's target view
                Tensor view = targetView(trainingBuffer, own.pieces().getFirst());
                if (own.pieces().size() > 1) {
                    ReshardStep.Piece first = own.pieces().getFirst();
                    view = trainingBuffer.narrow(0, first.dstBase() + first.dstCol(), shape.numel());
                }
                views.put(own.localName(), view.shape().equals(shape) ? view : view.view(shape));
            }
        }
        for (DirectPlacement.OwnParam own : rankPlan.ownReplicated()) {
            views.put(own.localName(), targetView(replicatedBuffer, own.pieces().getFirst())
                    .view(own.param().shape()));
        }
        this.trainingWeights = Collections.unmodifiableMap(views);
        if (resident) {
            bindViews(sharded, trainingBuffer);
            this.residentGenerationWeights = generationViews(trainingBuffer);
        } else {
            sendViews.put(sharded, sourceViews(trainingBuffer, sharded.pieces().get(sharded.own())));
        }
        bindViews(replicated, replicatedBuffer);
    }

    /** Every member's target views over {@code buffer}; this rank sends from its own targets. */
    private void bindViews(ReshardStep.Gather gather, Tensor buffer) {
        List<List<Tensor>> views = new ArrayList<>(gather.pieces().size());
        for (List<ReshardStep.Piece> list : gather.pieces()) {
            List<Tensor> member = new ArrayList<>(list.size());
            for (ReshardStep.Piece piece : list) {
                member.add(targetView(buffer, piece));
            }
            views.add(List.copyOf(member));
        }
        recvViews.put(gather, List.copyOf(views));
        if (gather.sendsFromTargets()) {
            sendViews.put(gather, views.get(gather.own()));
        }
    }

    /**
     * Creates rank {@code rank}'s engine; collective over {@code world} (every rank must call it, in the same order
     * relative to other collectives), since it splits the group communicators.
     *
     * @throws IllegalArgumentException if the world size or rank does not match the plan
     */
    public static HybridEngine create(ReshardPlan plan, int rank, Communicator world, Allocator allocator) {
        return create(plan, rank, world, allocator, Device.host());
    }

    /**
     * Rank {@code rank}'s engine with its buffers (training shard, generation buffer, replicated parameters) on
     * {@code device}, allocated from {@code allocator}: a CUDA device for the cuda-local and nccl backends (the
     * communicator's device), the host for the others; collective over {@code world} like
     * {@link #create(ReshardPlan, int, Communicator, Allocator)}.
     *
     * @throws IllegalArgumentException if the world size or rank does not match the plan
     */
    public static HybridEngine create(ReshardPlan plan, int rank, Communicator world, Allocator allocator,
                                      Device device) {
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(world, "world");
        Objects.requireNonNull(allocator, "allocator");
        Objects.requireNonNull(device, "device");
        if (world.size() != plan.layout().worldSize() || world.rank() != rank) {
            throw new IllegalArgumentException("communicator does not match the plan: size=" + world.size()
                    + ", rank=" + world.rank() + ", expected size=" + plan.layout().worldSize() + ", rank=" + rank);
        }
        return new HybridEngine(plan, rank, world, allocator, device);
    }

    /** The device of the engine's buffers. */
    public Device device() {
        return device;
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
            gatherBuffer = allocateElements(generationAllocator, rankPlan.sharded().bufferElements());
            bindViews(rankPlan.sharded(), gatherBuffer);
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
        if (!device.isHost()) {
            synchronizeDevice(); // the caller's writes into the training views complete before any peer reads them
        }
        int es = dtype.byteSize();
        long local = 0;
        long received = 0;
        long replicatedReceived = 0;
        for (ReshardStep step : rankPlan.steps()) {
            switch (step) {
                case ReshardStep.LocalMoves moves -> local += move(moves) * es;
                case ReshardStep.Gather gather -> {
                    long counted = gatherCounted(communicator(gather.group()), sendViews.get(gather),
                            recvViews.get(gather), scratchAllocator);
                    if (gather.replicated()) {
                        replicatedReceived += counted;
                    } else {
                        received += counted;
                        if (!gather.sendsFromTargets()) {
                            local += gather.sentElements(gather.own()) * es; // the own shard, copied in
                        }
                    }
                }
            }
        }
        generationWeights = resident ? residentGenerationWeights : generationViews(gatherBuffer);
        state = State.GENERATION;
        lastStats = new TransitionStats(received, replicatedReceived, generationAllocator.peakBytes(),
                transitionAllocator.peakBytes(), local, System.nanoTime() - start);
        return generationWeights;
    }

    /** Runs one allGatherv and returns the bytes the communicator counted as received by this rank. */
    private static long gatherCounted(Communicator comm, List<Tensor> send, List<List<Tensor>> recv,
                                      Allocator scratch) {
        CommunicatorStats before = comm.stats();
        comm.allGatherv(send, recv, scratch);
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
        for (ReshardStep step : rankPlan.releaseSteps()) {
            if (step instanceof ReshardStep.LocalMoves moves) {
                move(moves);
            }
        }
        if (!resident) {
            recvViews.remove(rankPlan.sharded());
            gatherBuffer.close();
            gatherBuffer = null;
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

    /** The allocator of everything the transition allocates, scratch included (its peak is {@code peakBytes}). */
    public Allocator transitionAllocator() {
        return transitionAllocator;
    }

    /** Runs a plan's local moves inside the training buffer, in order; returns the elements moved. */
    private long move(ReshardStep.LocalMoves moves) {
        if (device.isHost()) {
            MemorySegment buffer = trainingBuffer.segment();
            int es = dtype.byteSize();
            for (ReshardStep.Move m : moves.moves()) {
                MemorySegment.copy(buffer, m.source() * es, buffer, m.target() * es, m.length() * es);
            }
        } else {
            for (ReshardStep.Move m : moves.moves()) {
                for (long[] chunk : memmoveChunks(m.source(), m.target(), m.length())) {
                    trainingBuffer.narrow(0, chunk[1], chunk[2]).copyFrom(trainingBuffer.narrow(0, chunk[0], chunk[2]));
                }
            }
            synchronizeDevice();
        }
        return moves.elements();
    }

    /**
     * Waits for this device's outstanding copies (device-to-device {@code cudaMemcpy} returns before it completes),
     * so that peers on other devices, whose streams do not order after this device's default stream, read finished
     * bytes.
     */
    private void synchronizeDevice() {
        Cuda.setDevice(device.ordinal());
        Cuda.deviceSynchronize();
    }

    /**
     * A move of {@code length} elements from {@code source} to {@code target} as copies that do not overlap
     * ({@code {source, target, length}} each), in the order that reads every element before it is overwritten:
     * chunks of at most the distance, front to back when moving down, back to front when moving up. One chunk
     * when the ranges are disjoint (device copies of overlapping ranges are undefined, unlike memmove).
     */
    static List<long[]> memmoveChunks(long source, long target, long length) {
        long gap = Math.abs(target - source);
        if (length == 0 || gap == 0) {
            return List.of();
        }
        if (gap >= length) {
            return List.of(new long[] {source, target, length});
        }
        List<long[]> chunks = new ArrayList<>();
        if (target < source) {
            for (long done = 0; done < length; done += gap) {
                long n = Math.min(gap, length - done);
                chunks.add(new long[] {source + done, target + done, n});
            }
        } else {
            for (long end = length; end > 0; end -= gap) {
                long n = Math.min(gap, end);
                chunks.add(new long[] {source + end - n, target + end - n, n});
            }
        }
        return chunks;
    }

    /** The generation weights by name: sharded ones over {@code buffer} from the plan's base, then replicated. */
    private Map<String, Tensor> generationViews(Tensor buffer) {
        int es = dtype.byteSize();
        long base = rankPlan.generationBaseElements();
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (RankPlan.Target target : rankPlan.shardedTargets()) {
            weights.put(target.name(), buffer.narrow(0, base + target.byteOffset() / es, target.shape().numel())
                    .view(target.shape()));
        }
        for (RankPlan.Target target : rankPlan.replicatedTargets()) {
            weights.put(target.name(), replicatedBuffer.narrow(0, target.byteOffset() / es, target.shape().numel())
                    .view(target.shape()));
        }
        return Collections.unmodifiableMap(weights);
    }

    /** The target view of a piece over {@code buffer} (a flat tensor). */
    private static Tensor targetView(Tensor buffer, ReshardStep.Piece piece) {
        return view(buffer, piece.dstBase(), piece.dstCol(), piece.dstStride(), piece.length(), piece.count());
    }

    /** The source views of {@code pieces} over {@code storage} (a flat tensor). */
    private static List<Tensor> sourceViews(Tensor storage, List<ReshardStep.Piece> pieces) {
        List<Tensor> views = new ArrayList<>(pieces.size());
        for (ReshardStep.Piece piece : pieces) {
            views.add(view(storage, piece.srcBase(), piece.srcCol(), piece.srcStride(), piece.length(),
                    piece.count()));
        }
        return List.copyOf(views);
    }

    private static Tensor view(Tensor flat, long base, long col, long stride, long length, long count) {
        if (count == 1) {
            return flat.narrow(0, base + col, length);
        }
        return flat.narrow(0, base, count * stride).view(Shape.of(count, stride)).narrow(1, col, length);
    }

    private Tensor allocateElements(Allocator allocator, long elements) {
        return Tensor.allocate(allocator, dtype, Shape.of(elements), device);
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
        toClose.add(scratchAllocator);
        toClose.add(generationAllocator);
        toClose.add(transitionAllocator);
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
