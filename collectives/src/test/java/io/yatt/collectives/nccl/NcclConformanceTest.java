package io.yatt.collectives.nccl;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorConformanceTest;
import io.yatt.collectives.CommunicatorHarness;
import io.yatt.collectives.ThreadedHarness;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.nccl.Nccl;
import io.yatt.ffi.nccl.NcclUniqueId;
import io.yatt.tensor.Device;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The conformance suite on the nccl backend: one rank per GPU, as threads of this JVM (rank {@code r} on device
 * {@code r}). NCCL refuses two ranks on one GPU, so on a one-GPU machine only the world-size-1 cases run and the rest
 * are skipped; everything is skipped without a device or without the NCCL library.
 */
@Tag("gpu")
final class NcclConformanceTest extends CommunicatorConformanceTest {

    @BeforeAll
    void requireDeviceAndNccl() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
        assumeTrue(Nccl.available(), "NCCL library not found; run eval \"$(scripts/find-nccl.sh)\"");
    }

    /** Direct placement: contiguous views are received in place, so allGatherv allocates no scratch. */
    @Override
    protected boolean allGathervStages() {
        return false;
    }

    /** {@code ncclCommAbort} is local: peers still waiting on this rank time out instead. */
    @Override
    protected boolean abortReachesPeers() {
        return false;
    }

    @Override
    protected CommunicatorHarness harness(int worldSize, Communicator.Context context) {
        assumeTrue(worldSize <= Cuda.deviceCount(), "nccl needs one GPU per rank: worldSize=" + worldSize
                + ", deviceCount=" + Cuda.deviceCount());
        NcclUniqueId id = Nccl.uniqueId();
        return ThreadedHarness.start("nccl", worldSize, Device::cuda,
                rank -> NcclGpuCommunicator.create(rank, worldSize, rank, id, context.copy()), null);
    }
}
