package io.yatt.collectives.inprocess;

import io.yatt.collectives.CollectiveGroup;
import io.yatt.collectives.CollectiveHandle;

import java.util.ArrayList;
import java.util.List;

/** A group scope of an in-process communicator: calls are queued here and run together. Confined to one thread. */
final class InProcessGroup implements CollectiveGroup {
    private final InProcessCommunicator communicator;
    final List<Call> calls = new ArrayList<>();
    private boolean submitted;
    private boolean closed;

    InProcessGroup(InProcessCommunicator communicator) {
        this.communicator = communicator;
    }

    void add(Call call) {
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
        return communicator.submitAsync(calls);
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
            communicator.runGroup(calls);
        }
    }
}
