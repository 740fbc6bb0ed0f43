package io.yatt.collectives.shm;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorConformanceTest;
import io.yatt.collectives.CommunicatorHarness;

/** The conformance suite on the shm backend: every rank a real JVM, workers reused across cases per rank count. */
final class ShmCommunicatorTest extends CommunicatorConformanceTest {

    @Override
    protected CommunicatorHarness harness(int worldSize, Communicator.Context context) {
        return new ShmProcessHarness(worldSize, context);
    }

    /** shm places allGatherv pieces directly from the peers' views (the workers' arenas always have room here). */
    @Override
    protected boolean allGathervStages() {
        return false;
    }

    /** Up to 32 KiB every rank reduces the whole buffer, reading every peer's (inline or one staged round). */
    @Override
    protected long smallAllReduceBytesCounted(int n, long bytes) {
        return (n - 1) * bytes;
    }
}
