package io.yatt.collectives.nccl;

import io.yatt.collectives.CollectiveException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.internal.AsyncHandle;
import io.yatt.collectives.internal.PendingHandle;
import io.yatt.collectives.internal.PollBackoff;
import io.yatt.ffi.cuda.CudaEvent;

import java.util.List;

/**
 * The handle of an asynchronous NCCL operation: the work is on the stream already, and an event recorded after it
 * tells when it is done. Polling also watches NCCL's async errors and the operation's own deadline (past it, the
 * communicator is aborted). The event is freed once the outcome is known. Thread-safe.
 */
final class NcclHandle implements PendingHandle {
    private final NcclGpuCommunicator communicator;
    private final String opName;
    private final long seq;
    private final long deadline;
    private final List<Integer> peers;
    private CudaEvent event;
    private volatile boolean done;
    private volatile RuntimeException failure;

    NcclHandle(NcclGpuCommunicator communicator, String opName, long seq, CudaEvent event, long deadline,
               List<Integer> peers) {
        this.communicator = communicator;
        this.opName = opName;
        this.seq = seq;
        this.event = event;
        this.deadline = deadline;
        this.peers = peers;
    }

    /** One poll; true once the outcome (success or failure) is known. */
    private synchronized boolean poll() {
        if (done) {
            return true;
        }
        try {
            if (!communicator.poll(event, opName, seq, deadline, peers)) {
                return false;
            }
        } catch (RuntimeException e) {
            failure = e;
        }
        done = true;
        try {
            event.close();
        } catch (RuntimeException e) {
            if (failure == null) {
                failure = e;
            }
        }
        event = null;
        return true;
    }

    @Override
    public boolean isDone() {
        return poll();
    }

    @Override
    public void await(long timeoutNs) {
        AsyncHandle.checkAwaitTimeout(timeoutNs);
        long waitDeadline = System.nanoTime() + timeoutNs;
        PollBackoff backoff = PollBackoff.start();
        while (!poll()) {
            if (System.nanoTime() - waitDeadline > 0) {
                throw new CollectiveTimeoutException(opName, seq, peers, timeoutNs);
            }
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw new CollectiveException("await interrupted: op=" + opName + ", seq=" + seq);
            }
            backoff.pause();
        }
        RuntimeException f = failure;
        if (f != null) {
            throw f;
        }
    }

    /** Waits until the outcome is known, under the operation's own deadline; a failure is kept for {@link #await}. */
    @Override
    public void join() {
        PollBackoff backoff = PollBackoff.start();
        while (!poll()) {
            backoff.pause();
        }
    }
}
