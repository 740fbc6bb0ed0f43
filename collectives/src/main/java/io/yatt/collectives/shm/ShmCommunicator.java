package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.ShmContext;
import io.yatt.collectives.SharedMemory;
import io.yatt.collectives.internal.CollectiveChecks;
import io.yatt.collectives.internal.CommunicatorBase;
import io.yatt.collectives.internal.TrafficCounters;
import io.yatt.collectives.rendezvous.Rendezvous;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.HostMemory;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The shm backend: one process per rank on one host, moving host tensors through shared memory in /dev/shm.
 *
 * <p>Tensors allocated with {@link #allocate(DType, Shape)} live in this rank's shared region: peers read them in
 * place, so an all-gather copies each byte once (straight from the owner's tensor into the receiver's; for
 * {@link #allGatherv} straight from the owner's views, any strides, into the receiver's views), and reduce-scatter /
 * all-reduce reduce straight from peers' tensors. Other host tensors are staged through the region
 * in pipelined rounds (copy in, peers copy out: two copies). Small all-reduces (up to 40 bytes) travel inline in
 * one cache line per rank. See {@link ShmChannel} for the protocol and {@link ShmCommDescriptor} for the layout.
 *
 * <p>Failures: every call has the context's deadline; a dead peer process is detected from its pid within
 * {@link ShmContext#livenessIntervalNs()} and reported as {@link ShmPeerDeadException} naming the missing ranks;
 * after any failure the communicator is aborted and its shared memory released. Region files are unlinked as soon
 * as every rank has mapped them, so none is left behind even after SIGKILL.
 *
 * <p>Thread-safety: confined to the rank's thread; {@link #abort()} and handles from any thread.
 */
public final class ShmCommunicator extends CommunicatorBase<ShmCommunicator.Call> {
    /** Backend name in messages. */
    public static final String BACKEND = "shm";

    private final ShmChannel channel;
    private final ShmContext context;

    private ShmCommunicator(ShmChannel channel, ShmContext context) {
        super(BACKEND, channel.rank, channel.size);
        this.channel = channel;
        this.context = context;
    }

    /**
     * Sets the deadline of this rank's later calls on this communicator (not its splits). For the multi-process test
     * harness only: a worker warms up under a long deadline, then runs its tasks under the context's.
     */
    void overrideTimeoutNs(long timeoutNs) {
        channel.timeoutNs(timeoutNs);
    }

    /**
     * Creates the world communicator of the ranks joined in {@code rendezvous} (collective: every rank calls it).
     * Sweeps stale regions of dead processes, creates and maps this rank's region, maps every peer's and unlinks the
     * files once all ranks mapped them.
     *
     * @throws io.yatt.collectives.RendezvousException if a rank does not arrive in time
     * @throws IllegalArgumentException if the context is invalid
     */
    public static ShmCommunicator create(Rendezvous rendezvous, ShmContext context) {
        Objects.requireNonNull(rendezvous, "rendezvous");
        context.conclude();
        ShmWorld world = ShmWorld.create(rendezvous, context);
        int[] members = new int[world.size];
        Arrays.setAll(members, i -> i);
        try {
            ShmChannel channel = new ShmChannel(world, 0, members, world.rank, context.stagingBytes());
            return new ShmCommunicator(channel, context);
        } catch (RuntimeException e) {
            world.retain();
            world.release();
            throw e;
        }
    }

    /**
     * Joins the rendezvous described by {@code config} (rank 0 serves the store), creates the world communicator and
     * leaves the rendezvous.
     */
    public static ShmCommunicator create(RendezvousConfig config, ShmContext context) {
        try (Rendezvous rendezvous = Rendezvous.join(config)) {
            ShmCommunicator comm = create(rendezvous, context.localWorldSize() == 0 && !context.isConcluded()
                ? context.localWorldSize(config.localWorldSize()) : context);
            rendezvous.barrier("shm/ready");
            return comm;
        }
    }

    /**
     * Creates the world communicator from a launcher's environment ({@link RendezvousConfig#fromEnvironment}); with
     * {@value ShmLauncher#ENV_EXTERNAL_STORE}{@code =1} (set by {@link ShmLauncher}) every rank connects to the
     * launcher's store, otherwise rank 0 serves it. Local world size comes from the environment, and
     * {@value ShmLauncher#ENV_BOUND_TO_CORES}{@code =1} sets {@link ShmContext#boundToCores(boolean)}.
     *
     * @param env the environment, e.g. {@code System.getenv()} passed by a main method
     */
    public static ShmCommunicator fromEnvironment(Map<String, String> env, ShmContext context) {
        RendezvousConfig config = RendezvousConfig.fromEnvironment(env);
        if (!context.isConcluded() && context.localWorldSize() == 0) {
            context.localWorldSize(config.localWorldSize());
        }
        if (!context.isConcluded() && "1".equals(env.get(ShmLauncher.ENV_BOUND_TO_CORES))) {
            context.boundToCores(true);
        }
        boolean external = "1".equals(env.get(ShmLauncher.ENV_EXTERNAL_STORE));
        try (Rendezvous rendezvous = external ? Rendezvous.connect(config) : Rendezvous.join(config)) {
            ShmCommunicator comm = create(rendezvous, context);
            rendezvous.barrier("shm/ready");
            return comm;
        }
    }

    /** How many times this rank slept on a peer's doorbell in this communicator's calls (tests, diagnostics). */
    long doorbellSleeps() {
        return channel.doorbellSleeps();
    }

    /** The settings. */
    public ShmContext context() {
        return context;
    }

    // ------------------------------------------------------------------ shared-memory tensors

    /**
     * A zeroed tensor in this rank's shared region: collectives read it in place from peers (one copy). Free it with
     * {@link #free(Tensor)} (closing the returned view does not release arena memory); all of them become invalid
     * when the world communicator is closed or aborted.
     *
     * @throws IllegalStateException if the arena has no room ({@link ShmContext#arenaBytes()})
     */
    public Tensor allocate(DType dtype, Shape shape) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        checkUsable();
        long bytes = shape.numel() * dtype.byteSize();
        ShmWorld world = channel.world;
        long offset = world.arena.allocate(bytes);
        MemorySegment segment = world.segs[world.rank].asSlice(offset, bytes);
        segment.fill((byte) 0);
        return Tensor.wrap(segment, dtype, shape);
    }

    /**
     * Returns a tensor from {@link #allocate(DType, Shape)} to the arena.
     *
     * @throws IllegalArgumentException if it was not allocated here
     */
    public void free(Tensor tensor) {
        ShmWorld world = channel.world;
        long address = tensor.dataPointer().address();
        long offset = address - world.bases[world.rank];
        if (world.regionOf(address, Math.max(1, tensor.byteSize())) != world.rank || !world.arena.isAllocated(offset)) {
            throw new IllegalArgumentException("not a shm arena tensor of this rank: address=0x"
                + Long.toHexString(address) + ", rank=" + rank());
        }
        world.arena.free(offset);
    }

    /**
     * A root allocator whose host tensors live in this rank's shared arena, accounted, limited and freed like any
     * allocator's: pass it (or a child) to code that allocates its own tensors, such as the 3D-HybridEngine, and
     * collectives read those tensors and every view of them in place, with no staging copy. Its tensors become
     * invalid when the world communicator is closed or aborted; close them first.
     *
     * @throws IllegalArgumentException if the name is empty or contains '/'
     */
    public Allocator allocator(String name) {
        checkUsable();
        return Allocator.root(name, Allocator.UNLIMITED, new ArenaMemory(channel.world));
    }

    /** Host memory from the world's arena (any alignment up to {@link ShmCommDescriptor#ARENA_ALIGNMENT}). */
    record ArenaMemory(ShmWorld world) implements HostMemory {
        @Override
        public MemorySegment allocate(long byteSize, long alignmentBytes) {
            if (alignmentBytes > ShmCommDescriptor.ARENA_ALIGNMENT
                || ShmCommDescriptor.ARENA_ALIGNMENT % alignmentBytes != 0) {
                throw new IllegalArgumentException("unsupported alignment: alignmentBytes=" + alignmentBytes
                    + ", expected a divisor of " + ShmCommDescriptor.ARENA_ALIGNMENT);
            }
            long offset = world.arena.allocate(byteSize);
            return world.segs[world.rank].asSlice(offset, byteSize).fill((byte) 0);
        }

        @Override
        public void free(MemorySegment segment) {
            if (!world.isReleased()) {
                world.arena.free(segment.address() - world.bases[world.rank]);
            }
        }
    }

    /**
     * This world's shared memory as code outside the collectives reads it (every rank's arena, mapped here); it keeps
     * the mappings valid until it is closed, even after this communicator closes.
     *
     * @throws IllegalStateException if the communicator is closed or aborted
     */
    public SharedMemory sharedMemory() {
        checkUsable();
        return ShmSharedMemory.of(channel.world);
    }

    /** Whether {@code tensor}'s bytes lie in shared memory that peers can read in place. */
    public boolean isShared(Tensor tensor) {
        return tensor.device().isHost() && tensor.byteSize() > 0
            && channel.world.regionOf(tensor.dataPointer().address(), tensor.byteSize()) >= 0;
    }

    /** Bytes of this rank's arena in use (tensors and staging buffers). */
    public long arenaUsedBytes() {
        return channel.world.arena.usedBytes();
    }

    // ------------------------------------------------------------------ collectives

    @Override
    protected void collective(CollectiveKind kind, Tensor send, Tensor recv, long count, ReduceOp op, int root,
                              boolean inPlace) {
        if (kind == CollectiveKind.BARRIER) {
            submit(kind, channel::barrier);
            return;
        }
        MemorySegment s = send.segment();
        MemorySegment r = recv.segment();
        DType dt = send.dtype();
        switch (kind) {
            case ALL_GATHER -> submit(kind, () -> channel.allGather(s, r, count, dt));
            case REDUCE_SCATTER -> submit(kind, () -> channel.reduceScatter(s, r, count, dt, op));
            case ALL_REDUCE -> {
                if (!inGroup()) {
                    drainAsync();
                    channel.counters.call(kind);
                    channel.runAllReduce(s, r, count, dt, op); // latency path: no lambda, no queue
                } else {
                    submit(kind, () -> channel.allReduce(s, r, count, dt, op));
                }
            }
            case BROADCAST -> submit(kind, () -> channel.broadcast(s, r, count, dt, root));
            case REDUCE -> submit(kind, () -> channel.reduce(s, r, count, dt, op, root));
            case ALL_TO_ALL -> submit(kind, () -> channel.allToAll(s, r, count, dt));
            default -> throw new IllegalArgumentException("not a collective: kind=" + kind);
        }
    }

    @Override
    protected void pointToPoint(CollectiveKind kind, Tensor tensor, int peer) {
        boolean isSend = kind == CollectiveKind.SEND;
        String name = kind.opName();
        if (!inGroup() && peer == rank()) {
            throw new IllegalArgumentException(name + " to self outside a group: peer=" + peer + ", rank=" + rank());
        }
        ShmMailbox.P2p op = new ShmMailbox.P2p(isSend, tensor.segment(), tensor.numel(), tensor.dtype(), peer);
        channel.counters.call(isSend ? CollectiveKind.SEND : CollectiveKind.RECV);
        if (queued(new Call(isSend ? CollectiveKind.SEND : CollectiveKind.RECV, null, op))) {
            return;
        }
        channel.run(name, () -> channel.pointToPoint(List.of(op)));
    }

    @Override
    public Optional<Communicator> split(int color, int key) {
        beginSplit();
        channel.counters.call(CollectiveKind.SPLIT);
        ShmChannel[] result = new ShmChannel[1];
        channel.run("split", () -> {
            long next = channel.world.nextChannel();
            long[] all = channel.exchange(CollectiveKind.SPLIT, new long[] {color, key, next});
            int id = 0;
            List<int[]> group = new ArrayList<>(); // {key, rank}
            for (int p = 0; p < size(); p++) {
                id = (int) Math.max(id, all[p * 3 + 2]);
                if (color >= 0 && all[p * 3] == color) {
                    group.add(new int[] {(int) all[p * 3 + 1], p});
                }
            }
            channel.world.useChannel(id);
            if (color < 0) {
                return;
            }
            group.sort(Comparator.<int[]>comparingInt(a -> a[0]).thenComparingInt(a -> a[1]));
            int[] members = new int[group.size()];
            int newRank = -1;
            for (int i = 0; i < members.length; i++) {
                members[i] = channel.members[group.get(i)[1]];
                if (group.get(i)[1] == rank()) {
                    newRank = i;
                }
            }
            result[0] = new ShmChannel(channel.world, id, members, newRank, context.splitStagingBytes());
        });
        return Optional.ofNullable(result[0] == null ? null : new ShmCommunicator(result[0], context));
    }

    @Override
    protected TrafficCounters counters() {
        return channel.counters;
    }

    /**
     * Direct placement: every rank copies each peer's pieces straight from the peer's memory into its receive views
     * (strided copies by contiguous runs), once per byte, as in-process does. Send views in the shm arena
     * ({@link #allocate}) are read in place with no staging at all; other send views are first packed into this
     * rank's staging area (or, when larger, a temporary block: from {@code scratch} when it is an allocator of this
     * world's arena ({@link #allocator}), charged to it, else from the arena), so peers still read them directly. A
     * strided receive view in heap memory is filled through a contiguous block from {@code scratch}. Only when
     * some rank has no arena room for that does the call fall back (on every rank alike) to the default staged path,
     * which then counts its all-gather or send/recv calls too. Works inside a group, where that fallback is not
     * possible and the call fails instead.
     *
     * @throws IllegalArgumentException as {@link Communicator#allGatherv} says, or for a device view
     * @throws IllegalStateException if a view is closed (checked on this rank before anything moves)
     * @throws io.yatt.collectives.CollectiveMismatchException if a peer's pieces do not match this rank's views
     */
    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv, Allocator scratch) {
        checkUsable();
        GatherViews views = checkAllGatherv(send, recv);
        requireOpen("send piece", send);
        for (int q = 0; q < recv.size(); q++) {
            requireOpen("receive view of rank " + q + ", piece", recv.get(q));
        }
        List<Tensor> sendCopy = views.send();
        List<List<Tensor>> recvCopy = views.recv();
        long count = views.total();
        DType dt = views.dtype();
        channel.counters.call(CollectiveKind.ALL_GATHER_V);
        if (queued(new Call(CollectiveKind.ALL_GATHER_V, () -> {
            if (!channel.allGatherv(sendCopy, recvCopy, count, dt, scratch)) {
                throw new IllegalStateException("allGatherv in a group needs shm arena room for the pieces of "
                    + "ranks whose send views are not in the arena: rank=" + rank() + ", elements=" + count);
            }
        }, null))) {
            return;
        }
        boolean[] direct = new boolean[1];
        channel.run(CollectiveKind.ALL_GATHER_V.opName(),
            () -> direct[0] = channel.allGatherv(sendCopy, recvCopy, count, dt, scratch));
        if (!direct[0]) {
            stagedAllGatherv(send, recv, scratch);
        }
    }

    /** Rejects closed views before any round starts, so a bad argument does not abort the communicator. */
    private void requireOpen(String what, List<Tensor> views) {
        for (int i = 0; i < views.size(); i++) {
            if (views.get(i).isClosed()) {
                throw new IllegalStateException("allGatherv view closed: " + what + " " + i + ", rank=" + rank());
            }
        }
    }

    @Override
    protected Throwable fail(Throwable cause) {
        channel.abort(cause);
        return channel.abortCause();
    }

    @Override
    protected Throwable abortCause() {
        return channel.isAborted() ? channel.abortCause() : null;
    }

    /** Frees this channel's staging and drops its reference on the world (the last one unmaps the regions). */
    @Override
    protected void release() {
        channel.release();
    }

    @Override
    public String toString() {
        return "ShmCommunicator{rank=" + rank() + ", size=" + size() + ", channel=" + channel.channel + "}";
    }

    // ------------------------------------------------------------------ execution, groups, async

    /** A queued call: a collective's body, or a point-to-point operation of the group's exchange. */
    record Call(CollectiveKind kind, Runnable collective, ShmMailbox.P2p p2p) {
    }

    @Override
    protected CollectiveKind kindOf(Call call) {
        return call.kind();
    }

    @Override
    protected void requirePlacement(String name, Tensor tensor) {
        CollectiveChecks.requireHost(name, tensor, BACKEND);
    }

    private void submit(CollectiveKind kind, Runnable body) {
        channel.counters.call(kind);
        if (queued(new Call(kind, body, null))) {
            return;
        }
        channel.run(kind.opName(), body);
    }

    /** Point-to-point calls of the group run together first (deadlock-free), then the collectives in order. */
    @Override
    protected void runCalls(List<Call> calls, long opSeq) {
        List<ShmMailbox.P2p> p2p = new ArrayList<>();
        for (Call call : calls) {
            if (call.p2p != null) {
                p2p.add(call.p2p);
            }
        }
        channel.run(describeOps(calls), () -> {
            if (!p2p.isEmpty()) {
                channel.pointToPoint(p2p);
            }
            for (Call call : calls) {
                if (call.collective != null) {
                    call.collective.run();
                }
            }
        });
    }
}
