package io.yatt.collectives.cudalocal;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorAbortedException;
import io.yatt.collectives.CommunicatorWorld;
import io.yatt.collectives.InProcessWorld;
import io.yatt.ffi.cuda.Cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * N ranks as threads of one JVM on one or more CUDA devices: the cuda-local backend, for device tensors. This is how
 * multi-rank GPU paths run on a one-GPU machine, where NCCL refuses two ranks on one device. Each rank's thread uses
 * its own {@link #communicator(int)}; see {@link CudaLocalCommunicator} for how data moves. Thread-safe;
 * {@link #close()} aborts every communicator of this world, including split ones, and frees their streams and
 * staging memory (call it once the rank threads are done with them).
 *
 * <pre>{@code
 * try (CudaLocalWorld world = CudaLocalWorld.create(4, 0, new Communicator.Context())) {
 *     // thread i: world.communicator(i).allGather(send, recv);   // tensors on cuda:0
 * }
 * }</pre>
 */
public final class CudaLocalWorld implements CommunicatorWorld {
    private final InProcessWorld control;
    private final CudaLocalShared shared;
    private final List<CudaLocalCommunicator> communicators;
    private boolean closed;

    private CudaLocalWorld(InProcessWorld control, CudaLocalShared shared, List<CudaLocalCommunicator> communicators) {
        this.control = control;
        this.shared = shared;
        this.communicators = communicators;
    }

    /**
     * A world of {@code size} ranks that all use {@code device}; the context is concluded here.
     *
     * @throws IllegalArgumentException if {@code size < 1}, the device is out of range or the context is invalid
     * @throws IllegalStateException if there is no usable CUDA device
     */
    public static CudaLocalWorld create(int size, int device, Communicator.Context context) {
        if (size < 1) {
            throw new IllegalArgumentException("invalid world size: size=" + size + ", expected >= 1");
        }
        int[] devices = new int[size];
        Arrays.fill(devices, device);
        return create(devices, context);
    }

    /**
     * A world with one rank per entry: rank {@code r} uses device {@code devices[r]} (several ranks may share one).
     *
     * @throws IllegalArgumentException if {@code devices} is empty, a device is out of range or the context is invalid
     * @throws IllegalStateException if there is no usable CUDA device
     */
    public static CudaLocalWorld create(int[] devices, Communicator.Context context) {
        Objects.requireNonNull(devices, "devices");
        Objects.requireNonNull(context, "context");
        if (devices.length < 1) {
            throw new IllegalArgumentException("invalid world size: size=0, expected >= 1");
        }
        requireDevices(devices);
        context.conclude();
        int size = devices.length;
        InProcessWorld control = InProcessWorld.create(size, context);
        CudaLocalShared shared = new CudaLocalShared(size, context);
        List<CudaLocalCommunicator> list = new ArrayList<>(size);
        try {
            for (int r = 0; r < size; r++) {
                list.add(CudaLocalCommunicator.create(shared, r, devices[r], control.communicator(r)));
            }
        } catch (RuntimeException e) {
            control.close();
            for (CudaLocalCommunicator created : list) {
                try {
                    created.release();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        return new CudaLocalWorld(control, shared, List.copyOf(list));
    }

    /**
     * Checks that every device exists; a sweep calls it to fail with this message before launching ranks.
     *
     * @throws IllegalStateException {@code cuda-local backend needs a CUDA device: deviceCount=0, status=...}
     * @throws IllegalArgumentException {@code device out of range: device=1, deviceCount=1, rank=0}
     */
    public static void requireDevices(int[] devices) {
        int deviceCount = Cuda.deviceCount();
        if (deviceCount == 0) {
            throw new IllegalStateException("cuda-local backend needs a CUDA device: deviceCount=0, status="
                    + Cuda.status().message());
        }
        for (int r = 0; r < devices.length; r++) {
            if (devices[r] < 0 || devices[r] >= deviceCount) {
                throw new IllegalArgumentException("device out of range: device=" + devices[r] + ", deviceCount="
                        + deviceCount + ", rank=" + r);
            }
        }
    }

    @Override
    public int size() {
        return communicators.size();
    }

    /**
     * Rank {@code rank}'s communicator, to be used by that rank's thread.
     *
     * @throws IllegalArgumentException if the rank is out of range
     */
    @Override
    public CudaLocalCommunicator communicator(int rank) {
        if (rank < 0 || rank >= communicators.size()) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", size=" + communicators.size());
        }
        return communicators.get(rank);
    }

    @Override
    public List<Communicator> communicators() {
        return List.copyOf(communicators);
    }

    /**
     * Aborts every communicator of this world (waiting calls fail at once), then frees their streams and staging
     * memory, split communicators included.
     *
     * @throws IllegalStateException on a second close
     * @throws io.yatt.ffi.cuda.CudaException if freeing a stream fails (the rest are still freed)
     */
    @Override
    public synchronized void close() {
        if (closed) {
            throw new IllegalStateException("cuda-local world already closed: size=" + communicators.size());
        }
        closed = true;
        abortTree(shared, new CommunicatorAbortedException("cuda-local world closed: size=" + communicators.size(),
                null));
        control.close();
        RuntimeException failure = releaseTree(shared, null);
        if (failure != null) {
            throw failure;
        }
    }

    private static void abortTree(CudaLocalShared node, Throwable cause) {
        node.fail(cause);
        for (CudaLocalShared child : node.children) {
            abortTree(child, cause);
        }
    }

    private static RuntimeException releaseTree(CudaLocalShared node, RuntimeException failure) {
        for (CudaLocalCommunicator member : node.members) {
            if (member != null) {
                try {
                    member.release();
                } catch (RuntimeException e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
        }
        for (CudaLocalShared child : node.children) {
            failure = releaseTree(child, failure);
        }
        return failure;
    }
}
