package io.yatt.collectives.shm;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.RankOutcome;

import org.junit.jupiter.api.Test;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The multi-process harness itself: what a worker prints outside frames, or its death, never costs a later run. */
class ShmProcessHarnessTest {
    private static final Communicator.Context CONTEXT = new Communicator.Context()
        .timeoutNs(TimeUnit.SECONDS.toNanos(30)).debugChecks(true);

    /** Writes straight to file descriptor 1, as a JVM message would, past the worker's redirect of System.out. */
    private static void printOnStdout(String text) throws IOException {
        @SuppressWarnings("resource") // closing it would close the worker's stdout
        FileOutputStream stdout = new FileOutputStream(FileDescriptor.out);
        stdout.write(text.getBytes(StandardCharsets.UTF_8));
        stdout.flush();
    }

    @Test
    void shouldReadEveryOutcomePastWhatAWorkerPrintsOnStdout() {
        try (ShmProcessHarness harness = new ShmProcessHarness(2, CONTEXT)) {
            assertEquals(List.of(0, 10), harness.values(ctx -> {
                printOnStdout("stray text from rank " + ctx.rank() + "\n");
                ctx.communicator().barrier();
                return ctx.rank() * 10;
            }));
            assertEquals("stray text from rank 1\n", harness.strayOutput(1));
            assertEquals(List.of(1, 2), harness.values(ctx -> ctx.rank() + 1));
        }
    }

    @Test
    void shouldNameTheExitCodeAndStdoutOfAWorkerThatDiesAndRestartTheWorkers() {
        try (ShmProcessHarness harness = new ShmProcessHarness(2, CONTEXT)) {
            List<RankOutcome<Integer>> outcomes = harness.run(ctx -> {
                if (ctx.rank() == 1) {
                    printOnStdout("dying\n");
                    Runtime.getRuntime().halt(7);
                }
                return ctx.rank();
            });
            assertNull(outcomes.get(0).failure());
            assertEquals(0, outcomes.get(0).value());
            Throwable failure = outcomes.get(1).failure();
            assertInstanceOf(ShmProcessHarness.HarnessFailure.class, failure);
            assertEquals("rank 1 process failed: java.io.IOException: stdout ended (exit code 7);"
                + " it printed on stdout: \"dying\"", failure.getMessage());
            assertEquals(List.of(0, 1), harness.values(ctx -> ctx.rank()));
        }
    }
}
