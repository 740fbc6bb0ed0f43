package io.yatt.trainer.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExternalJobTest {

    private static final ExternalJob JOB = new ExternalJob(41234, "x12.ab", List.of("actor", "ref"), 20000,
            List.of(List.of("train=0/2/true", "gen=0/1/true"), List.of("train=1/2/false"), List.of()));

    @Test
    void shouldDecodeWhatItEncodes() {
        assertEquals("worldPort=41234\njobId=x12.ab\nroles=actor,ref\npeerLossWaitMs=20000\nworkers=3\n"
                + "mesh.0=train=0/2/true;gen=0/1/true\nmesh.1=train=1/2/false\nmesh.2=\n"
                + "controller.0=0\ncontroller.1=0\ncontroller.2=0\n",
                new String(JOB.encode(), StandardCharsets.UTF_8));
        assertEquals(JOB, ExternalJob.decode(JOB.encode()));
    }

    @Test
    void shouldGiveAWorkerItsShmWorldOverTheControllersStore() {
        Map<String, String> env = JOB.worldEnvironment(Map.of("RANK", "2", "WORLD_SIZE", "4", "PATH", "/bin"), 1,
                "10.0.0.5");
        assertEquals(Map.of("RANK", "1", "WORLD_SIZE", "3", "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "3",
                "MASTER_ADDR", "10.0.0.5", "MASTER_PORT", "41234", "YATT_JOB_ID", "x12.ab",
                "YATT_EXTERNAL_STORE", "1", "YATT_COLLECTIVES_BACKEND", "shm", "PATH", "/bin"), env);
    }

    @Test
    void shouldNumberEachControllersWorkersInRankOrder() {
        ExternalJob two = new ExternalJob(41234, "x12.ab", List.of("actor"), 20000,
                List.of(List.of(), List.of(), List.of(), List.of()), List.of(0, 0, 1, 1));
        assertEquals(2, two.controllers());
        assertEquals(List.of(0, 1, 0, 1), List.of(two.groupRank(0), two.groupRank(1), two.groupRank(2),
                two.groupRank(3)));
        assertEquals(two, ExternalJob.decode(two.encode()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ExternalJob(41234,
                "x12.ab", List.of("actor"), 20000, List.of(List.of(), List.of()), List.of(0, 2)));
        assertEquals("controllers must be 0 to C - 1, each with a worker: controllerOf=[0, 2]", e.getMessage());
    }

    @Test
    void shouldNameAMissingKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ExternalJob.decode("worldPort=1\njobId=j\n".getBytes(StandardCharsets.UTF_8)));
        assertEquals("external job without workers: keys=[jobId, worldPort]", e.getMessage());
    }

    @Test
    void shouldRejectAWorkerRankOutsideTheJob() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JOB.worldEnvironment(Map.of(), 3, "127.0.0.1"));
        assertEquals("worker rank out of range: rank=3, workers=3", e.getMessage());
    }
}
