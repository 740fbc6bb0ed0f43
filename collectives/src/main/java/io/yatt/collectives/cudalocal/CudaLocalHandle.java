package io.yatt.collectives.cudalocal;

import io.yatt.collectives.CollectiveException;
import io.yatt.collectives.CollectiveHandle;
import io.yatt.collectives.CollectiveTimeoutException;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The handle of an asynchronous cuda-local operation, run by its rank's async thread. An await that times out names
 * no missing ranks (the operation's own deadline reports those). Thread-safe.
 */
final class CudaLocalHandle implements CollectiveHandle {
    private final String opName;
    private final long seq;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile RuntimeException failure;

    CudaLocalHandle(String opName, long seq) {
        this.opName = opName;
        this.seq = seq;
    }

    static CudaLocalHandle completed(String opName, long seq) {
        CudaLocalHandle handle = new CudaLocalHandle(opName, seq);
        handle.complete(null);
        return handle;
    }

    void complete(RuntimeException failure) {
        this.failure = failure;
        done.countDown();
    }

    @Override
    public boolean isDone() {
        return done.getCount() == 0;
    }

    @Override
    public void await(long timeoutNs) {
        if (timeoutNs < 0) {
            throw new IllegalArgumentException("invalid timeout: timeoutNs=" + timeoutNs + ", expected >= 0");
        }
        try {
            if (!done.await(timeoutNs, TimeUnit.NANOSECONDS)) {
                throw new CollectiveTimeoutException(opName, seq, List.of(), timeoutNs);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CollectiveException("await interrupted: op=" + opName + ", seq=" + seq, e);
        }
        RuntimeException f = failure;
        if (f != null) {
            throw f;
        }
    }

    /** Waits without a deadline of its own (the operation has one); interrupts are deferred. */
    void join() {
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
