package io.yatt.collectives;

import io.yatt.tensor.Device;

import java.util.List;

/** In-process ranks on a fixed pool of platform threads, one per rank. */
final class InProcessHarness implements CommunicatorHarness {
    private final InProcessWorld world;
    private final RankPool ranks;

    InProcessHarness(int size, Communicator.Context context) {
        this.world = InProcessWorld.create(size, context);
        this.ranks = new RankPool(RankPool.newThreads("in-process-rank", size), size);
    }

    @Override
    public int size() {
        return world.size();
    }

    @Override
    public Device device() {
        return Device.host();
    }

    @Override
    public <T> List<RankOutcome<T>> run(RankTask<T> task) {
        return ranks.run(task, world::communicator, rank -> Device.host());
    }

    @Override
    public void close() {
        world.close();
        ranks.stopThreads();
        ranks.closeAllocators(null);
    }
}
