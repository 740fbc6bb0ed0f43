package io.yatt.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.GroupTopology;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code yatt worker --mesh NAME=DP_RANK/DP_SIZE/COLLECT}: what a launcher passes for a rank's mesh registrations. */
class WorkerMeshArgumentsTest {

    @Test
    void shouldParseEveryMeshRegistration() {
        assertEquals(Map.of("rollout", new GroupTopology.MeshRank(3, 4, true),
                        "train", new GroupTopology.MeshRank(1, 2, false)),
                WorkerCommand.parseMeshes(List.of("rollout=3/4/true", "train=1/2/false")));
    }

    @Test
    void shouldRejectAMalformedMeshNamingIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorkerCommand.parseMeshes(List.of("train=1/2")));
        assertEquals("bad --mesh: mesh=train=1/2, expected NAME=DP_RANK/DP_SIZE/COLLECT, e.g. train=0/2/true",
                e.getMessage());
    }

    @Test
    void shouldRejectARepeatedMesh() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorkerCommand.parseMeshes(List.of("train=0/2/true", "train=1/2/false")));
        assertEquals("--mesh repeated: name=train", e.getMessage());
    }

    @Test
    void shouldRejectADpRankOutsideTheMesh() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorkerCommand.parseMeshes(List.of("train=2/2/true")));
        assertEquals("mesh DP rank out of range: dpRank=2, dpSize=2", e.getMessage());
    }
}
