package io.yatt.collectives.cudalocal;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.CollectiveHandle;

import java.util.ArrayList;
import java.util.List;

/** A group scope of a cuda-local communicator: calls are queued here and run as one operation. Confined to one thread. */
final class CudaLocalGroup implements CollectiveGroup {
    private final CudaLocalCommunicator communicator;
    private final List<DeviceCall> calls = new ArrayList<>();
    private boolean submitted;
    private boolean closed;

    CudaLocalGroup(CudaLocalCommunicator communicator) {
        this.communicator = communicator;
    }

    void add(DeviceCall call) {
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
