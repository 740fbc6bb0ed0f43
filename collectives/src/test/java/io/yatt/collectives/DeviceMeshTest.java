package io.yatt.collectives;

import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static io.yatt.collectives.CollectiveTestData.bytes;
import static io.yatt.collectives.CollectiveTestData.tensor;
import static io.yatt.collectives.CollectiveTestData.zeros;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DeviceMeshTest {
    private static final List<String> DIMS = List.of("pp", "dp", "tp");

    @Test
    void shouldNumberRanksRowMajorWithTheLastDimensionFastest() {
        try (InProcessWorld world = InProcessWorld.create(8)) {
            DeviceMesh mesh = DeviceMesh.create(world.communicator(5), DIMS, 2, 2, 2);
            assertEquals(List.of(1, 0, 1), List.of(mesh.coordinate("pp"), mesh.coordinate("dp"), mesh.coordinate("tp")));
            assertEquals(1, mesh.coordinate(6, "dp"));
            assertEquals(5, mesh.rankOf(1, 0, 1));
            assertEquals(List.of(4, 5), mesh.groupRanks("tp"));
            assertEquals(List.of(5, 7), mesh.groupRanks("dp"));
            assertEquals(List.of(1, 5), mesh.groupRanks("pp"));
            assertEquals(List.of(4, 5, 6, 7), mesh.groupRanks("tp", "dp"));
            assertEquals(2, mesh.size("dp"));
            assertEquals(8, mesh.size());
            assertEquals("DeviceMesh[pp=2, dp=2, tp=2]", mesh.toString());
        }
    }

    @Test
    void shouldBuildTheSubCommunicatorOfAnySetOfDimensions() {
        String[][] sets = {{"tp"}, {"dp"}, {"pp"}, {"tp", "dp"}, {"pp", "tp"}, {"pp", "dp", "tp"}};
        try (InProcessHarness harness = new InProcessHarness(8, new Communicator.Context())) {
            List<RankOutcome<List<String>>> outcomes = harness.run(ctx -> {
                List<String> report = new ArrayList<>();
                try (DeviceMesh mesh = DeviceMesh.create(ctx.communicator(), DIMS, 2, 2, 2)) {
                    for (String[] dims : sets) {
                        Communicator sub = mesh.communicator(dims);
                        try (Tensor mine = tensor(ctx, DType.I32, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder())
                                .putInt(ctx.rank()).array()); Tensor all = zeros(ctx, DType.I32, sub.size())) {
                            sub.allGather(mine, all);
                            ByteBuffer gathered = ByteBuffer.wrap(bytes(all)).order(ByteOrder.nativeOrder());
                            List<Integer> ranks = new ArrayList<>();
                            for (int i = 0; i < sub.size(); i++) {
                                ranks.add(gathered.getInt(i * 4));
                            }
                            assertEquals(mesh.groupRanks(dims), ranks, String.join(",", dims));
                            assertEquals(ranks.indexOf(ctx.rank()), sub.rank());
                            report.add(String.join(",", dims) + "=" + ranks);
                        }
                    }
                    assertSame(mesh.communicator("dp", "tp"), mesh.communicator("tp", "dp"));
                }
                return report;
            });
            assertEquals(List.of("tp=[2, 3]", "dp=[1, 3]", "pp=[3, 7]", "tp,dp=[0, 1, 2, 3]", "pp,tp=[2, 3, 6, 7]",
                    "pp,dp,tp=[0, 1, 2, 3, 4, 5, 6, 7]"), outcomes.get(3).get());
            for (RankOutcome<List<String>> outcome : outcomes) {
                outcome.get();
            }
        }
    }

    @Test
    void shouldExplainInvalidMeshes() {
        try (InProcessWorld world = InProcessWorld.create(8)) {
            Communicator comm = world.communicator(0);
            assertEquals("mesh size mismatch: product=6, worldSize=8, dims=[pp=1, dp=2, tp=3]", message(
                    () -> DeviceMesh.create(comm, DIMS, 1, 2, 3)));
            assertEquals("duplicate mesh dimension: name=tp, dims=[tp, tp]", message(
                    () -> DeviceMesh.create(comm, List.of("tp", "tp"), 2, 4)));
            assertEquals("invalid mesh dimension size: dp=0, expected >= 1", message(
                    () -> DeviceMesh.create(comm, DIMS, 8, 0, 1)));
            assertEquals("mesh dimension count mismatch: names=[pp, dp, tp], sizes=[8]", message(
                    () -> DeviceMesh.create(comm, DIMS, 8)));
            assertEquals("mesh has no dimensions: expected at least one name", message(
                    () -> DeviceMesh.create(comm, List.of())));
            DeviceMesh mesh = DeviceMesh.create(comm, DIMS, 2, 2, 2);
            assertEquals("unknown mesh dimension: name=ep, dims=[pp, dp, tp]", message(() -> mesh.communicator("ep")));
            assertEquals("repeated mesh dimension: name=tp, dims=[tp, tp]", message(() -> mesh.communicator("tp", "tp")));
            assertEquals("no mesh dimensions given: expected some of [pp, dp, tp]", message(mesh::communicator));
            assertEquals("coordinate out of range: dp=2, size=2", message(() -> mesh.rankOf(0, 2, 0)));
            assertEquals("rank out of range: rank=8, size=8", message(() -> mesh.coordinate(8, "tp")));
        }
    }

    private static String message(Runnable call) {
        return assertThrows(IllegalArgumentException.class, call::run).getMessage();
    }
}
