package io.yatt.trainer.cli;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/** Runs one body per rank of an in-process world (threads), or directly with no communicator for one rank. */
final class InProcessRanks {

    private InProcessRanks() {
    }

    /** The results of every rank, in rank order; the first failure is rethrown (unchecked causes as they are). */
    static <R> List<R> run(int ranks, Function<Communicator, R> body) {
        if (ranks == 1) {
            return List.of(body.apply(null));
        }
        List<R> results = new ArrayList<>(ranks);
        try (InProcessWorld world = InProcessWorld.create(ranks)) {
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
        }
        return results;
    }
}
