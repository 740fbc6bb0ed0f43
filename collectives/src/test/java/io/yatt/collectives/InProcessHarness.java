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

/** In-process ranks on a fixed pool of platform threads, one per rank. */
final class InProcessHarness implements CommunicatorHarness {
    private static final long RUN_LIMIT_NS = TimeUnit.SECONDS.toNanos(120);

    private final InProcessWorld world;
    private final ExecutorService pool;
    private final List<Allocator> allocators = new ArrayList<>();

    InProcessHarness(int size, Communicator.Context context) {
        this.world = InProcessWorld.create(size, context);
        this.pool = Executors.newFixedThreadPool(size, runnable -> {
            Thread thread = new Thread(runnable, "in-process-rank");
            thread.setDaemon(true);
            return thread;
        });
        for (int r = 0; r < size; r++) {
            allocators.add(Allocator.root("rank-" + r));
        }
    }

    @Override
    public int size() {
        return world.size();
    }

    @Override
    public Device device() {
        return Device.host();
    }

    @Override
    public <T> List<RankOutcome<T>> run(RankTask<T> task) {
        List<Future<RankOutcome<T>>> futures = new ArrayList<>();
        for (int r = 0; r < world.size(); r++) {
            int rank = r;
            RankContext context = new RankContext() {
                @Override
                public Communicator communicator() {
                    return world.communicator(rank);
                }

                @Override
                public Allocator allocator() {
                    return allocators.get(rank);
                }

                @Override
                public Device device() {
                    return Device.host();
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
        world.close();
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        RuntimeException failure = null;
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
