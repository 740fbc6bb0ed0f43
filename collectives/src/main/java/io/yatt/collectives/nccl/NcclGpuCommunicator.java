package io.yatt.collectives.nccl;

import io.yatt.collectives.CollectiveException;
import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.internal.AllGatherViews;
import io.yatt.collectives.internal.CallSignature;
import io.yatt.collectives.internal.CommunicatorBase;
import io.yatt.collectives.internal.DeviceCopies;
import io.yatt.collectives.internal.PendingHandle;
import io.yatt.collectives.internal.PollBackoff;
import io.yatt.collectives.internal.Resources;
import io.yatt.collectives.internal.TrafficCounters;
import io.yatt.collectives.rendezvous.Rendezvous;
import io.yatt.ffi.LibraryNotFoundException;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaEvent;
import io.yatt.ffi.cuda.CudaException;
import io.yatt.ffi.cuda.CudaStream;
import io.yatt.ffi.cuda.DeviceBuffer;
import io.yatt.ffi.cuda.PinnedHostBuffer;
import io.yatt.ffi.nccl.Nccl;
import io.yatt.ffi.nccl.NcclCommunicator;
import io.yatt.ffi.nccl.NcclDataType;
import io.yatt.ffi.nccl.NcclException;
import io.yatt.ffi.nccl.NcclRedOp;
import io.yatt.ffi.nccl.NcclResult;
import io.yatt.ffi.nccl.NcclUniqueId;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import static io.yatt.collectives.internal.Lifecycle.translateCause;
import static io.yatt.collectives.internal.DeviceTensors.address;
import static io.yatt.collectives.internal.DeviceTensors.requireDevice;

/**
 * One rank of an NCCL communicator: one GPU per rank (one process per rank, or one thread per rank with distinct
 * devices). Bootstrapped from an NCCL unique id, which {@link #create(Rendezvous, int, Communicator.Context)}
 * exchanges through the rendezvous store; NCCL is initialized non-blocking with the context's deadline.
 *
 * <p>Every call is enqueued on this rank's CUDA stream (blocking kind: it synchronizes with the legacy default stream,
 * so inputs written there or synchronously are ready), then completion is awaited by polling an event and
 * {@code ncclCommGetAsyncError} until the deadline. On a deadline, an NCCL or CUDA error, a debug-mode mismatch or
 * {@link #abort()}, the NCCL communicator is aborted ({@code ncclCommAbort}) and every later call throws
 * {@link CommunicatorAbortedException} whose cause is the first failure. Timeouts name the operation, and the peer for
 * point-to-point calls; which ranks stalled a collective NCCL does not tell, so those list none. Groups map to
 * {@code ncclGroupStart}/{@code ncclGroupEnd}, {@link #split} to {@code ncclCommSplit}, {@link ReduceOp#AVG} to
 * {@code ncclAvg}; all-to-all is a group of sends and receives; barrier is a one-element all-reduce. With
 * {@link Communicator.Context#debugChecks()} every collective first all-gathers the call signatures (up to
 * {@value #MAX_CHECKED_CALLS} calls of a group) and reports mismatches with both sides; point-to-point mismatches are
 * not detected. Note that NCCL reduces f16/bf16 in the element type, not in f32 as {@link ReduceOp} specifies, so
 * half-precision reductions over several ranks may differ in the last bit from the other backends.
 *
 * <p>Confined to its rank's thread; {@link #abort()} and handles from any thread.
 */
public final class NcclGpuCommunicator extends CommunicatorBase<NcclCall> {
    /** The backend's name in messages. */
    public static final String BACKEND = "nccl";
    /** The rendezvous key under which rank 0 publishes the NCCL unique id. */
    public static final String UNIQUE_ID_KEY = "yatt.nccl.unique-id";
    /** Calls of one group whose signatures the debug check compares. */
    public static final int MAX_CHECKED_CALLS = 8;

    private static final int SIGNATURE_FIELDS = 5;
    static final int SIGNATURE_LONGS = 2 + MAX_CHECKED_CALLS * SIGNATURE_FIELDS;
    /** Alignment of each allGatherv scratch slot (NCCL and the copy engines prefer aligned buffers). */
    private static final long SCRATCH_ALIGNMENT_BYTES = 256;

