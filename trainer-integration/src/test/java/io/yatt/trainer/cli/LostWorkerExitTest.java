package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.controller.WorkerLostException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** How {@code yatt} ends when a command fails because a worker was lost, and when it fails otherwise. */
class LostWorkerExitTest {

    private static final String NL = System.lineSeparator();

    /** A command whose run lost rank 1 of its workers, as a step of a run would report it. */
    @Command(name = "lose")
    static final class Lose implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            throw new ExecutionException(new WorkerLostException(List.of("rlhf"), 1, 77, "node-2",
                    TimeUnit.MILLISECONDS.toNanos(1600), TimeUnit.MILLISECONDS.toNanos(1500)));
        }
    }

    /** A command that fails for another reason. */
    @Command(name = "fail")
    static final class Fail implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new IllegalStateException("disk full: path=runs/x");
        }
    }

    private static int run(StringWriter err, String command) {
        CommandLine cl = YattCli.commandLine();
        cl.addSubcommand(new Lose());
        cl.addSubcommand(new Fail());
        cl.setErr(new PrintWriter(err));
        return cl.execute(command);
    }

    @Test
    void shouldExitWithThreeNamingTheLostWorker() {
        StringWriter err = new StringWriter();
        assertEquals(3, run(err, "lose"));
        assertEquals("yatt: worker lost: role=rlhf, rank=1, pid=77, host=node-2, lastHeartbeatAgeMs=1600,"
                + " timeoutMs=1500" + NL + "yatt: the run stopped; its workers were stopped (continue with --resume"
                + " auto)" + NL, err.toString());
    }

    @Test
    void shouldExitWithOneForAnotherFailure() {
        StringWriter err = new StringWriter();
        assertEquals(1, run(err, "fail"));
        assertEquals("yatt: disk full: path=runs/x" + NL, err.toString());
    }
}
