package io.yatt.collectives.cudalocal;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorConformanceTest;
import io.yatt.collectives.CommunicatorHarness;
import io.yatt.collectives.ThreadedHarness;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Device;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The conformance suite on the cuda-local backend: every rank count of the suite (1, 2, 3, 4, 8) as threads sharing
 * CUDA device 0, tensors on the device. Skipped without a device.
 */
@Tag("gpu")
final class CudaLocalConformanceTest extends CommunicatorConformanceTest {

    @BeforeAll
    void requireDevice() {
        assumeTrue(Cuda.deviceCount() > 0, "no CUDA device: " + Cuda.status().message());
    }

    /** Direct placement: peers copy straight into the views, so allGatherv allocates no scratch. */
    @Override
    protected boolean allGathervStages() {
        return false;
    }

    @Override
    protected CommunicatorHarness harness(int worldSize, Communicator.Context context) {
        CudaLocalWorld world = CudaLocalWorld.create(worldSize, 0, context);
        return ThreadedHarness.start("cuda-local", worldSize, rank -> Device.cuda(0), world::communicator, world::close);
    }
}