    private final NcclCommunicator comm;
    /** Device bytes of each call, counted where it is handed to NCCL. */
    private final TrafficCounters counters = new TrafficCounters();
    private final int device;
    private final Communicator.Context context;
    private final long timeoutNs;
    private final CudaStream stream;
    private final CudaEvent done;
    private final DeviceBuffer scratch;
    private final PinnedHostBuffer hostScratch;
    private final AtomicReference<Throwable> abortCause = new AtomicReference<>();

    private NcclGpuCommunicator(NcclCommunicator comm, int device, Communicator.Context context, CudaStream stream,
                                CudaEvent done, DeviceBuffer scratch, PinnedHostBuffer hostScratch) {
        super(BACKEND, comm.rank(), comm.nRanks());
        this.comm = comm;
        this.device = device;
        this.context = context;
        this.timeoutNs = context.timeoutNs();
        this.stream = stream;
        this.done = done;
        this.scratch = scratch;
        this.hostScratch = hostScratch;
    }

    /**
     * Joins an NCCL communicator of {@code nRanks} ranks as {@code rank} on {@code device}; every rank passes the same
     * id (rank 0 makes it with {@link Nccl#uniqueId()}). The context is concluded here; its deadline bounds the
     * initialization and every later call.
     *
     * @throws IllegalStateException if there is no CUDA device or no NCCL library
     * @throws IllegalArgumentException for a device out of range, a bad rank or rank count, an invalid context
     * @throws CollectiveTimeoutException if the other ranks do not join within the deadline
     * @throws CollectiveException if NCCL fails to initialize
     */
    public static NcclGpuCommunicator create(int device, int nRanks, int rank, NcclUniqueId id,
                                             Communicator.Context context) {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(context, "context");
        requireEnvironment(device);
        context.conclude();
        Cuda.setDevice(device);
        NcclCommunicator comm;
        try {
            comm = NcclCommunicator.init(nRanks, id, rank, context.timeoutNs());
        } catch (NcclException e) {
            if (e.result() == NcclResult.ncclTimeout) {
                throw new CollectiveTimeoutException("init", 0, List.of(), context.timeoutNs(), e);
            }
            throw new CollectiveException("nccl init failed: rank=" + rank + ", nRanks=" + nRanks + ", device=" + device
                    + ", error=" + e.getMessage(), e);
        }
        return wrap(comm, device, context);
    }

    /**
     * Joins an NCCL communicator over the ranks of {@code rendezvous}: rank 0 makes the unique id and publishes it
     * under {@value #UNIQUE_ID_KEY}; every rank initializes on {@code device}, then the ranks meet once more.
     *
     * @throws IllegalStateException if there is no CUDA device or no NCCL library
     * @throws io.yatt.collectives.RendezvousException if the id exchange times out, naming missing ranks
     * @see #create(int, int, int, NcclUniqueId, Communicator.Context)
     */
    public static NcclGpuCommunicator create(Rendezvous rendezvous, int device, Communicator.Context context) {
        Objects.requireNonNull(rendezvous, "rendezvous");
        requireEnvironment(device);
        byte[] mine = rendezvous.rank() == 0 ? Nccl.uniqueId().bytes() : new byte[0];
        NcclUniqueId id = new NcclUniqueId(rendezvous.broadcast(UNIQUE_ID_KEY, mine, 0));
        NcclGpuCommunicator communicator = create(device, rendezvous.worldSize(), rendezvous.rank(), id, context);
        try {
            rendezvous.barrier(UNIQUE_ID_KEY + ".joined");
        } catch (RuntimeException e) {
            communicator.abort();
            communicator.close();
            throw e;
        }
        return communicator;
    }

    /**
     * Joins the job described by {@code config} (torchrun, Slurm or Open MPI variables, or programmatic): connects to
     * the rendezvous store (rank 0 serves it), uses device {@code config.localRank()}, and leaves the store once the
     * communicator is up.
     *
     * @see #create(Rendezvous, int, Communicator.Context)
     */
    public static NcclGpuCommunicator create(RendezvousConfig config, Communicator.Context context) {
        Objects.requireNonNull(config, "config");
        requireEnvironment(config.localRank());
        try (Rendezvous rendezvous = Rendezvous.join(config)) {
            return create(rendezvous, config.localRank(), context);
        }
    }

