package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.controller.ControllerLostException;
import io.yatt.controller.WorkerCallException;
import io.yatt.controller.WorkerLostException;
import io.yatt.trainer.launch.JvmExitedException;
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

    /** A command whose run lost controller 1 of its mesh (another process), as the controllers report it. */
    @Command(name = "lose-controller")
    static final class LoseController implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new IllegalStateException("controller failed", new ControllerLostException(1, 88, "node-3",
                    TimeUnit.MILLISECONDS.toNanos(10048), TimeUnit.SECONDS.toNanos(10)));
        }
    }

    /** A command whose worker's collective found a peer process dead (another controller's worker). */
    @Command(name = "lose-peer")
    static final class LosePeer implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new IllegalStateException("controller failed", new WorkerCallException("critic", "computeValues", 0,
                    "io.yatt.collectives.shm.ShmPeerDeadException", "allGather failed: op=allGather, seq=196, missing "
                    + "ranks=[2, 3], dead ranks=[2:pid=7064], timeoutNs=60000000000"));
        }
    }

    /** A command whose run lost a JVM it started that no controller of its process could name. */
    @Command(name = "lose-jvm")
    static final class LoseJvm implements Callable<Integer> {
        @Override
        public Integer call() {
            JvmExitedException exited = new JvmExitedException("worker JVM exited: rank=3, pid=91, exitCode=137, "
                    + "stderr tail:" + NL + "(empty)", 91);
            exited.addSuppressed(new IllegalStateException("aborted: reason=another controller failed"));
            throw exited;
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
        cl.addSubcommand(new LoseController());
        cl.addSubcommand(new LosePeer());
        cl.addSubcommand(new LoseJvm());
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
    void shouldExitWithThreeNamingALostControllerProcess() {
        StringWriter err = new StringWriter();
        assertEquals(3, run(err, "lose-controller"));
        assertEquals("yatt: controller lost: index=1, pid=88, host=node-3, lastHeartbeatAgeMs=10048, timeoutMs=10000"
                + NL + "yatt: the run stopped; its workers were stopped (continue with --resume auto)" + NL,
                err.toString());
    }

    @Test
    void shouldExitWithThreeWhenACollectiveFoundAPeerProcessDead() throws ClassNotFoundException {
        // the type the shm backend's dead-peer exception travels as (the name TrainerWorkers looks for)
        assertEquals("ShmPeerDeadException",
                Class.forName("io.yatt.collectives.shm.ShmPeerDeadException").getSimpleName());
        StringWriter err = new StringWriter();
        assertEquals(3, run(err, "lose-peer"));
        assertEquals("yatt: worker call failed: group=critic, method=computeValues, rank=0, "
                + "type=io.yatt.collectives.shm.ShmPeerDeadException, message=allGather failed: op=allGather, seq=196, "
                + "missing ranks=[2, 3], dead ranks=[2:pid=7064], timeoutNs=60000000000" + NL + "yatt: the run "
                + "stopped; its workers were stopped (continue with --resume auto)" + NL, err.toString());
    }

    @Test
    void shouldExitWithThreeNamingAJvmOfTheRunThatExited() {
        StringWriter err = new StringWriter();
        assertEquals(3, run(err, "lose-jvm"));
        assertEquals("yatt: worker JVM exited: rank=3, pid=91, exitCode=137, stderr tail:" + NL + "(empty)" + NL
                + "yatt: the run stopped; its workers were stopped (continue with --resume auto)" + NL, err.toString());
    }

    @Test
    void shouldExitWithOneForAnotherFailure() {
        StringWriter err = new StringWriter();
        assertEquals(1, run(err, "fail"));
        assertEquals("yatt: disk full: path=runs/x" + NL, err.toString());
    }
}
