package io.yatt.trainer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.WorkerLostException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** How a run that lost a worker ends, and the launch settings' checks. */
class TrainerWorkersTest {

    private static final String NL = System.lineSeparator();

    @Test
    void shouldExitWithTheLostWorkerCodeAndNameTheWorker() {
        WorkerLostException lost = new WorkerLostException(List.of("rlhf"), 2, 4242, "node-1",
                TimeUnit.MILLISECONDS.toNanos(1502), TimeUnit.MILLISECONDS.toNanos(1500));
        StringWriter err = new StringWriter();
        Optional<Integer> code = TrainerWorkers.reportLostWorker(
                new IllegalStateException("step failed", new ExecutionException(lost)), new PrintWriter(err));
        assertEquals(Optional.of(3), code);
        assertEquals("yatt: worker lost: role=rlhf, rank=2, pid=4242, host=node-1, lastHeartbeatAgeMs=1502,"
                + " timeoutMs=1500" + NL + "yatt: the run stopped; its workers were stopped (continue with --resume"
                + " auto)" + NL, err.toString());
    }

    @Test
    void shouldLeaveOtherFailuresToTheDefaultHandler() {
        StringWriter err = new StringWriter();
        assertEquals(Optional.empty(), TrainerWorkers.reportLostWorker(new IllegalStateException("x"),
                new PrintWriter(err)));
        assertEquals("", err.toString());
    }

    @Test
    void shouldCheckTheLaunchSettings() {
        IllegalArgumentException noKind = assertThrows(IllegalArgumentException.class,
                () -> new WorkerJvms.Context().count(2).conclude());
        assertEquals("worker kind is required: kind=null", noKind.getMessage());
        IllegalArgumentException noCount = assertThrows(IllegalArgumentException.class,
                () -> new WorkerJvms.Context().kind("echo").conclude());
        assertEquals("worker JVM count must be positive: count=0", noCount.getMessage());
        IllegalArgumentException base = assertThrows(IllegalArgumentException.class,
                () -> new WorkerJvms.Context().kind("echo").count(1).workerIdBase(-1).conclude());
        assertEquals("worker id base must be non-negative: workerIdBase=-1", base.getMessage());
        IllegalArgumentException wait = assertThrows(IllegalArgumentException.class,
                () -> new WorkerJvms.Context().kind("echo").count(1).peerLossWaitNs(-1).conclude());
        assertEquals("peer loss wait must be non-negative: peerLossWaitNs=-1", wait.getMessage());
        IllegalArgumentException world = assertThrows(IllegalArgumentException.class,
                () -> WorkerJvms.World.of("tcp"));
        assertEquals("unknown world: world=tcp, expected none or shm", world.getMessage());
        assertEquals("collective", new WorkerJvms.Context().kind("collective").count(1).conclude().role());
    }
}
