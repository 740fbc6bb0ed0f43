package io.yatt.collectives;

import io.yatt.tensor.Device;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Ranks as threads of this JVM on a fixed pool, one per rank, for backends whose communicators are made on the rank
 * threads themselves (concurrently, as NCCL's initialization needs) and whose tensors may live on a device. Public
 * so that backend test packages can use it.
 */
public final class ThreadedHarness implements CommunicatorHarness {
    private final List<Communicator> communicators;
    private final List<Device> devices;
    private final RankPool ranks;
    private final Runnable onClose;

    private ThreadedHarness(List<Communicator> communicators, List<Device> devices, ExecutorService pool,
                            Runnable onClose) {
        this.communicators = communicators;
        this.devices = devices;
        this.ranks = new RankPool(pool, communicators.size());
        this.onClose = onClose;
    }

    /**
     * Starts {@code size} rank threads, makes rank {@code r}'s communicator with {@code factory.apply(r)} on them
     * concurrently, and runs {@code onClose} (after the threads stop) when the harness closes; without
     * {@code onClose}, each communicator is closed.
     */
    public static ThreadedHarness start(String name, int size, IntFunction<Device> device,
                                        IntFunction<Communicator> factory, Runnable onClose) {
        ExecutorService pool = RankPool.newThreads(name + "-rank", size);
        List<Future<Communicator>> futures = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            int rank = r;
            futures.add(pool.submit(() -> factory.apply(rank)));
        }
        List<Communicator> made = new ArrayList<>();
        RuntimeException failure = null;
        for (Future<Communicator> future : futures) {
            try {
                made.add(future.get(RankPool.RUN_LIMIT_NS, TimeUnit.NANOSECONDS));
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
        return ranks.run(task, communicators::get, devices::get);
    }

    @Override
    public void close() {
        for (Communicator communicator : communicators) {
            communicator.abort();
        }
        ranks.stopThreads();
        RuntimeException failure = null;
        try {
            onClose.run();
        } catch (RuntimeException e) {
            failure = e;
        }
        ranks.closeAllocators(failure);
    }
}
