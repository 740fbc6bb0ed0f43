package io.yatt.collectives.internal;

import io.yatt.collectives.CollectiveException;
import io.yatt.collectives.CollectiveTimeoutException;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The handle of an asynchronous operation run by a rank's own async thread (in-process, cuda-local): completed once
 * with the operation's failure or none. An await that times out names the ranks {@code missingRanks} reports at that
 * moment. Also holds the await argument check every backend's handle shares. Thread-safe.
 */
public final class AsyncHandle implements PendingHandle {
    private final String opName;
    private final long seq;
    private final Supplier<List<Integer>> missingRanks;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile RuntimeException failure;

    private AsyncHandle(String opName, long seq, Supplier<List<Integer>> missingRanks) {
        this.opName = opName;
        this.seq = seq;
        this.missingRanks = missingRanks;
    }

    /** A pending handle; {@code missingRanks} is asked only when an await times out. */
    public static AsyncHandle pending(String opName, long seq, Supplier<List<Integer>> missingRanks) {
        return new AsyncHandle(opName, seq, missingRanks);
    }

    /** A handle that is already done, without failure (an empty group). */
    public static AsyncHandle completed(String opName, long seq, Supplier<List<Integer>> missingRanks) {
        AsyncHandle handle = new AsyncHandle(opName, seq, missingRanks);
        handle.complete(null);
        return handle;
    }

    /** A single-thread executor on one daemon thread named {@code threadName}, for a rank's async operations. */
    public static ExecutorService newAsyncExecutor(String threadName) {
        return Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, threadName);
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Hands {@code work} to {@code executor}; when it ends, this handle completes with its {@link RuntimeException}
     * (or none).
     *
     * @throws java.util.concurrent.RejectedExecutionException if the executor refuses the task
     */
    public void runOn(Executor executor, Runnable work) {
        executor.execute(() -> {
            RuntimeException f = null;
            try {
                work.run();
            } catch (RuntimeException e) {
                f = e;
            }
            complete(f);
        });
    }

    /** Marks the operation done with {@code failure} (null for success). */
    public void complete(RuntimeException failure) {
        this.failure = failure;
        done.countDown();
    }

    @Override
    public boolean isDone() {
        return done.getCount() == 0;
    }

    @Override
    public void await(long timeoutNs) {
        checkAwaitTimeout(timeoutNs);
        try {
            if (!done.await(timeoutNs, TimeUnit.NANOSECONDS)) {
                throw new CollectiveTimeoutException(opName, seq, missingRanks.get(), timeoutNs);
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
    @Override
    public void join() {
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

    /**
     * Checks the argument of {@link io.yatt.collectives.CollectiveHandle#await(long)}.
     *
     * @throws IllegalArgumentException {@code invalid timeout: timeoutNs=-1, expected >= 0}
     */
    public static void checkAwaitTimeout(long timeoutNs) {
        if (timeoutNs < 0) {
            throw new IllegalArgumentException("invalid timeout: timeoutNs=" + timeoutNs + ", expected >= 0");
        }
    }
}
