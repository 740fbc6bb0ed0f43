package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.collectives.Communicator;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import org.junit.jupiter.api.Test;

class DataPathTest {

    @Test
    void shouldSplitThenGatherToTheSameBatchInOrder() throws Exception {
        // train 2-2-2 -> gen 1-1-4: d_g = 4, microDp = (microPp, microTp); gather over micro-DP then gen PP (size 1)
        HybridLayout layout = HybridLayout.parse("2-2-2", "1-1-4");
        ModelSpec spec = ModelSpec.llama(2, 8, 2, 2, 8, 10, DType.I32, 2);
        ReshardPlan plan = ReshardPlanner.create().plan(layout, spec, ReshardScheme.HYBRIDFLOW);
        HybridEngineTest.runRanks(8, (rank, world) -> {
            RankCoordinates c = layout.coordinates(rank);
            try (Allocator root = Allocator.root("r" + rank);
                 HybridEngine engine = HybridEngine.create(plan, rank, world, root);
                 Tensor batch = Tensor.allocate(root, DType.I32, Shape.of(8, 3), Device.host())) {
                long[] values = new long[24];
                for (int i = 0; i < 24; i++) {
                    values[i] = 100L * c.dp() + i;
                }
                if (c.tp() == 0) {
                    HybridEngineTest.write(batch, values);
                }
                DataPath.broadcastBatch(engine.communicator(GroupKind.TP), batch);
                assertArrayEquals(values, HybridEngineTest.read(batch), "broadcast on rank " + rank);
                Tensor chunk = DataPath.microDpChunk(batch, layout.dg(), c.microDpRank());
                assertEquals(Shape.of(2, 3), chunk.shape());
                try (Tensor gathered = DataPath.gather(engine.communicator(GroupKind.MICRO_DP), chunk, root);
                     Tensor all = DataPath.gather(engine.communicator(GroupKind.GEN_PP), gathered, root)) {
                    assertArrayEquals(values, HybridEngineTest.read(all), "gather on rank " + rank);
                }
            }
        });
    }

    @Test
    void shouldRejectBatchesThatDoNotSplit() {
        try (Allocator root = Allocator.root("r");
             Tensor batch = Tensor.allocate(root, DType.I32, Shape.of(6, 3), Device.host())) {
            assertEquals("micro-DP size must divide the batch: rows=6, d_g=4",
                    assertThrows(IllegalArgumentException.class, () -> DataPath.microDpChunk(batch, 4, 0)).getMessage());
        }
    }
}
