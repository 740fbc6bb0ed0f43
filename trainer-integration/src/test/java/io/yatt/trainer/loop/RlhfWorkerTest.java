package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.trainer.model.Head;
import io.yatt.trainer.model.LlamaCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A worker needs only its rank, its world communicator and init; it registers the group communicators it makes. */
class RlhfWorkerTest {

    @BeforeAll
    static void setUp() {
        RlhfLoopTest.warmStart();
    }

    /** Training 1-2-2, generation 1-1-2-2: each rank registers its gen-TP (1), DP (2) and TP (2) communicators. */
    @Test
    void shouldRegisterItsGroupCommunicatorsAtInit(@TempDir Path dir) {
        Path policy = dir.resolve("policy");
        LlamaCheckpoint.save(policy, RlhfLoopTest.model, Head.LANGUAGE_MODEL, RlhfLoopTest.policy, 1);
        String yaml = RlhfLoopTest.config.toYaml();
        try (InProcessWorld world = InProcessWorld.create(4)) {
            List<List<Integer>> sizes = RankThreads.run(world, comm -> {
                List<Integer> registered = Collections.synchronizedList(new ArrayList<>());
                try (RlhfWorker w = RlhfWorker.create(comm.rank(), comm, c -> registered.add(c.size()))) {
                    w.init(yaml, policy.toString(), "");
                    IllegalStateException twice = assertThrows(IllegalStateException.class,
                            () -> w.init(yaml, policy.toString(), ""));
                    assertEquals("worker already initialised: rank=" + comm.rank(), twice.getMessage());
                }
                return registered;
            });
            for (List<Integer> s : sizes) {
                assertEquals(List.of(1, 2, 2), s);
            }
        }
    }

    @Test
    void shouldRefuseCallsBeforeInit() {
        try (InProcessWorld world = InProcessWorld.create(1)) {
            Communicator comm = world.communicator(0);
            try (RlhfWorker w = RlhfWorker.create(0, comm)) {
                IllegalStateException e = assertThrows(IllegalStateException.class, w::evaluate);
                assertEquals("worker not initialised: rank=0, call init first", e.getMessage());
            }
        }
    }

    @Test
    void shouldRejectARankThatIsNotTheCommunicatorsRank() {
        try (InProcessWorld world = InProcessWorld.create(2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RlhfWorker.create(1, world.communicator(0)));
            assertEquals("worker rank differs from its communicator's rank: rank=1, communicatorRank=0",
                    e.getMessage());
        }
    }
}
