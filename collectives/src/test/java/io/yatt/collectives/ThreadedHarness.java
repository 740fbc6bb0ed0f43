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
 * Ranks as threads of this JVM on a fixed pool, one per rank, for backends whose communicators are made on the rank
 * threads themselves (concurrently, as NCCL's initialization needs) and whose tensors may live on a device. Public
 * so that backend test packages can use it.
 */
public final class ThreadedHarness implements CommunicatorHarness {
    private static final long RUN_LIMIT_NS = TimeUnit.SECONDS.toNanos(120);

    private final List<Communicator> communicators;
    private final List<Device> devices;
    private final ExecutorService pool;
    private final List<Allocator> allocators = new ArrayList<>();
    private final Runnable onClose;

    private ThreadedHarness(List<Communicator> communicators, List<Device> devices, ExecutorService pool,
                            Runnable onClose) {
        this.communicators = communicators;
        this.devices = devices;
        this.pool = pool;
        this.onClose = onClose;
        for (int r = 0; r < communicators.size(); r++) {
            allocators.add(Allocator.root("rank-" + r));
        }
    }

    /**
     * Starts {@code size} rank threads, makes rank {@code r}'s communicator with {@code factory.apply(r)} on them
     * concurrently, and runs {@code onClose} (after the threads stop) when the harness closes; without
     * {@code onClose}, each communicator is closed.
     */
    public static ThreadedHarness start(String name, int size, IntFunction<Device> device,
                                        IntFunction<Communicator> factory, Runnable onClose) {
        ExecutorService pool = Executors.newFixedThreadPool(size, runnable -> {
            Thread thread = new Thread(runnable, name + "-rank");
            thread.setDaemon(true);
            return thread;
        });
        List<Future<Communicator>> futures = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            int rank = r;
            futures.add(pool.submit(() -> factory.apply(rank)));
        }
        List<Communicator> made = new ArrayList<>();
        RuntimeException failure = null;
        for (Future<Communicator> future : futures) {
            try {
                made.add(future.get(RUN_LIMIT_NS, TimeUnit.NANOSECONDS));
            } catch (Exception e) {
                RuntimeException wrapped = new IllegalStateException("rank setup failed: " + e, e);
                if (failure == null) {
                    failure = wrapped;
                } else {
                    failure.addSuppressed(wrapped);
                }
            }
        }
        if (failure != null) {
            for (Communicator communicator : made) {
                communicator.abort();
            }
            pool.shutdownNow();
            throw failure;
        }
        List<Device> devices = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            devices.add(device.apply(r));
        }
        Runnable close = onClose != null ? onClose : () -> made.forEach(Communicator::close);
        return new ThreadedHarness(List.copyOf(made), List.copyOf(devices), pool, close);
    }

    @Override
    public int size() {
        return communicators.size();
    }

    @Override
    public Device device() {
        return devices.getFirst();
    }

    @Override
    public <T> List<RankOutcome<T>> run(RankTask<T> task) {
        List<Future<RankOutcome<T>>> futures = new ArrayList<>();
        for (int r = 0; r < communicators.size(); r++) {
            int rank = r;
            RankContext context = new RankContext() {
                @Override
                public Communicator communicator() {
                    return communicators.get(rank);
                }

                @Override
                public Allocator allocator() {
                    return allocators.get(rank);
                }

                @Override
                public Device device() {
                    return devices.get(rank);
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

    @Override
    public void close() {
        for (Communicator communicator : communicators) {
            communicator.abort();
        }
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        RuntimeException failure = null;
        try {
            onClose.run();
        } catch (RuntimeException e) {
            failure = e;
        }
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