    /**
     * Checks that the device exists and NCCL is loadable.
     *
     * @throws IllegalStateException {@code nccl backend needs a CUDA device: deviceCount=0, status=...} or
     *         {@code nccl backend needs the NCCL library: ...}
     * @throws IllegalArgumentException {@code device out of range: device=1, deviceCount=1}
     */
    public static void requireEnvironment(int device) {
        int deviceCount = Cuda.deviceCount();
        if (deviceCount == 0) {
            throw new IllegalStateException("nccl backend needs a CUDA device: deviceCount=0, status="
                    + Cuda.status().message());
        }
        if (device < 0 || device >= deviceCount) {
            throw new IllegalArgumentException("device out of range: device=" + device + ", deviceCount=" + deviceCount);
        }
        try {
            Nccl.libraryPath();
        } catch (LibraryNotFoundException e) {
            throw new IllegalStateException("nccl backend needs the NCCL library: " + e.getMessage(), e);
        }
    }

    private static NcclGpuCommunicator wrap(NcclCommunicator comm, int device, Communicator.Context context) {
        List<AutoCloseable> made = new ArrayList<>();
        try {
            CudaStream stream = CudaStream.create(device);
            made.add(stream);
            CudaEvent done = CudaEvent.create(device);
            made.add(done);
            long scratchBytes = (long) comm.nRanks() * SIGNATURE_LONGS * Long.BYTES;
            DeviceBuffer scratch = DeviceBuffer.allocate(device, scratchBytes);
            made.add(scratch);
            PinnedHostBuffer hostScratch = PinnedHostBuffer.allocate(scratchBytes);
            made.add(hostScratch);
            return new NcclGpuCommunicator(comm, device, context, stream, done, scratch, hostScratch);
        } catch (RuntimeException e) {
            if (!comm.isAborted()) {
                try {
                    comm.abort();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw Resources.closeAll(e, made.reversed());
        }
    }

    /** The CUDA device of this rank. */
    public int device() {
        return device;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Operations: checked by CommunicatorBase (before any data moves), then queued in an open group or run now.

    @Override
    protected void collective(CollectiveKind kind, Tensor send, Tensor recv, long count, ReduceOp op, int root,
                              boolean inPlace) {
        if (kind == CollectiveKind.BARRIER) {
            post(new NcclCall(CollectiveKind.BARRIER, 0, 0, 0, null, null, -1));
        } else {
            post(call(kind, send, recv, count, op, root));
        }
    }


    @Override
    protected void pointToPoint(CollectiveKind kind, Tensor tensor, int peer) {
        boolean isSend = kind == CollectiveKind.SEND;
        pointToPoint(new NcclCall(kind, isSend ? address(tensor) : 0, isSend ? 0 : address(tensor), tensor.numel(),
                tensor.dtype(), null, peer));
    }

    private void pointToPoint(NcclCall call) {
        if (!inGroup() && call.root() == rank) {
            throw new IllegalArgumentException(call.kind().opName() + " to self outside a group: peer=" + call.root()
                    + ", rank=" + rank);
        }
        post(call);
    }

    private void post(NcclCall call) {
        if (!queued(call)) {
            runCalls(List.of(call), nextSeq());
        }
    }

    private static NcclCall call(CollectiveKind kind, Tensor send, Tensor recv, long count, ReduceOp op, int root) {
        return new NcclCall(kind, address(send), address(recv), count, send.dtype(), op, root);
    }

    @Override
    public Optional<Communicator> split(int color, int key) {
        beginSplit();
        counters.call(CollectiveKind.SPLIT);
        long opSeq = nextSeq();
        NcclCommunicator child;
        try {
            Cuda.setDevice(device);
            child = comm.split(color < 0 ? NcclCommunicator.NO_COLOR : color, key);
        } catch (NcclException | CudaException e) {
            throw failed("split", opSeq, e);
        }
        if (child == null) {
            return Optional.empty();
        }
        return Optional.of(wrap(child, device, context));
    }

    /**
     * Direct placement over grouped point-to-point: in one {@code ncclGroupStart}/{@code ncclGroupEnd} this rank
     * sends each of its pieces to every peer and receives each peer's pieces, straight into the receiving view where
     * it is contiguous, otherwise into a contiguous slot of device scratch (allocated from {@code scratch} on this
     * rank's device, so the caller's accounting sees it) that one {@code cudaMemcpy2DAsync} per block of rows then
     * places into the strided view. A strided send piece is first packed into scratch the same way. This rank's own
     * pieces move by a device copy unless they are in place. No host staging; device bytes are counted per piece. It
     * runs at once and must not be called inside an open group. A peer posting other pieces (same total) is not
     * detected: NCCL then waits until the deadline.
     *
     * @throws IllegalStateException if a group is open
     */
    @Override
    public void allGatherv(List<Tensor> send, List<List<Tensor>> recv, Allocator scratch) {
        checkUsable();
        Objects.requireNonNull(scratch, "scratch");
        long[] totals = AllGatherViews.validate(send, recv, rank, size);
        if (inGroup()) {
            throw new IllegalStateException("allGatherv cannot run inside an open group: backend=" + BACKEND
                    + ", rank=" + rank);
        }
        DType dtype = null;
        long total = 0;
        for (int q = 0; q < size; q++) {
            for (Tensor t : recv.get(q)) {
                requireDevice(BACKEND, "recv", t, device);
                dtype = t.dtype();
            }
            total += totals[q];
        }
        long sendBytes = 0;
        for (Tensor t : send) {
            requireDevice(BACKEND, "send", t, device);
            dtype = t.dtype();
            sendBytes += t.byteSize();
        }
        counters.call(CollectiveKind.ALL_GATHER_V);
        drainAsync();
        long opSeq = nextSeq();
        String opName = CollectiveKind.ALL_GATHER_V.opName();
        if (total == 0) {
            return;
        }
        // scratch slots: strided send pieces (packed once, sent to every peer) and strided peer receive views
        long[] sendSlot = new long[send.size()];
        long scratchBytes = 0;
        for (int k = 0; k < send.size(); k++) {
            Tensor piece = send.get(k);
            sendSlot[k] = -1;
            if (size > 1 && !piece.isContiguous() && piece.byteSize() > 0) {
                sendSlot[k] = scratchBytes;
                scratchBytes += align(piece.byteSize());
            }
        }
        long[][] recvSlot = new long[size][];
        for (int q = 0; q < size; q++) {
            List<Tensor> into = recv.get(q);
            recvSlot[q] = new long[into.size()];
            for (int k = 0; k < into.size(); k++) {
                Tensor view = into.get(k);
                recvSlot[q][k] = -1;
                if (q != rank && !view.isContiguous() && view.byteSize() > 0) {
                    recvSlot[q][k] = scratchBytes;
                    scratchBytes += align(view.byteSize());
                }
            }
        }
        Tensor staging = null;
        try {
            Cuda.setDevice(device);
            if (context.debugChecks() && size > 1) {
                checkSignatures(List.of(new NcclCall(CollectiveKind.ALL_GATHER_V, 0, 0, total, dtype, null, -1)),
                        opName, opSeq);
            }
            long base = 0;
            if (scratchBytes > 0) {
                staging = Tensor.allocate(scratch, DType.U8, io.yatt.tensor.Shape.of(scratchBytes), stream);
                base = staging.dataPointer().address();
            }
            for (int k = 0; k < send.size(); k++) {
                if (sendSlot[k] >= 0) {
                    copyToContiguous(base + sendSlot[k], send.get(k));
                }
            }
            NcclDataType type = dtype.ncclDataType();
            long received = 0;
            if (size > 1) {
                NcclCommunicator.groupStart();
                try {
                    for (int k = 1; k < size; k++) {
                        int to = (rank + k) % size;
                        int from = (rank - k + size) % size;
                        for (int i = 0; i < send.size(); i++) {
                            Tensor piece = send.get(i);
                            if (piece.numel() > 0) {
                                long at = sendSlot[i] >= 0 ? base + sendSlot[i] : piece.dataPointer().address();
                                comm.send(MemorySegment.ofAddress(at), piece.numel(), type, to, stream);
                            }
                        }
                        List<Tensor> into = recv.get(from);
                        for (int i = 0; i < into.size(); i++) {
                            Tensor view = into.get(i);
                            if (view.numel() > 0) {
                                long at = recvSlot[from][i] >= 0 ? base + recvSlot[from][i]
                                        : view.dataPointer().address();
                                comm.recv(MemorySegment.ofAddress(at), view.numel(), type, from, stream);
                                received += view.byteSize();
                            }
                        }
                    }
                } finally {
                    NcclCommunicator.groupEnd();
                }
            }
            for (int q = 0; q < size; q++) {
                List<Tensor> into = recv.get(q);
                for (int i = 0; i < into.size(); i++) {
                    Tensor view = into.get(i);
                    if (q == rank) {
                        if (!AllGatherViews.sameView(send.get(i), view)) {
                            DeviceCopies.copy(view, send.get(i), stream);
                        }
                    } else if (recvSlot[q][i] >= 0) {
                        copyFromContiguous(view, base + recvSlot[q][i]);
                    }
                }
            }
            counters.deviceReceived(received);
            counters.deviceSent((size - 1) * sendBytes);
            if (staging != null) {
                staging.recordStream(stream);
            }
            done.record(stream);
        } catch (NcclException | CudaException e) {
            throw failed(opName, opSeq, e);
        } finally {
            if (staging != null) {
                staging.close();
            }
        }
        awaitDone(opName, opSeq, List.of());
    }

    private static long align(long byteSize) {
        return (byteSize + SCRATCH_ALIGNMENT_BYTES - 1) / SCRATCH_ALIGNMENT_BYTES * SCRATCH_ALIGNMENT_BYTES;
    }

    /** Enqueues the packing of a strided view into contiguous device memory at {@code address}. */
    private void copyToContiguous(long address, Tensor view) {
        int es = view.dtype().byteSize();
        DeviceCopies.copy(address, contiguousByteStrides(view.shape().dims(), es), view.dataPointer().address(),
                DeviceCopies.byteStrides(view.strides(), es), view.shape().dims(), es, stream);
    }

    /** Enqueues the placing of contiguous device memory at {@code address} into a strided view. */
    private void copyFromContiguous(Tensor view, long address) {
        int es = view.dtype().byteSize();
        DeviceCopies.copy(view.dataPointer().address(), DeviceCopies.byteStrides(view.strides(), es), address,
                contiguousByteStrides(view.shape().dims(), es), view.shape().dims(), es, stream);
    }

    private static long[] contiguousByteStrides(long[] dims, int elementBytes) {
        long[] strides = new long[dims.length];
        long stride = elementBytes;
        for (int i = dims.length - 1; i >= 0; i--) {
            strides[i] = stride;
            stride *= Math.max(dims[i], 1);
        }
        return strides;
    }

    /**
     * Waits for this rank's outstanding work, finalizes and frees the NCCL communicator (or only frees it after an
     * abort), then the stream, event and scratch memory.
     */
    @Override
    protected synchronized void release() {
        RuntimeException failure = null;
        try {
            if (abortCause.get() == null) {
                stream.synchronize();
                comm.close();
            } else {
                abortNative();
                comm.close();
            }
        } catch (RuntimeException e) {
            failure = e;
            abortNative();
        }
        failure = Resources.closeAll(failure, List.of(hostScratch, scratch, done, stream));
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "NcclGpuCommunicator{rank=" + rank + ", size=" + size + ", device=" + device + "}";
    }

    // ---------------------------------------------------------------------------------------------------------
    // Running calls, now or asynchronously.

    /** Enqueues the calls (one NCCL group when there are several) and waits for them under the deadline. */
    @Override
    protected void runCalls(List<NcclCall> calls, long opSeq) {
        String opName = describeOps(calls);
        enqueue(calls, opName, opSeq);
        awaitDone(opName, opSeq, peers(calls));
    }

    /**
     * Enqueues the calls on the stream now and returns a handle that polls an event recorded after them: NCCL work is
     * asynchronous already, so no async thread is needed.
     */
    @Override
    protected PendingHandle startAsync(List<NcclCall> calls, String opName, long opSeq) {
        enqueue(calls, opName, opSeq);
        CudaEvent event;
        try {
            event = CudaEvent.create(device);
            event.record(stream);
        } catch (CudaException e) {
            throw failed(opName, opSeq, e);
        }
        return new NcclHandle(this, opName, opSeq, event, System.nanoTime() + timeoutNs, peers(calls));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Enqueueing and waiting.

    private void enqueue(List<NcclCall> calls, String opName, long opSeq) {
        try {
            Cuda.setDevice(device);
            if (context.debugChecks() && size > 1) {
                checkSignatures(calls, opName, opSeq);
            }
            boolean grouped = calls.size() > 1;
            if (grouped) {
                NcclCommunicator.groupStart();
            }
            try {
                for (NcclCall call : calls) {
                    enqueueOne(call);
                }
            } finally {
                if (grouped) {
                    NcclCommunicator.groupEnd();
                }
            }
            done.record(stream);
        } catch (NcclException | CudaException e) {
            throw failed(opName, opSeq, e);
        }
    }

    private void enqueueOne(NcclCall call) {
        counters.call(call.kind());
        if (call.kind() == CollectiveKind.BARRIER) {
            comm.allReduce(scratch.pointer(), scratch.pointer(), 1, NcclDataType.INT32, NcclRedOp.SUM, stream);
            return;
        }
        if (call.count() == 0) {
            return; // every rank of a matching call skips it alike
        }
        NcclDataType type = call.dtype().ncclDataType();
        MemorySegment send = MemorySegment.ofAddress(call.sendAddress());
        MemorySegment recv = MemorySegment.ofAddress(call.recvAddress());
        switch (call.kind()) {
            case ALL_GATHER -> comm.allGather(send, recv, call.count(), type, stream);
            case REDUCE_SCATTER -> comm.reduceScatter(send, recv, call.count(), type, redOp(call.op()), stream);
            case ALL_REDUCE -> comm.allReduce(send, recv, call.count(), type, redOp(call.op()), stream);
            case BROADCAST -> comm.broadcast(send, recv, call.count(), type, call.root(), stream);
            case REDUCE -> comm.reduce(send, recv, call.count(), type, redOp(call.op()), call.root(), stream);
            case SEND -> comm.send(send, call.count(), type, call.root(), stream);
            case RECV -> comm.recv(recv, call.count(), type, call.root(), stream);
            case ALL_TO_ALL -> {
                long chunk = call.count() / size;
                long chunkBytes = chunk * call.dtype().byteSize();
                NcclCommunicator.groupStart();
                try {
                    for (int q = 0; q < size; q++) {
                        comm.send(MemorySegment.ofAddress(call.sendAddress() + q * chunkBytes), chunk, type, q, stream);
                        comm.recv(MemorySegment.ofAddress(call.recvAddress() + q * chunkBytes), chunk, type, q, stream);
                    }
                } finally {
                    NcclCommunicator.groupEnd();
                }
            }
            default -> throw new IllegalStateException("unreachable: kind=" + call.kind());
        }
        count(call);
    }

    /**
     * Counts the device bytes NCCL delivers for one enqueued call, by the collective's definition (NCCL picks its
     * own algorithm): all-gather and reduce-scatter move {@code (size-1)} chunks in and out of each rank; all-reduce
     * counts as reduce-scatter plus all-gather, {@code 2*(size-1)/size} of the buffer each way.
     */
    private void count(NcclCall call) {
        long es = call.dtype().byteSize();
        long bytes = call.count() * es;
        switch (call.kind()) {
            case ALL_GATHER, REDUCE_SCATTER -> {
                counters.deviceReceived((size - 1) * bytes);
                counters.deviceSent((size - 1) * bytes);
            }
            case ALL_REDUCE -> {
                long moved = 2 * (size - 1) * (call.count() / size) * es;
                counters.deviceReceived(moved);
                counters.deviceSent(moved);
            }
            case ALL_TO_ALL -> {
                counters.deviceReceived((size - 1) * (call.count() / size) * es);
                counters.deviceSent((size - 1) * (call.count() / size) * es);
            }
            case BROADCAST -> {
                if (rank == call.root()) {
                    counters.deviceSent((size - 1) * bytes);
                } else {
                    counters.deviceReceived(bytes);
                }
            }
            case REDUCE -> {
                if (rank == call.root()) {
                    counters.deviceReceived((size - 1) * bytes);
                } else {
                    counters.deviceSent(bytes);
                }
            }
            case SEND -> {
                if (call.root() != rank) {
                    counters.deviceSent(bytes);
                }
            }
            case RECV -> {
                if (call.root() != rank) {
                    counters.deviceReceived(bytes);
                }
            }
            default -> {
            }
        }
    }

    static NcclRedOp redOp(ReduceOp op) {
        return switch (op) {
            case SUM -> NcclRedOp.SUM;
            case PROD -> NcclRedOp.PROD;
            case MAX -> NcclRedOp.MAX;
            case MIN -> NcclRedOp.MIN;
            case AVG -> NcclRedOp.AVG;
        };
    }

    /**
     * Debug check: all-gathers every rank's collective signatures over NCCL itself and compares them with rank 0's,
     * so that every rank reaches the same verdict before any data moves.
     */
    private void checkSignatures(List<NcclCall> calls, String opName, long opSeq) {
        List<NcclCall> collectives = new ArrayList<>(calls.size());
        for (NcclCall call : calls) {
            if (call.kind().isCollective()) {
                collectives.add(call);
            }
        }
        if (collectives.isEmpty()) {
            return;
        }
        MemorySegment host = hostScratch.segment();
        long slotBytes = SIGNATURE_LONGS * (long) Long.BYTES;
        MemorySegment mine = host.asSlice(rank * slotBytes, slotBytes);
        encode(collectives, mine);
        MemorySegment deviceSlot = MemorySegment.ofAddress(scratch.address() + rank * slotBytes);
        Cuda.memcpyAsync(deviceSlot, mine, slotBytes, stream);
        comm.allGather(deviceSlot, scratch.pointer(), SIGNATURE_LONGS, NcclDataType.INT64, stream);
        Cuda.memcpyAsync(host, scratch.pointer(), slotBytes * size, stream);
        done.record(stream);
        awaitDone(opName, opSeq, List.of());
        List<String> first = decode(host.asSlice(0, slotBytes));
        for (int q = 1; q < size; q++) {
            List<String> other = decode(host.asSlice(q * slotBytes, slotBytes));
            if (!other.equals(first)) {
                CollectiveMismatchException mismatch = new CollectiveMismatchException(CallSignature.mismatchMessage(0,
                        CallSignature.describeGroup(first), q, CallSignature.describeGroup(other)));
                throw failOperation(mismatch, opName, opSeq, timeoutNs);
            }
        }
    }

    static void encode(List<NcclCall> calls, MemorySegment out) {
        out.fill((byte) 0);
        out.setAtIndex(ValueLayout.JAVA_LONG, 0, calls.size());
        int n = Math.min(calls.size(), MAX_CHECKED_CALLS);
        out.setAtIndex(ValueLayout.JAVA_LONG, 1, n);
        for (int i = 0; i < n; i++) {
            NcclCall call = calls.get(i);
            long base = 2 + (long) i * SIGNATURE_FIELDS;
            out.setAtIndex(ValueLayout.JAVA_LONG, base, call.kind().ordinal());
            out.setAtIndex(ValueLayout.JAVA_LONG, base + 1, call.count());
            out.setAtIndex(ValueLayout.JAVA_LONG, base + 2, call.dtype() == null ? -1 : call.dtype().ordinal());
            out.setAtIndex(ValueLayout.JAVA_LONG, base + 3, call.op() == null ? -1 : call.op().ordinal());
            out.setAtIndex(ValueLayout.JAVA_LONG, base + 4, call.root());
        }
    }

    /** The signatures as messages print them; a group longer than the checked prefix ends with its call count. */
    static List<String> decode(MemorySegment in) {
        long total = in.getAtIndex(ValueLayout.JAVA_LONG, 0);
        int n = (int) in.getAtIndex(ValueLayout.JAVA_LONG, 1);
        List<String> out = new ArrayList<>(n + 1);
        for (int i = 0; i < n; i++) {
            long base = 2 + (long) i * SIGNATURE_FIELDS;
            CollectiveKind kind = CollectiveKind.values()[(int) in.getAtIndex(ValueLayout.JAVA_LONG, base)];
            long count = in.getAtIndex(ValueLayout.JAVA_LONG, base + 1);
            int dtype = (int) in.getAtIndex(ValueLayout.JAVA_LONG, base + 2);
            int op = (int) in.getAtIndex(ValueLayout.JAVA_LONG, base + 3);
            int root = (int) in.getAtIndex(ValueLayout.JAVA_LONG, base + 4);
            out.add(CallSignature.describe(kind, count, dtype < 0 ? null : DType.values()[dtype],
                    op < 0 ? null : ReduceOp.values()[op], root));
        }
        if (total > n) {
            out.add("... (calls=" + total + ")");
        }
        return out;
    }

    /** Polls the done event and NCCL's async state until the work completes; throws on failure or deadline. */
    private void awaitDone(String opName, long opSeq, List<Integer> peers) {
        long deadline = System.nanoTime() + timeoutNs;
        PollBackoff backoff = PollBackoff.start();
        while (!poll(done, opName, opSeq, deadline, peers)) {
            backoff.pause();
        }
    }

    /**
     * One poll of work recorded on {@code event}: true when it is done; throws the operation's failure on abort, an
     * NCCL or CUDA error, or when {@code deadline} has passed (aborting the communicator).
     */
    boolean poll(CudaEvent event, String opName, long opSeq, long deadline, List<Integer> peers) {
        Throwable cause = abortCause.get();
        if (cause != null) {
            throw translateCause(cause, opName, opSeq, timeoutNs, rank, size);
        }
        try {
            if (event.query()) {
                return true;
            }
            NcclResult state = comm.asyncError();
            if (state != NcclResult.ncclSuccess && state != NcclResult.ncclInProgress) {
                throw failed(opName, opSeq, new CollectiveException("ncclCommGetAsyncError: result=" + state
                        + ", rank=" + rank + ", size=" + size + ", device=" + device));
            }
        } catch (CudaException | NcclException e) {
            throw failed(opName, opSeq, e);
        } catch (IllegalStateException e) {
            // the NCCL communicator was aborted (from another thread) between the check above and the query
            Throwable recorded = abortCause.get();
            throw recorded != null ? translateCause(recorded, opName, opSeq, timeoutNs, rank, size)
                    : failed(opName, opSeq, e);
        }
        if (System.nanoTime() - deadline > 0) {
            CollectiveTimeoutException timeout = new CollectiveTimeoutException(opName, opSeq, peers, timeoutNs,
                    new CollectiveException("nccl work did not complete: rank=" + rank + ", size=" + size + ", device="
                            + device));
            throw failOperation(timeout, opName, opSeq, timeoutNs);
        }
        return false;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Failures.

    /** Records the failure (the first one wins) and aborts the NCCL communicator; returns the failure in force. */
    @Override
    protected Throwable fail(Throwable cause) {
        Throwable inForce = abortCause.compareAndExchange(null, cause);
        inForce = inForce == null ? cause : inForce;
        abortNative();
        return inForce;
    }

    private synchronized void abortNative() {
        if (!comm.isAborted()) {
            try {
                comm.abort();
            } catch (IllegalStateException e) {
                // closed or aborted meanwhile: nothing left to stop
            }
        }
    }

    private RuntimeException failed(String opName, long opSeq, Exception e) {
        CollectiveException failure = new CollectiveException(opName + " failed: op=" + opName + ", seq=" + opSeq
                + ", rank=" + rank + ", size=" + size + ", device=" + device + ", error=" + e.getMessage(), e);
        return failOperation(failure, opName, opSeq, timeoutNs);
    }

    @Override
    protected Throwable abortCause() {
        return abortCause.get();
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

    /** The peers of the point-to-point calls (the ranks a timeout can name); empty when there are collectives. */
    private static List<Integer> peers(List<NcclCall> calls) {
        List<Integer> peers = new ArrayList<>();
        for (NcclCall call : calls) {
            if (call.kind().isCollective()) {
                return List.of();
            }
            if (!peers.contains(call.root())) {
                peers.add(call.root());
            }
        }
        peers.sort(null);
        return List.copyOf(peers);
    }

    @Override
    protected CollectiveKind kindOf(NcclCall call) {
        return call.kind();
    }
}
