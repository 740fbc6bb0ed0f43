package io.yatt.collectives.cudalocal;

import io.yatt.collectives.CollectiveException;
import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.internal.AllGatherViews;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.collectives.internal.CommunicatorBase;
import io.yatt.collectives.internal.DeviceCopies;
import io.yatt.collectives.internal.PollBackoff;
import io.yatt.collectives.internal.Resources;
import io.yatt.collectives.internal.TrafficCounters;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaException;
import io.yatt.ffi.cuda.CudaStream;
import io.yatt.ffi.cuda.PinnedHostBuffer;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static io.yatt.collectives.internal.Lifecycle.aborted;
import static io.yatt.collectives.internal.Lifecycle.translateCause;
import static io.yatt.collectives.internal.DeviceTensors.address;
import static io.yatt.collectives.internal.DeviceTensors.requireDevice;

/**
 * One rank of a cuda-local communicator ({@link CudaLocalWorld}): a thread of this JVM whose tensors live on one
 * CUDA device. Data moves on the rank's own CUDA stream; the control plane is an in-process communicator over the
 * same ranks, which supplies the barriers, deadlines, missing-rank reports and point-to-point matching.
 *
 * <p>A collective operation (a single call or a group) goes: post the calls, control barrier, check that every rank
 * posted the same signatures (mismatches are reported with both sides, on every rank), enqueue the device copies
 * (all-gather, broadcast and all-to-all pull each peer's bytes straight into this rank's recv: one copy per byte,
 * {@code cudaMemcpyPeerAsync} across devices; allGatherv pulls each peer's pieces straight into the receiving views,
 * strided ones by {@code cudaMemcpy2DAsync}), wait for the stream with the deadline, and a closing control barrier so
 * that no rank returns while a peer still reads its buffers. Reductions (all-reduce, reduce-scatter, reduce) stage
 * the send buffer to pinned host memory, reduce there with the in-process backend's host kernels (f32 accumulation
 * for f16/bf16, bit-exact, rank order) and copy the result back: correct but host-bound. The next step is a device
 * reduction kernel compiled by nvcc into a cubin resource and launched through the driver API
 * ({@code cuModuleLoadData}/{@code cuLaunchKernel}, bindings still to be written). Point-to-point calls send a
 * descriptor (address, count, dtype, device) over the control plane; the receiver copies and acknowledges.
 *
 * <p>Inputs must be complete when a call starts (written synchronously, or on the legacy default stream, with which
 * the rank's stream synchronizes); outputs are complete when a blocking call returns. A deadline passing, a device
 * error or a mismatch aborts the communicator for every rank: later calls throw {@link CommunicatorAbortedException}
 * whose cause is the first failure. The deadline applies to each wait (control barrier, stream), so one operation
 * fails within a small multiple of it.
 *
 * <p>Confined to its rank's thread (and its own async thread); {@link #abort()} from any thread.
 */
public final class CudaLocalCommunicator extends CommunicatorBase<DeviceCall> {
    static final String BACKEND = "cuda-local";
    private static final long STAGING_ALIGNMENT_BYTES = 64;
    private static final long MIN_STAGING_BYTES = 1 << 16;
    private static final int DESCRIPTOR_LONGS = 4;

    private final CudaLocalShared shared;
    /** Device bytes counted at each peer copy; host bytes of the staged reductions from the control plane. */
    private final TrafficCounters counters = new TrafficCounters();
    private final int device;
    private final Device tensorDevice;
    private final Communicator control;
    private final CudaStream stream;
    private final long timeoutNs;
    private final Arena scratchArena = Arena.ofShared();
    private MemorySegment scratch = MemorySegment.NULL;
    private PinnedHostBuffer staging;
    private long collectiveOps;
    private long splits;
    private boolean released;

    private CudaLocalCommunicator(CudaLocalShared shared, int rank, int device, Communicator control, CudaStream stream) {
        super("cudalocal", rank, shared.size);
        this.shared = shared;
        this.device = device;
        this.tensorDevice = Device.cuda(device);
        this.control = control;
        this.stream = stream;
        this.timeoutNs = shared.context.timeoutNs();
        shared.members[rank] = this;
    }

