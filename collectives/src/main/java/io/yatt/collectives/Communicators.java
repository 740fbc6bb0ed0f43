package io.yatt.collectives;

import io.yatt.collectives.cudalocal.CudaLocalWorld;
import io.yatt.collectives.nccl.NcclGpuCommunicator;
import io.yatt.collectives.shm.ShmCommunicator;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Creates a communicator of every backend through the exported package alone, so that code on the module path
 * ({@code requires io.yatt.collectives}) reaches them all: threads in this JVM ({@link #inProcess}, and
 * {@link #cudaLocal} for several ranks on the GPUs of this process), one process per rank on this host
 * ({@link #shm}), one GPU per rank ({@link #nccl}), or whatever a launcher's environment says
 * ({@link #fromEnvironment}). Thread-safe.
 */
public final class Communicators {
    /** Environment variable that names the backend for {@link #fromEnvironment}: {@code shm} (default) or {@code nccl}. */
    public static final String ENV_BACKEND = "YATT_COLLECTIVES_BACKEND";

    private Communicators() {
    }

    /**
     * {@code size} ranks as threads of this JVM over host tensors; the context is concluded here.
     *
     * @throws IllegalArgumentException if {@code size < 1} or the context is invalid
     */
    public static CommunicatorWorld inProcess(int size, Communicator.Context context) {
        return InProcessWorld.create(size, context);
    }

    /**
     * The shared memory of {@code communicator}'s world when it is a shm world (every rank's arena mapped in this
     * process, read in place), otherwise empty. The caller closes what it gets; until then the mappings stay valid.
     *
     * @throws IllegalStateException if the communicator is a shm communicator that is closed or aborted
     */
    public static Optional<SharedMemory> sharedMemory(Communicator communicator) {
        Objects.requireNonNull(communicator, "communicator");
        return communicator instanceof ShmCommunicator shm ? Optional.of(shm.sharedMemory()) : Optional.empty();
    }

    /**
     * One rank per entry of {@code devices}, as threads of this JVM, rank {@code r} on CUDA device {@code devices[r]}
     * (several ranks may share a device); the context is concluded here.
     *
     * @throws IllegalArgumentException if {@code devices} is empty, a device is out of range or the context is invalid
     * @throws IllegalStateException {@code cuda-local backend needs a CUDA device: deviceCount=0, status=...}
     */
    public static CommunicatorWorld cudaLocal(int[] devices, Communicator.Context context) {
        return CudaLocalWorld.create(devices, context);
    }

    /**
     * This process's rank of a shared-memory world (one process per rank on one host); collective: every rank calls
     * it with the same store. Rank 0 serves the rendezvous store unless the launcher does.
     *
     * @throws IllegalArgumentException if the context is invalid
     * @throws RendezvousException if a rank does not arrive at the rendezvous in time
     */
    public static Communicator shm(RendezvousConfig config, ShmContext context) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(context, "context");
        return ShmCommunicator.create(config, context);
    }

    /**
     * This process's rank of an NCCL world, on CUDA device {@code config.localRank()}; collective: every rank calls
     * it. Rank 0 makes the NCCL id and shares it through the rendezvous store.
     *
     * @throws IllegalStateException {@code nccl backend needs a CUDA device: deviceCount=0, status=...} or
     *         {@code nccl backend needs the NCCL library: ...}
     * @throws IllegalArgumentException if the local rank is not a device of this host or the context is invalid
     * @throws RendezvousException if the NCCL id exchange times out, naming the missing ranks
     * @throws CollectiveException if NCCL fails to initialize
     */
    public static Communicator nccl(RendezvousConfig config, Communicator.Context context) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(context, "context");
        return NcclGpuCommunicator.create(config, context);
    }

    /**
     * This process's rank of the world a launcher started (torchrun, Slurm, Open MPI or {@code yatt}'s own shm
     * launcher; see {@link RendezvousConfig#fromEnvironment(Map)}), on the backend that {@value #ENV_BACKEND} names
     * ({@code shm} when unset). Pass {@code System.getenv()} from a main method; the library reads no environment
     * itself. {@code context} is the base of the backend's settings.
     *
     * @throws IllegalArgumentException for a missing or invalid variable, naming it, or an unknown backend
     * @throws IllegalStateException if the backend needs a device or library that is missing
     */
    public static Communicator fromEnvironment(Map<String, String> env, Communicator.Context context) {
        Objects.requireNonNull(env, "env");
        Objects.requireNonNull(context, "context");
        String backend = env.getOrDefault(ENV_BACKEND, "shm").trim().toLowerCase(Locale.ROOT);
        return switch (backend) {
            case "shm" -> ShmCommunicator.fromEnvironment(env, new ShmContext().base(context));
            case "nccl" -> NcclGpuCommunicator.create(RendezvousConfig.fromEnvironment(env), context);
            default -> throw new IllegalArgumentException("unknown backend: " + ENV_BACKEND + "=" + backend
                    + ", expected shm or nccl");
        };
    }
}
