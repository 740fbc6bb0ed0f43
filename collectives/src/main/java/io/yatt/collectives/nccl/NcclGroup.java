package io.yatt.collectives.nccl;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.CollectiveHandle;

import java.util.ArrayList;
import java.util.List;

/** A group scope of an NCCL communicator: calls are queued here and enqueued between ncclGroupStart and ncclGroupEnd. Confined to one thread. */
final class NcclGroup implements CollectiveGroup {
    private final NcclGpuCommunicator communicator;
    private final List<NcclCall> calls = new ArrayList<>();
    private boolean submitted;
    private boolean closed;

    NcclGroup(NcclGpuCommunicator communicator) {
        this.communicator = communicator;
    }

    void add(NcclCall call) {
        calls.add(call);
    }

    @Override
    public CollectiveHandle submit() {
        if (submitted || closed) {
            throw new IllegalStateException("group already " + (closed ? "closed" : "submitted") + ": rank="
                    + communicator.rank() + ", calls=" + calls.size());
        }
        submitted = true;
        communicator.endGroup(this);
        return communicator.submitAsync(List.copyOf(calls));
    }

    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("group already closed: rank=" + communicator.rank() + ", calls="
                    + calls.size());
        }
        closed = true;
        if (!submitted) {
            communicator.endGroup(this);
            communicator.runGroup(List.copyOf(calls));
        }
    }
}
