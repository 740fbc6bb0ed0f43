package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.controller.ReferenceColumn;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReferenceStoreTest {

    private static final long CONTROLLER = 0x5EED_0001L;

    /** A region of {@code rows} rows of 4 floats, row i holding i * 10 + j. */
    private static ReferenceColumn publish(ReferenceStore store, Allocator a, String name, long step, int rows) {
        try (Tensor t = Tensor.allocate(a, DType.F32, Shape.of(rows, 4), Device.host())) {
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < 4; j++) {
                    t.setDouble(i * 10 + j, i, j);
                }
            }
            return store.publish(name, step, t);
        }
    }

    @Test
    void shouldFreeARegionAtTheLastPullOfItsLastDispatchWithExactCounts() {
        try (Allocator owner = Allocator.root("store-owner"); Allocator consumer = Allocator.root("store-consumer");
             ReferenceStore store = ReferenceStore.open(CONTROLLER, 11, owner)) {
            ReferenceColumn column = publish(store, owner, "values", 2, 8);
            assertEquals(8 * 16, owner.allocatedBytes());
            ReferenceColumn.Region region = new ReferenceColumn.Region(11, 0);
            // a kept dispatch of 1 pull, then the last dispatch of 2 pulls
            assertFalse(store.pulled(0, new ReferenceStore.Claim(1, 1, false)));
            Map<ReferenceColumn.Region, ReferenceStore.Claim> last = Map.of(region, new ReferenceStore.Claim(2, 2, true));
            try (Tensor rows = ReferenceStore.pull(CONTROLLER, column.select(new int[] {7, 0}), last, consumer)) {
                assertEquals(70.0, rows.getDouble(0, 0));
                assertEquals(3.0, rows.getDouble(1, 3));
            }
            assertEquals(1, store.liveCount());
            assertEquals(8 * 16, owner.allocatedBytes());
            ReferenceStore.pull(CONTROLLER, column.subList(2, 3), last, consumer).close();
            assertEquals(0, store.liveCount());
            assertEquals(0, owner.allocatedBytes());
            assertEquals(1, store.freedCount());
            assertEquals(List.of(), store.endStep(2));
        }
    }

    @Test
    void shouldReportARegionOneConsumerNeverPulledAndFreeItAtStepEnd() {
        try (Allocator owner = Allocator.root("store-left"); Allocator consumer = Allocator.root("store-left-c");
             ReferenceStore store = ReferenceStore.open(CONTROLLER, 12, owner)) {
            ReferenceColumn column = publish(store, owner, "logp", 5, 4);
            publish(store, owner, "later", 6, 2);
            Map<ReferenceColumn.Region, ReferenceStore.Claim> claims =
                    Map.of(new ReferenceColumn.Region(12, 0), new ReferenceStore.Claim(9, 2, true));
            ReferenceStore.pull(CONTROLLER, column, claims, consumer).close();
            assertEquals(2, store.liveCount());
            assertEquals(List.of("logp(step=5, owner=12, region=0, bytes=64, pulled=1/2)"), store.endStep(5));
            assertEquals(1, store.liveCount());
            assertEquals(2 * 16, owner.allocatedBytes());
            assertEquals(List.of("later(step=6, owner=12, region=1, bytes=32, pulled=0/?)"), store.endStep(6));
            assertEquals(0, owner.allocatedBytes());
            assertEquals(0, store.freedCount());
        }
    }

    @Test
    void shouldFreeAtTheSecondPullAndRefuseAThird() {
        try (Allocator owner = Allocator.root("store-two"); Allocator consumer = Allocator.root("store-two-c");
             ReferenceStore store = ReferenceStore.open(CONTROLLER, 13, owner)) {
            ReferenceColumn column = publish(store, owner, "x", 1, 2);
            Map<ReferenceColumn.Region, ReferenceStore.Claim> claims =
                    Map.of(new ReferenceColumn.Region(13, 0), new ReferenceStore.Claim(4, 2, true));
            ReferenceStore.pull(CONTROLLER, column, claims, consumer).close();
            assertEquals(32, owner.allocatedBytes());
            ReferenceStore.pull(CONTROLLER, column, claims, consumer).close();
            assertEquals(0, owner.allocatedBytes());
            assertEquals(1, store.freedCount());
            assertEquals(List.of(), store.endStep(1));
            assertEquals("referenced region is gone: ownerRank=13, run=" + column.runs().getFirst(),
                    assertThrows(IllegalArgumentException.class,
                            () -> ReferenceStore.pull(CONTROLLER, column, claims, consumer)).getMessage());
            assertEquals(0, consumer.allocatedBytes());
        }
    }

    @Test
    void shouldRejectAPullBeyondItsDispatchAndMalformedClaims() {
        try (Allocator owner = Allocator.root("store-bad");
             ReferenceStore store = ReferenceStore.open(CONTROLLER, 14, owner)) {
            publish(store, owner, "x", 1, 2);
            assertFalse(store.pulled(0, new ReferenceStore.Claim(3, 2, false)));
            assertEquals("pull does not match its dispatch: ownerRank=14, region=0, dispatch=3, pulls=5,"
                    + " announced=2, arrived=1", assertThrows(IllegalArgumentException.class,
                            () -> store.pulled(0, new ReferenceStore.Claim(3, 5, false))).getMessage());
            assertFalse(store.pulled(0, new ReferenceStore.Claim(3, 2, false)));
            assertEquals("pull does not match its dispatch: ownerRank=14, region=0, dispatch=3, pulls=2,"
                    + " announced=2, arrived=2", assertThrows(IllegalArgumentException.class,
                            () -> store.pulled(0, new ReferenceStore.Claim(3, 2, true))).getMessage());
            assertTrue(store.pulled(0, new ReferenceStore.Claim(8, 1, true)));
            assertEquals("malformed reference claim: yatt.referenceClaim=7, expected {dispatch: long, last: boolean,"
                    + " consumers: [[owner, region, pulls]...]}",
                    assertThrows(IllegalArgumentException.class, () -> ReferenceStore.claims(7)).getMessage());
            assertEquals("malformed reference claim entry: entry=[1, 2], expected [owner, region, pulls]",
                    assertThrows(IllegalArgumentException.class, () -> ReferenceStore.claims(Map.of("dispatch", 1L,
                            "last", true, "consumers", List.of(List.of(1, 2))))).getMessage());
            assertEquals(Map.of(new ReferenceColumn.Region(1, 2L), new ReferenceStore.Claim(1, 3, true)),
                    ReferenceStore.claims(Map.of("dispatch", 1L, "last", true, "consumers",
                            List.of(List.of(1, 2L, 3)))));
        }
    }

    @Test
    void shouldStageContiguousRowsInWholeRowPiecesAtTheirOffsets() {
        try (Allocator a = Allocator.root("stage-contiguous");
             Tensor region = Tensor.allocate(a, DType.F32, Shape.of(8, 4), Device.host())) {
            for (int i = 0; i < 8; i++) {
                for (int j = 0; j < 4; j++) {
                    region.setDouble(i * 10 + j, i, j);
                }
            }
            List<String> pieces = new java.util.ArrayList<>();
            // rows 1..5 (byte offset 16, 5 rows of 16 bytes) through a stage of 40 bytes: two rows a piece
            ReferenceStore.staged(region, a, 40, 16, 16, 5, 16, (bytes, at) -> pieces.add(at + ":" + floats(bytes)));
            assertEquals(List.of("0:[10.0, 11.0, 12.0, 13.0, 20.0, 21.0, 22.0, 23.0]",
                    "32:[30.0, 31.0, 32.0, 33.0, 40.0, 41.0, 42.0, 43.0]", "64:[50.0, 51.0, 52.0, 53.0]"), pieces);
            assertEquals(8 * 16, a.allocatedBytes());
        }
    }

    @Test
    void shouldStageStridedRowsInOrderAndOneRowWhenARowExceedsTheStage() {
        try (Allocator a = Allocator.root("stage-strided");
             Tensor region = Tensor.allocate(a, DType.F32, Shape.of(8, 2), Device.host())) {
            for (int i = 0; i < 8; i++) {
                region.setDouble(i, i, 0);
                region.setDouble(-i, i, 1);
            }
            List<String> pieces = new java.util.ArrayList<>();
            // rows 0, 3, 6 (stride 3 rows of 8 bytes) through a stage of 16 bytes: two rows, then one
            ReferenceStore.staged(region, a, 16, 0, 24, 3, 8, (bytes, at) -> pieces.add(at + ":" + floats(bytes)));
            assertEquals(List.of("0:[0.0, 0.0, 3.0, -3.0]", "16:[6.0, -6.0]"), pieces);
            pieces.clear();
            ReferenceStore.staged(region, a, 4, 8, 8, 2, 8, (bytes, at) -> pieces.add(at + ":" + floats(bytes)));
            assertEquals(List.of("0:[1.0, -1.0]", "8:[2.0, -2.0]"), pieces);
        }
    }

    private static String floats(java.lang.foreign.MemorySegment bytes) {
        return java.util.Arrays.toString(bytes.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
    }
}
