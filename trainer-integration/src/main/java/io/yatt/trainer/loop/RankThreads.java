package io.yatt.trainer.loop;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * Runs one body per rank of an in-process world, each on its own daemon thread named {@code yatt-rank}, and collects
 * the results: the embedded mode's ranks (the loop, and the CLI's tensor-parallel scoring and generation). Stateless.
 */
public final class RankThreads {

    private RankThreads() {
    }

    /**
     * The results of every rank of {@code world}, in rank order.
     *
     * @throws RuntimeException the first failing rank's unchecked exception, as it was thrown
     * @throws IllegalStateException wrapping a checked failure of a rank, or if interrupted while the ranks ran
     */
    public static <R> List<R> run(InProcessWorld world, Function<Communicator, R> body) {
        int ranks = world.size();
        List<R> results = new ArrayList<>(ranks);
        ExecutorService pool = Executors.newFixedThreadPool(ranks, r -> {
            Thread t = new Thread(r, "yatt-rank");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<R>> futures = new ArrayList<>(ranks);
            for (int r = 0; r < ranks; r++) {
                Communicator comm = world.communicator(r);
                futures.add(pool.submit(() -> body.apply(comm)));
            }
            for (Future<R> f : futures) {
                results.add(f.get());
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("rank failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while ranks ran", e);
        } finally {
            pool.shutdownNow();
        }
        return results;
    }
}
