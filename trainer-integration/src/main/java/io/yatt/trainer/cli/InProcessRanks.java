package io.yatt.trainer.cli;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.trainer.loop.RankThreads;
import java.util.List;
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
        try (InProcessWorld world = InProcessWorld.create(ranks)) {
            return RankThreads.run(world, body);
        }
    }
}
