package io.yatt.collectives;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.Device;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;

/**
 * What the thread-per-rank harnesses share: a fixed pool of daemon rank threads, one root allocator per rank
 * ({@code rank-0}, ...), a bounded run of one task on every rank, and the teardown of both.
 */
final class RankPool {
    /** The longest a harness waits for all ranks of one run (and, for {@link ThreadedHarness}, for setup). */
    static final long RUN_LIMIT_NS = TimeUnit.SECONDS.toNanos(120);

    private final ExecutorService pool;
    private final List<Allocator> allocators = new ArrayList<>();

    /** Takes over {@code pool} and makes one allocator for each of the {@code size} ranks. */
    RankPool(ExecutorService pool, int size) {
        this.pool = pool;
        for (int r = 0; r < size; r++) {
            allocators.add(Allocator.root("rank-" + r));
        }
    }

    /** {@code size} daemon threads, each named {@code threadName}. */
    static ExecutorService newThreads(String threadName, int size) {
        return Executors.newFixedThreadPool(size, runnable -> {
            Thread thread = new Thread(runnable, threadName);
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Runs {@code task} on every rank at once, rank {@code r} seeing {@code communicator.apply(r)} and
     * {@code device.apply(r)}; a rank still running after {@link #RUN_LIMIT_NS} is cancelled and its outcome says so.
     */
    <T> List<RankOutcome<T>> run(RankTask<T> task, IntFunction<Communicator> communicator,
                                 IntFunction<Device> device) {
        List<Future<RankOutcome<T>>> futures = new ArrayList<>();
        for (int r = 0; r < allocators.size(); r++) {
            int rank = r;
            RankContext context = new RankContext() {
                @Override
                public Communicator communicator() {
                    return communicator.apply(rank);
                }

                @Override
                public Allocator allocator() {
                    return allocators.get(rank);
                }

                @Override
                public Device device() {
                    return device.apply(rank);
                }
            };
            futures.add(pool.submit(() -> {
                long start = System.nanoTime();
                try {
                    return new RankOutcome<>(rank, task.run(context), null, System.nanoTime() - start);
                } catch (Throwable t) {
                    return new RankOutcome<>(rank, null, t, System.nanoTime() - start);
                }
            }));
        }
        long deadline = System.nanoTime() + RUN_LIMIT_NS;
        List<RankOutcome<T>> outcomes = new ArrayList<>();
        for (int r = 0; r < futures.size(); r++) {
            try {
                outcomes.add(futures.get(r).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            } catch (TimeoutException e) {
                futures.get(r).cancel(true);
                outcomes.add(new RankOutcome<>(r, null, new AssertionError("rank " + r + " hung past the harness limit"),
                        RUN_LIMIT_NS));
            } catch (Exception e) {
                outcomes.add(new RankOutcome<>(r, null, e, 0));
            }
        }
        return outcomes;
    }

    /** Interrupts the rank threads and waits up to 10 s for them to stop. */
    void stopThreads() {
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Closes every allocator, then throws {@code failure} (an earlier teardown failure, or null) with the allocators'
     * failures added as suppressed, or the first allocator failure.
     */
    void closeAllocators(RuntimeException failure) {
        for (Allocator allocator : allocators) {
            try {
                allocator.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
