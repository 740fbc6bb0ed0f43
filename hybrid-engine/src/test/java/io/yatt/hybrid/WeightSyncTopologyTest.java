package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class WeightSyncTopologyTest {

    @Test
    void shouldTakeEachShardFromTheLowestHolderForOneReplica() {
        // design example: training 1-4-2, generation 1-2-2; gen TP rank 0 is held by 0,1 (dp 0) and 4,5 (dp 1)
        WeightSyncTopology topo = WeightSyncTopology.of(HybridLayout.parse("1-4-2", "1-2-2"), 2);
        assertEquals(8, topo.trainerSize());
        assertEquals(10, topo.worldSize());
        assertEquals(1, topo.rolloutReplicas());
        assertEquals(List.of(0, 1, 4, 5), topo.candidates(0, 0));
        assertEquals(List.of(2, 3, 6, 7), topo.candidates(1, 0));
        assertEquals(0, topo.sourceOf(0));
        assertEquals(2, topo.sourceOf(1));
        assertEquals(List.of(0), topo.destinations(0));
        assertEquals(List.of(1), topo.destinations(2));
        assertEquals(List.of(), topo.destinations(1));
        assertEquals(9, topo.syncRankOfRollout(1));
        assertEquals("trainer 7", topo.describeSyncRank(7));
        assertEquals("rollout 1", topo.describeSyncRank(9));
    }

    @Test
    void shouldSpreadReplicasOverTheHoldersAndWrapAround() {
        WeightSyncTopology topo = WeightSyncTopology.of(HybridLayout.parse("1-4-2", "1-2-2"), 10);
        assertEquals(5, topo.rolloutReplicas());
        assertEquals(new WeightSyncTopology.RolloutCoordinates(7, 3, 1, 0), topo.rolloutCoordinates(7));
        int[] sources = new int[10];
        for (int j = 0; j < 10; j++) {
            sources[j] = topo.sourceOf(j);
        }
        // replica k takes holder k mod 4: genTp 0 from 0,1,4,5,0; genTp 1 from 2,3,6,7,2
        assertEquals(List.of(0, 2, 1, 3, 4, 6, 5, 7, 0, 2), java.util.Arrays.stream(sources).boxed().toList());
        assertEquals(List.of(0, 8), topo.destinations(0));
        assertEquals(List.of(1, 9), topo.destinations(2));
    }

    @Test
    void shouldMapRolloutRanksInGenerationOrderWithPipelineStages() {
        // training 2-2-1, generation 2-1-2: t_g=1, p_g=2; rollout rank j = replica*2 + genPp
        WeightSyncTopology topo = WeightSyncTopology.of(HybridLayout.parse("2-2-1", "2-1-2"), 4);
        assertEquals(new WeightSyncTopology.RolloutCoordinates(3, 1, 0, 1), topo.rolloutCoordinates(3));
        assertEquals(List.of(0, 1), topo.candidates(0, 0));
        assertEquals(List.of(2, 3), topo.candidates(0, 1));
        assertEquals(List.of(0, 2, 1, 3), List.of(topo.sourceOf(0), topo.sourceOf(1), topo.sourceOf(2),
                topo.sourceOf(3)));
    }

    @Test
    void shouldRejectARolloutSizeThatIsNotAMultipleOfTheGenerationModelParallelSize() {
        HybridLayout layout = HybridLayout.parse("1-4-2", "1-2-2");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WeightSyncTopology.of(layout, 3));
        assertEquals("rollout group size must be a positive multiple of t_g*p_g: rolloutSize=3, t_g=2, p_g=1",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> WeightSyncTopology.of(layout, 0));
        assertEquals("rollout group size must be a positive multiple of t_g*p_g: rolloutSize=0, t_g=2, p_g=1",
                e.getMessage());
        WeightSyncTopology topo = WeightSyncTopology.of(layout, 2);
        e = assertThrows(IllegalArgumentException.class, () -> topo.sourceOf(2));
        assertEquals("rollout rank out of range: rank=2, rolloutSize=2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> topo.destinations(8));
        assertEquals("trainer rank out of range: rank=8, trainerSize=8", e.getMessage());
    }
}
