package io.yatt.trainer.model;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * The model's own worker threads, process-wide (like OpenBLAS's thread count, which {@code Blas.threads(int)} sets):
 * the attention kernels (training and KV-cache decoding) and greedy sampling split their independent (sequence,
 * head), (sequence, KV group) or sequence items over this many threads, the caller included. Each item writes only
 * its own outputs and sums in a fixed order, so results are bit-identical for every thread count. Default 1
 * (everything on the calling thread).
 */
public final class Parallelism {
    private static final Object LOCK = new Object();
    private static volatile int threads = 1;
    private static ExecutorService pool;

    private Parallelism() {
    }

    /**
     * Sets the worker threads, the caller included.
     *
     * @param count threads, at least 1
     * @throws IllegalArgumentException if {@code count} is below 1
     */
    public static void threads(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("threads must be at least 1: threads=" + count);
        }
        synchronized (LOCK) {
            if (count == threads) {
                return;
            }
            if (pool != null) {
                pool.shutdown();
                pool = null;
            }
            if (count > 1) {
                pool = Executors.newFixedThreadPool(count - 1, r -> {
                    Thread t = new Thread(r, "yatt-model-worker");
                    t.setDaemon(true);
                    return t;
                });
            }
            threads = count;
        }
    }

    /** The worker threads, the caller included. */
    public static int threads() {
        return threads;
    }

    /**
     * Runs {@code body} for every index in {@code [0, count)}, split into contiguous ranges over the threads. Items
     * must be independent (disjoint outputs).
     */
    static void forEach(int count, IntConsumer body) {
        int n = Math.min(threads, count);
        ExecutorService p = pool;
        if (n <= 1 || p == null) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        List<Future<?>> futures = new ArrayList<>(n - 1);
        for (int w = 1; w < n; w++) {
            int from = (int) ((long) count * w / n);
            int to = (int) ((long) count * (w + 1) / n);
            futures.add(p.submit(() -> {
                for (int i = from; i < to; i++) {
                    body.accept(i);
                }
            }));
        }
        RuntimeException failure = null;
        try {
            for (int i = 0, to = count / n; i < to; i++) {
                body.accept(i);
            }
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for model workers", e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
