package io.yatt.collectives.nccl;

import io.yatt.collectives.CollectiveHandle;
import io.yatt.collectives.internal.GroupScope;

import java.util.List;

/** A group scope of an NCCL communicator: calls are queued here and enqueued between ncclGroupStart and ncclGroupEnd. Confined to one thread. */
final class NcclGroup extends GroupScope<NcclCall> {
    private final NcclGpuCommunicator communicator;

    NcclGroup(NcclGpuCommunicator communicator) {
        super(communicator.rank());
        this.communicator = communicator;
    }

    @Override
    protected void end() {
        communicator.endGroup(this);
    }

    @Override
    protected CollectiveHandle start(List<NcclCall> queued) {
        return communicator.submitAsync(List.copyOf(queued));
    }

    @Override
    protected void run(List<NcclCall> queued) {
        communicator.runGroup(List.copyOf(queued));
    }
}