    /** A rank on {@code device} with its own blocking stream (it synchronizes with the legacy default stream). */
    static CudaLocalCommunicator create(CudaLocalShared shared, int rank, int device, Communicator control) {
        CudaStream stream = CudaStream.create(device);
        return new CudaLocalCommunicator(shared, rank, device, control, stream);
    }

    /** The CUDA device this rank's tensors must live on. */
    public int device() {
        return device;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Operations: checked by CommunicatorBase (before any data moves), then queued in an open group or run now.

    @Override
    protected void collective(CollectiveKind kind, Tensor send, Tensor recv, long count, ReduceOp op, int root,
                              boolean inPlace) {
        if (kind == CollectiveKind.BARRIER) {
            post(new DeviceCall(CollectiveKind.BARRIER, 0, 0, 0, null, null, -1, false, device, 0));
        } else {
            post(call(kind, send, recv, count, op, root, inPlace));
        }
    }


    @Override
    protected void pointToPoint(CollectiveKind kind, Tensor tensor, int peer) {
        boolean isSend = kind == CollectiveKind.SEND;
        pointToPoint(new DeviceCall(kind, isSend ? address(tensor) : 0, isSend ? 0 : address(tensor), tensor.numel(),
                tensor.dtype(), null, peer, false, device, tensor.byteSize()));
    }

    private void pointToPoint(DeviceCall call) {
        if (!inGroup() && call.root() == rank) {
            throw new IllegalArgumentException(call.kind().opName() + " to self outside a group: peer=" + call.root()
                    + ", rank=" + rank);
        }
        post(call);
    }

    private void post(DeviceCall call) {
        counters.call(call.kind());
        if (!queued(call)) {
            execute(List.of(call), nextSeq());
        }
    }

    private DeviceCall call(CollectiveKind kind, Tensor send, Tensor recv, long count, ReduceOp op, int root,
                            boolean inPlace) {
        return new DeviceCall(kind, address(send), address(recv), count, send.dtype(), op, root, inPlace, device,
                send.byteSize());
    }

    @Override
    public Optional<Communicator> split(int color, int key) {
        beginSplit();
        counters.call(CollectiveKind.SPLIT);
        long opSeq = nextSeq();
        long splitNumber = splits++;
        Optional<Communicator> sub;
        try {
            sub = control.split(color, key);
        } catch (RuntimeException e) {
            throw translate(e, "split", opSeq);
        }
        if (sub.isEmpty()) {
            return Optional.empty();
        }
        Communicator subControl = sub.get();
        CudaLocalShared child = shared.splitChild(splitNumber, color, subControl.size());
        try {
            return Optional.of(create(child, subControl.rank(), device, subControl));
        } catch (RuntimeException e) {
            subControl.close();
            throw e;
        }
    }

    /**
     * Direct placement: after the control barrier every rank pulls each peer's pieces straight from the peer's send
     * views into its own receive views, one device copy per block of rows ({@code cudaMemcpy2DAsync} for strided
     * column blocks, {@code cudaMemcpyAsync} for contiguous runs; peer-to-peer across devices). No staging, nothing
     * allocated; also accepted inside a group. Device bytes are counted per piece as it is copied.
     */
    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv) {
        checkUsable();
        GatherViews views = checkAllGatherv(send, recv);
        long sendBytes = 0;
        for (Tensor t : views.send()) {
            sendBytes += t.byteSize();
        }
        post(new DeviceCall(CollectiveKind.ALL_GATHER_V, 0, 0, views.total(), views.dtype(), null, -1, false, device,
                sendBytes, views.send(), views.recv()));
    }

