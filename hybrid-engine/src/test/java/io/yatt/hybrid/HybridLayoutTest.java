package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HybridLayoutTest {

    private static final HybridLayout EIGHT = HybridLayout.parse("1-4-2", "1-2-2-2");

    @Test
    void shouldYieldTheDesignExampleGroupsExactly() {
        assertEquals(List.of(List.of(0, 2), List.of(1, 3), List.of(4, 6), List.of(5, 7)), EIGHT.genTpGroups());
        assertEquals(List.of(List.of(0, 1), List.of(2, 3), List.of(4, 5), List.of(6, 7)), EIGHT.microDpGroups());
        assertEquals(List.of(List.of(0, 1, 2, 3), List.of(4, 5, 6, 7)), EIGHT.tpGroups());
        assertEquals(List.of(List.of(0), List.of(1), List.of(2), List.of(3), List.of(4), List.of(5), List.of(6),
                List.of(7)), EIGHT.ppGroups());
        assertEquals(List.of(List.of(0, 4), List.of(1, 5), List.of(2, 6), List.of(3, 7)), EIGHT.dpGroups());
        assertEquals(EIGHT.ppGroups(), EIGHT.genPpGroups());
        assertEquals(List.of(List.of(0, 1, 2, 3), List.of(4, 5, 6, 7)), EIGHT.vanillaGroups());
    }

    @Test
    void shouldGiveEachRankOfTheDesignExampleItsGenerationCoordinates() {
        // rank -> {genTp, genPp, microDpRank}
        int[][] expected = {{0, 0, 0}, {0, 0, 1}, {1, 0, 0}, {1, 0, 1}, {0, 0, 0}, {0, 0, 1}, {1, 0, 0}, {1, 0, 1}};
        for (int r = 0; r < 8; r++) {
            RankCoordinates c = EIGHT.coordinates(r);
            assertEquals(expected[r][0], c.genTp(), "genTp of rank " + r);
            assertEquals(expected[r][1], c.genPp(), "genPp of rank " + r);
            assertEquals(expected[r][2], c.microDpRank(), "microDpRank of rank " + r);
            assertEquals(r / 4, c.dp());
            assertEquals(r % 4, c.tp());
        }
    }

    @Test
    void shouldPrintTheLayoutJsonFieldsInOrder() {
        assertEquals(List.of("tpGroups", "ppGroups", "dpGroups", "genTpGroups", "genPpGroups", "microDpGroups"),
                new ArrayList<>(EIGHT.groupFields().keySet()));
        assertEquals(EIGHT.microDpGroups(), EIGHT.groupFields().get("microDpGroups"));
    }

    @Test
    void shouldMapRanksWithPipelineMergeAndTensorSplit() {
        // train 4-2-1 (p=4, t=2), gen 2-1: k_t=2, k_p=2, d_g=4
        HybridLayout layout = HybridLayout.parse("4-2-1", "2-1-4");
        assertEquals(List.of(List.of(0, 1, 2, 3), List.of(4, 5, 6, 7)), layout.microDpGroups());
        assertEquals(List.of(List.of(0, 4), List.of(1, 5), List.of(2, 6), List.of(3, 7)), layout.genPpGroups());
        assertEquals(List.of(List.of(0), List.of(1), List.of(2), List.of(3), List.of(4), List.of(5), List.of(6),
                List.of(7)), layout.genTpGroups());
        RankCoordinates c = layout.coordinates(6);
        assertEquals(new RankCoordinates(6, 0, 3, 0, 0, 1, 0, 1, 2), c);
        assertEquals(6, layout.rank(0, 3, 0));
        assertEquals(List.of(List.of(0, 2), List.of(1, 3), List.of(4, 6), List.of(5, 7)),
                layout.groups(GroupKind.MICRO_PP));
        assertEquals(List.of(4, 5, 6, 7), layout.group(GroupKind.MICRO_DP, 6));
    }

    @Test
    void shouldPartitionEveryRankIntoEachGroupKindWithConsistentSizes() {
        for (String[] pair : new String[][] {{"2-4-2", "1-2-4"}, {"4-2-2", "2-2-2"}, {"2-2-3", "1-1-4"},
                {"3-2-1", "3-2-1"}}) {
            HybridLayout layout = HybridLayout.parse(pair[0], pair[1]);
            int[] sizes = {layout.train().t(), layout.train().p(), layout.train().d(), layout.gen().tg(),
                layout.gen().pg(), layout.dg(), layout.kt(), layout.kp(),
                layout.train().p() * layout.train().t(), layout.worldSize()};
            GroupKind[] kinds = GroupKind.values();
            for (int k = 0; k < kinds.length; k++) {
                Set<Integer> seen = new HashSet<>();
                int previousFirst = -1;
                for (List<Integer> group : layout.groups(kinds[k])) {
                    assertEquals(sizes[k], group.size(), kinds[k] + " in " + layout);
                    for (int i = 1; i < group.size(); i++) {
                        assertEquals(true, group.get(i - 1) < group.get(i), "sorted " + kinds[k]);
                    }
                    assertEquals(true, group.get(0) > previousFirst, "ordered " + kinds[k]);
                    previousFirst = group.get(0);
                    seen.addAll(group);
                    for (int r : group) {
                        assertEquals(group, layout.group(kinds[k], r));
                    }
                }
                assertEquals(layout.worldSize(), seen.size());
            }
        }
    }

    @Test
    void shouldPlaceMicroDpMembersByMicroPipelineThenMicroTensorIndex() {
        HybridLayout layout = HybridLayout.parse("4-4-2", "2-2-4");
        for (int r = 0; r < layout.worldSize(); r++) {
            RankCoordinates c = layout.coordinates(r);
            List<Integer> micro = layout.group(GroupKind.MICRO_DP, r);
            assertEquals(r, micro.get(c.microDpRank()));
            assertEquals(c.microPp() * layout.kt() + c.microTp(), c.microDpRank());
            assertEquals(c.tp(), c.genTp() * layout.kt() + c.microTp());
            assertEquals(c.pp(), c.genPp() * layout.kp() + c.microPp());
            for (int member : micro) {
                RankCoordinates m = layout.coordinates(member);
                assertEquals(c.genTp(), m.genTp());
                assertEquals(c.genPp(), m.genPp());
                assertEquals(c.dp(), m.dp());
            }
            for (int member : layout.group(GroupKind.GEN_TP, r)) {
                assertEquals(c.microTp(), layout.coordinates(member).microTp());
                assertEquals(c.pp(), layout.coordinates(member).pp());
            }
        }
    }

    @Test
    void shouldRejectInvalidLayoutsNamingTheValues() {
        assertEquals("generation TP must divide training TP: t=4, t_g=3",
                assertThrows(IllegalArgumentException.class, () -> HybridLayout.parse("1-4-2", "1-3-2")).getMessage());
        assertEquals("generation PP must divide training PP: p=4, p_g=3",
                assertThrows(IllegalArgumentException.class, () -> HybridLayout.parse("4-1-1", "3-1-1")).getMessage());
        assertEquals("micro-DP size must be (p*t)/(p_g*t_g): p=1, t=4, p_g=1, t_g=2, d_g=3, expected d_g=2",
                assertThrows(IllegalArgumentException.class, () -> HybridLayout.parse("1-4-2", "1-2-3")).getMessage());
        assertEquals("generation data-parallel size must equal training data-parallel size: d=2, generation d=1",
                assertThrows(IllegalArgumentException.class, () -> HybridLayout.parse("1-4-2", "1-2-2-1")).getMessage());
        assertEquals("layout size must be positive: t=0",
                assertThrows(IllegalArgumentException.class, () -> ParallelLayout.parse("1-0-2")).getMessage());
        assertEquals("layout size must be positive: t_g=0",
                assertThrows(IllegalArgumentException.class, () -> GenerationLayout.parse("1-0-2-2")).getMessage());
        assertEquals("cannot parse training layout: text=1-4, expected p-t-d",
                assertThrows(IllegalArgumentException.class, () -> ParallelLayout.parse("1-4")).getMessage());
        assertEquals("cannot parse generation layout: text=1-x-2, expected p_g-t_g-d_g or p_g-t_g-d_g-d",
                assertThrows(IllegalArgumentException.class,
                        () -> GenerationLayout.parse("1-x-2", ParallelLayout.of(1, 4, 2))).getMessage());
        assertEquals("rank out of range: rank=8, worldSize=8",
                assertThrows(IllegalArgumentException.class, () -> EIGHT.coordinates(8)).getMessage());
    }

    @Test
    void shouldParseBothGenerationForms() {
        ParallelLayout train = ParallelLayout.parse("2-4-2");
        assertEquals(new GenerationLayout(1, 2, 4, 2), GenerationLayout.parse("1-2-4", train));
        assertEquals(new GenerationLayout(1, 2, 4, 2), GenerationLayout.parse("1-2-4-2", train));
        assertEquals(new GenerationLayout(1, 2, 4, 2), GenerationLayout.of(train, 1, 2));
        assertEquals("1-2-4-2", GenerationLayout.of(train, 1, 2).toString());
        assertEquals("2-4-2", train.toString());
        assertEquals(16, train.worldSize());
    }
}
