package io.yatt.collectives;

/** The conformance suite on the in-process backend. */
final class InProcessCommunicatorTest extends CommunicatorConformanceTest {

    @Override
    protected CommunicatorHarness harness(int worldSize, Communicator.Context context) {
        return new InProcessHarness(worldSize, context);
    }

    @Override
    protected boolean allGathervStages() {
        return false;
    }
}
