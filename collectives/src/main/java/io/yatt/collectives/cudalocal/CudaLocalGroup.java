package io.yatt.collectives.cudalocal;

import io.yatt.collectives.CollectiveHandle;
import io.yatt.collectives.internal.GroupScope;

import java.util.List;

/** A group scope of a cuda-local communicator: calls are queued here and run as one operation. Confined to one thread. */
final class CudaLocalGroup extends GroupScope<DeviceCall> {
    private final CudaLocalCommunicator communicator;

    CudaLocalGroup(CudaLocalCommunicator communicator) {
        super(communicator.rank());
        this.communicator = communicator;
    }

    @Override
    protected void end() {
        communicator.endGroup(this);
    }

    @Override
    protected CollectiveHandle start(List<DeviceCall> queued) {
        return communicator.submitAsync(List.copyOf(queued));
    }

    @Override
    protected void run(List<DeviceCall> queued) {
        communicator.runGroup(List.copyOf(queued));
    }
}
