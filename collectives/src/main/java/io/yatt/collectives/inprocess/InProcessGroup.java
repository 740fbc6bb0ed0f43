package io.yatt.collectives.inprocess;

import io.yatt.collectives.CollectiveHandle;
import io.yatt.collectives.internal.GroupScope;

import java.util.List;

/** A group scope of an in-process communicator: calls are queued here and run together. Confined to one thread. */
final class InProcessGroup extends GroupScope<Call> {
    private final InProcessCommunicator communicator;

    InProcessGroup(InProcessCommunicator communicator) {
        super(communicator.rank());
        this.communicator = communicator;
    }

    @Override
    protected void end() {
        communicator.endGroup(this);
    }

    @Override
    protected CollectiveHandle start(List<Call> queued) {
        return communicator.submitAsync(queued);
    }

    @Override
    protected void run(List<Call> queued) {
        communicator.runGroup(queued);
    }
}