    /** {@link #allGatherv(List, List)}: direct placement needs no scratch, so nothing is charged to {@code scratch}. */
    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv, Allocator scratch) {
        java.util.Objects.requireNonNull(scratch, "scratch");
        allGatherv(send, recv);
    }

    /**
     * Ends the async thread, then frees the stream, staging and scratch memory and the control endpoint; a second
     * call does nothing (the world releases every member after aborting it, closed or not).
     */
    @Override
    protected synchronized void release() {
        if (released) {
            return;
        }
        released = true;
        stopAsyncThread();
        List<AutoCloseable> resources = new ArrayList<>(List.of(control, stream));
        resources.add(staging);
        resources.add(scratchArena);
        staging = null;
        RuntimeException failure = Resources.closeAll(null, resources);
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "CudaLocalCommunicator{rank=" + rank + ", size=" + size + ", device=" + device + "}";
    }

    // ---------------------------------------------------------------------------------------------------------
    // Execution.

    @Override
    protected void runCalls(List<DeviceCall> calls, long opSeq) {
        execute(calls, opSeq);
    }

    private void execute(List<DeviceCall> calls, long opSeq) {
        String opName = describeOps(calls);
        List<DeviceCall> collectives = new ArrayList<>(calls.size());
        List<DeviceCall> p2p = new ArrayList<>();
        for (DeviceCall call : calls) {
            (call.kind().isCollective() ? collectives : p2p).add(call);
        }
        try {
            Cuda.setDevice(device);
            long[][] received = p2p.isEmpty() ? null : exchangeDescriptors(p2p, opName, opSeq);
            boolean peersRead = false;
            long[] stagingOffsets = null;
            if (!collectives.isEmpty()) {
                int parity = (int) (collectiveOps++ & 1);
                shared.posted[rank][parity] = List.copyOf(collectives);
                controlBarrier(opName, opSeq);
                checkMatching(parity);
                checkGathervViews(parity);
                stagingOffsets = stageReductionInputs(collectives);
                for (int i = 0; i < collectives.size(); i++) {
                    peersRead |= enqueueCopies(collectives.get(i), i, parity);
                }
            }
            for (int i = 0; i < p2p.size(); i++) {
                DeviceCall call = p2p.get(i);
                long bytes = call.count() * call.dtype().byteSize();
                if (call.kind() == CollectiveKind.RECV) {
                    long[] sent = received[i];
                    copy(call.recvAddress(), device, sent[0], (int) sent[3], bytes);
                    if (call.root() != rank) {
                        counters.deviceReceived(bytes);
                    }
                } else if (call.root() != rank) {
                    counters.deviceSent(bytes); // the peer copies it in this same operation
                }
            }
            if (hasReduction(collectives)) {
                awaitStream(opName, opSeq);
                reduceOnHost(collectives, stagingOffsets, opName, opSeq);
            }
            awaitStream(opName, opSeq);
            if (peersRead) {
                controlBarrier(opName, opSeq);
            }
            if (!p2p.isEmpty()) {
                acknowledge(p2p, opName, opSeq);
            }
        } catch (CudaException e) {
            CollectiveException failure = new CollectiveException(opName + " failed on the device: op=" + opName
                    + ", seq=" + opSeq + ", rank=" + rank + ", device=" + device + ", error=" + e.getMessage(), e);
            throw failOperation(failure, opName, opSeq, timeoutNs);
        }
    }

    /** Sends every send's descriptor and receives every recv's, in one control group; checks the pairs match. */
    private long[][] exchangeDescriptors(List<DeviceCall> p2p, String opName, long opSeq) {
        MemorySegment descriptors = scratch((long) p2p.size() * DESCRIPTOR_LONGS * Long.BYTES);
        long[][] received = new long[p2p.size()][];
        List<Tensor> views = new ArrayList<>(p2p.size());
        for (int i = 0; i < p2p.size(); i++) {
            DeviceCall call = p2p.get(i);
            MemorySegment slot = descriptors.asSlice((long) i * DESCRIPTOR_LONGS * Long.BYTES,
                    DESCRIPTOR_LONGS * Long.BYTES);
            if (call.kind() == CollectiveKind.SEND) {
                slot.setAtIndex(ValueLayout.JAVA_LONG, 0, call.sendAddress());
                slot.setAtIndex(ValueLayout.JAVA_LONG, 1, call.count());
                slot.setAtIndex(ValueLayout.JAVA_LONG, 2, call.dtype().ordinal());
                slot.setAtIndex(ValueLayout.JAVA_LONG, 3, call.device());
            }
            views.add(Tensor.wrap(slot, DType.I64, Shape.of(DESCRIPTOR_LONGS)));
        }
        runControlGroup(opName, opSeq, () -> {
            for (int i = 0; i < p2p.size(); i++) {
                DeviceCall call = p2p.get(i);
                if (call.kind() == CollectiveKind.SEND) {
                    control.send(views.get(i), call.root());
                } else {
                    control.recv(views.get(i), call.root());
                }
            }
        });
        for (int i = 0; i < p2p.size(); i++) {
            DeviceCall call = p2p.get(i);
            if (call.kind() != CollectiveKind.RECV) {
                continue;
            }
            long[] sent = views.get(i).segment().toArray(ValueLayout.JAVA_LONG);
            received[i] = sent;
            DType sentType = DType.values()[(int) sent[2]];
            if (sent[1] != call.count() || sentType != call.dtype()) {
                String send = CallSignature.describe(CollectiveKind.SEND, sent[1], sentType, null, rank);
                String recv = CallSignature.describe(CollectiveKind.RECV, call.count(), call.dtype(), null, call.root());
                String message = call.root() < rank ? CallSignature.mismatchMessage(call.root(), send, rank, recv)
                        : CallSignature.mismatchMessage(rank, recv, call.root(), send);
                throw failOperation(new CollectiveMismatchException(message), opName, opSeq, timeoutNs);
            }
        }
        return received;
    }

    /** After the copies: every receiver tells its sender it is done, in one control group. */
    private void acknowledge(List<DeviceCall> p2p, String opName, long opSeq) {
        MemorySegment acks = scratch((long) p2p.size() * Long.BYTES);
        runControlGroup(opName, opSeq, () -> {
            for (int i = 0; i < p2p.size(); i++) {
                DeviceCall call = p2p.get(i);
                Tensor ack = Tensor.wrap(acks.asSlice((long) i * Long.BYTES, Long.BYTES), DType.I64, Shape.of(1));
                if (call.kind() == CollectiveKind.RECV) {
                    control.send(ack, call.root());
                } else {
                    control.recv(ack, call.root());
                }
            }
        });
    }

    private void runControlGroup(String opName, long opSeq, Runnable calls) {
        try {
            CollectiveGroup group = control.group();
            try {
                calls.run();
            } catch (RuntimeException e) {
                group.submit();
                throw e;
            }
            group.close();
        } catch (RuntimeException e) {
            throw translate(e, opName, opSeq);
        }
    }

    /** Every rank compares every rank's calls with rank 0's, so all of them reach the same verdict. */
    private void checkMatching(int parity) {
        List<DeviceCall> first = shared.posted[0][parity];
        for (int q = 1; q < size; q++) {
            List<DeviceCall> other = shared.posted[q][parity];
            boolean same = other.size() == first.size();
            for (int i = 0; same && i < first.size(); i++) {
                same = first.get(i).sameSignature(other.get(i));
            }
            if (!same) {
                CollectiveMismatchException mismatch = new CollectiveMismatchException(
                        CallSignature.mismatchMessage(0, describeCalls(first), q, describeCalls(other)));
                fail(mismatch);
                throw mismatch;
            }
        }
    }

    /** Enqueues the device-to-host copies of every reduction's send buffer; returns each call's staging offset. */
    private long[] stageReductionInputs(List<DeviceCall> collectives) {
        long[] offsets = new long[collectives.size()];
        long total = 0;
        for (int i = 0; i < collectives.size(); i++) {
            DeviceCall call = collectives.get(i);
            offsets[i] = total;
            if (call.isReduction()) {
                total += align(call.sendByteSize());
            }
        }
        if (!hasReduction(collectives)) {
            return offsets;
        }
        MemorySegment host = staging(Math.max(total, 1));
        for (int i = 0; i < collectives.size(); i++) {
            DeviceCall call = collectives.get(i);
            if (call.isReduction() && call.sendByteSize() > 0) {
                Cuda.memcpyAsync(host.asSlice(offsets[i], call.sendByteSize()), pointer(call.sendAddress()),
                        call.sendByteSize(), stream);
            }
        }
        return offsets;
    }

    /** Reduces the staged inputs with the in-process control plane, then enqueues the copies back to the device. */
    private void reduceOnHost(List<DeviceCall> collectives, long[] offsets, String opName, long opSeq) {
        MemorySegment host = staging.segment();
        for (int i = 0; i < collectives.size(); i++) {
            DeviceCall call = collectives.get(i);
            if (!call.isReduction()) {
                continue;
            }
            long elementBytes = call.dtype().byteSize();
            MemorySegment stage = host.asSlice(offsets[i], call.sendByteSize());
            Tensor staged = Tensor.wrap(stage, call.dtype(), Shape.of(call.sendByteSize() / elementBytes));
            long resultOffset = 0;
            boolean writeBack = true;
            CommunicatorStats before = control.stats();
            try {
                switch (call.kind()) {
                    case ALL_REDUCE -> control.allReduce(staged, call.op());
                    case REDUCE_SCATTER -> {
                        resultOffset = rank * call.count() * elementBytes;
                        control.reduceScatter(staged, staged.narrow(0, rank * call.count(), call.count()), call.op());
                    }
                    case REDUCE -> {
                        control.reduce(staged, staged, call.op(), call.root());
                        writeBack = rank == call.root();
                    }
                    default -> throw new IllegalStateException("unreachable: kind=" + call.kind());
                }
            } catch (RuntimeException e) {
                throw translate(e, opName, opSeq);
            }
            CommunicatorStats reduced = control.stats().minus(before);
            counters.received(reduced.bytesReceived());
            counters.sent(reduced.bytesSent());
            long resultBytes = call.kind() == CollectiveKind.REDUCE_SCATTER ? call.count() * elementBytes
                    : call.sendByteSize();
            if (writeBack && resultBytes > 0) {
                Cuda.memcpyAsync(pointer(call.recvAddress()), stage.asSlice(resultOffset, resultBytes), resultBytes,
                        stream);
            }
        }
    }

    /** Enqueues the pure device copies of one collective; returns whether they read a peer's buffer. */
    private boolean enqueueCopies(DeviceCall call, int index, int parity) {
        long elementBytes = call.dtype() == null ? 0 : call.dtype().byteSize();
        switch (call.kind()) {
            case ALL_GATHER -> {
                long chunk = call.count() * elementBytes;
                for (int k = 1; k <= size; k++) {
                    int q = (rank + k) % size;
                    if (q != rank || !call.inPlace()) {
                        DeviceCall peer = posted(q, parity, index);
                        copy(call.recvAddress() + q * chunk, device, peer.sendAddress(), peer.device(), chunk);
                    }
                    if (q != rank) {
                        counters.deviceReceived(chunk);
                        counters.deviceSent(chunk); // peer q copies this rank's chunk in the same operation
                    }
                }
                return size > 1;
            }
            case BROADCAST -> {
                long bytes = call.count() * elementBytes;
                if (rank != call.root()) {
                    DeviceCall root = posted(call.root(), parity, index);
                    copy(call.recvAddress(), device, root.sendAddress(), root.device(), bytes);
                    counters.deviceReceived(bytes);
                } else {
                    if (!call.inPlace()) {
                        copy(call.recvAddress(), device, call.sendAddress(), device, bytes);
                    }
                    counters.deviceSent((size - 1) * bytes); // every peer copies it in the same operation
                }
                return size > 1;
            }
            case ALL_TO_ALL -> {
                long chunk = call.count() / size * elementBytes;
                for (int k = 1; k <= size; k++) {
                    int q = (rank + k) % size;
                    DeviceCall peer = posted(q, parity, index);
                    copy(call.recvAddress() + q * chunk, device, peer.sendAddress() + rank * chunk, peer.device(),
                            chunk);
                    if (q != rank) {
                        counters.deviceReceived(chunk);
                        counters.deviceSent(chunk);
                    }
                }
                return size > 1;
            }
            case ALL_GATHER_V -> {
                long received = 0;
                for (int k = 1; k <= size; k++) {
                    int q = (rank + k) % size;
                    List<Tensor> from = q == rank ? call.sendViews() : posted(q, parity, index).sendViews();
                    List<Tensor> into = call.recvViews().get(q);
                    for (int i = 0; i < into.size(); i++) {
                        Tensor src = from.get(i);
                        Tensor dst = into.get(i);
                        if (q != rank || !AllGatherViews.sameView(src, dst)) {
                            long bytes = DeviceCopies.copy(dst, src, stream);
                            if (q != rank) {
                                received += bytes;
                            }
                        }
                    }
                }
                counters.deviceReceived(received);
                counters.deviceSent((size - 1) * call.sendByteSize()); // every peer copies all of this rank's pieces
                return size > 1;
            }
            default -> {
                return false;
            }
        }
    }

    /**
     * Every rank checks every (sender, receiver) pair of each allGatherv against the posted views, so all of them
     * reach the same verdict before any byte moves: piece counts, then dtype and shape piece for piece.
     */
    private void checkGathervViews(int parity) {
        List<DeviceCall> mine = shared.posted[rank][parity];
        for (int index = 0; index < mine.size(); index++) {
            if (mine.get(index).kind() != CollectiveKind.ALL_GATHER_V) {
                continue;
            }
            for (int r = 0; r < size; r++) {
                DeviceCall receiver = posted(r, parity, index);
                for (int q = 0; q < size; q++) {
                    List<Tensor> from = posted(q, parity, index).sendViews();
                    List<Tensor> into = receiver.recvViews().get(q);
                    if (from.size() != into.size()) {
                        throw gathervMismatch(q, r, "pieces", from.size(), into.size());
                    }
                    for (int i = 0; i < into.size(); i++) {
                        Tensor src = from.get(i);
                        Tensor dst = into.get(i);
                        if (!src.shape().equals(dst.shape()) || src.dtype() != dst.dtype()) {
                            throw gathervMismatch(q, r, "piece " + i, src.dtype() + src.shape().toString(),
                                    dst.dtype() + dst.shape().toString());
                        }
                    }
                }
            }
        }
    }

    private CollectiveMismatchException gathervMismatch(int sender, int receiver, String what, Object sent,
                                                        Object expected) {
        CollectiveMismatchException mismatch = new CollectiveMismatchException("allGatherv views do not match: "
                + what + ", rank " + sender + " sends " + sent + ", rank " + receiver + " receives " + expected);
        Throwable inForce = fail(mismatch);
        return inForce == mismatch ? mismatch : new CollectiveMismatchException(inForce.getMessage(), inForce);
    }

    /** Peer {@code q}'s call at position {@code index} of its posted operation (signatures already match). */
    private DeviceCall posted(int q, int parity, int index) {
        return shared.posted[q][parity].get(index);
    }

    private void copy(long dstAddress, int dstDevice, long srcAddress, int srcDevice, long byteSize) {
        if (byteSize == 0) {
            return;
        }
        if (dstDevice == srcDevice) {
            Cuda.memcpyAsync(pointer(dstAddress), pointer(srcAddress), byteSize, stream);
        } else {
            Cuda.memcpyPeerAsync(pointer(dstAddress), dstDevice, pointer(srcAddress), srcDevice, byteSize, stream);
        }
    }

    private static boolean hasReduction(List<DeviceCall> calls) {
        for (DeviceCall call : calls) {
            if (call.isReduction()) {
                return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Waiting, failures and translation of control-plane failures into this communicator's terms.

    private void controlBarrier(String opName, long opSeq) {
        try {
            control.barrier();
        } catch (RuntimeException e) {
            throw translate(e, opName, opSeq);
        }
    }

    /** Polls the stream until its work is done; throws on abort, device error or deadline. */
    private void awaitStream(String opName, long opSeq) {
        long deadline = System.nanoTime() + timeoutNs;
        PollBackoff backoff = PollBackoff.start();
        while (!stream.query()) {
            Throwable cause = shared.abortCause.get();
            if (cause != null) {
                throw translateCause(cause, opName, opSeq, timeoutNs, rank, size);
            }
            if (System.nanoTime() - deadline > 0) {
                CollectiveTimeoutException timeout = new CollectiveTimeoutException(opName, opSeq, List.of(), timeoutNs,
                        new CollectiveException("device work did not finish: rank=" + rank + ", device=" + device
                                + ", stream=" + stream));
                throw failOperation(timeout, opName, opSeq, timeoutNs);
            }
            backoff.pause();
        }
    }

    /** Records the failure for every rank and aborts the control plane, which wakes every waiting rank. */
    @Override
    protected Throwable fail(Throwable cause) {
        Throwable inForce = shared.fail(cause);
        try {
            control.abort();
        } catch (RuntimeException e) {
            inForce.addSuppressed(e);
        }
        return inForce;
    }

    /** A failure of the control plane, restated as this operation's failure. */
    private RuntimeException translate(RuntimeException e, String opName, long opSeq) {
        Throwable recorded = shared.abortCause.get();
        if (recorded == null) {
            Throwable mine = switch (e) {
                case CollectiveTimeoutException t -> new CollectiveTimeoutException(opName, opSeq, t.missingRanks(),
                        timeoutNs, t);
                case CollectiveMismatchException m -> new CollectiveMismatchException(m.getMessage(), m);
                default -> e;
            };
            recorded = fail(mine);
            if (recorded == mine) {
                return mine instanceof CommunicatorAbortedException || mine instanceof CollectiveTimeoutException
                        || mine instanceof CollectiveMismatchException ? (RuntimeException) mine
                        : aborted(rank, size, mine);
            }
        }
        return translateCause(recorded, opName, opSeq, timeoutNs, rank, size);
    }

    @Override
    protected Throwable abortCause() {
        return shared.abortCause.get();
    }

    @Override
    protected void requirePlacement(String name, Tensor tensor) {
        requireDevice(BACKEND, name, tensor, device);
    }

    @Override
    protected TrafficCounters counters() {
        return counters;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers.

    private static MemorySegment pointer(long address) {
        return MemorySegment.ofAddress(address);
    }

    private static long align(long byteSize) {
        return (byteSize + STAGING_ALIGNMENT_BYTES - 1) / STAGING_ALIGNMENT_BYTES * STAGING_ALIGNMENT_BYTES;
    }

    /** Pinned host staging of at least {@code byteSize}, grown geometrically. */
    private MemorySegment staging(long byteSize) {
        if (staging == null || staging.byteSize() < byteSize) {
            long grown = Math.max(Math.max(byteSize, MIN_STAGING_BYTES), staging == null ? 0 : staging.byteSize() * 2);
            if (staging != null) {
                staging.close();
                staging = null;
            }
            staging = PinnedHostBuffer.allocate(grown);
        }
        return staging.segment();
    }

    /** Native scratch readable by the peers' threads (control-plane descriptors), grown as needed. */
    private MemorySegment scratch(long byteSize) {
        if (scratch.byteSize() < byteSize) {
            scratch = scratchArena.allocate(Math.max(byteSize, 256), Long.BYTES);
        }
        return scratch.asSlice(0, byteSize);
    }

    private static String describeCalls(List<DeviceCall> calls) {
        List<String> described = new ArrayList<>(calls.size());
        for (DeviceCall call : calls) {
            described.add(call.describe());
        }
        return CallSignature.describeGroup(described);
    }

    @Override
    protected CollectiveKind kindOf(DeviceCall call) {
        return call.kind();
    }
}
