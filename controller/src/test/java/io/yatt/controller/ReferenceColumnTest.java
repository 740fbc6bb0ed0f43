package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.ReferenceColumn.Run;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Shape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReferenceColumnTest {

    /** Rows of 16 floats (64 B): region 7 of worker 3 with {@code a} rows, then region 0 of worker 4 with b. */
    static ReferenceColumn twoRegions(int a, int b) {
        return ReferenceColumn.concat(List.of(ReferenceColumn.ofRegion(3, 7, a, DType.F32, Shape.of(16)),
                ReferenceColumn.ofRegion(4, 0, b, DType.F32, Shape.of(16))));
    }

    static TensorRef row(int owner, long region, long index) {
        return new TensorRef(owner, region, 64 * index, DType.F32, Shape.of(16));
    }

    @Test
    void shouldReadOneReferencePerRowFromTwoRuns() {
        ReferenceColumn column = twoRegions(3, 2);
        assertEquals(List.of(row(3, 7, 0), row(3, 7, 1), row(3, 7, 2), row(4, 0, 0), row(4, 0, 1)),
                List.copyOf(column));
        assertEquals(List.of(new Run(3, 7, 0, 64, 3, DType.F32, Shape.of(16)),
                new Run(4, 0, 0, 64, 2, DType.F32, Shape.of(16))), column.runs());
    }

    @Test
    void shouldCompactPerRowReferencesIntoRunsAndLeaveOtherColumnsAlone() {
        List<TensorRef> rows = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            rows.add(row(3, 7, i));
        }
        ReferenceColumn column = ReferenceColumn.compact(rows);
        assertEquals(List.of(new Run(3, 7, 0, 64, 1000, DType.F32, Shape.of(16))), column.runs());
        assertEquals(rows, column);
        assertEquals(column, rows);
        assertNull(ReferenceColumn.compact(List.of(row(3, 7, 0), "text")));
        assertNull(ReferenceColumn.compact(List.of()));
    }

    @Test
    void shouldKeepRunsThroughSubListSelectAndConcat() {
        ReferenceColumn column = twoRegions(1000, 1000);
        assertEquals(List.of(new Run(3, 7, 64 * 990, 64, 10, DType.F32, Shape.of(16)),
                new Run(4, 0, 0, 64, 5, DType.F32, Shape.of(16))), column.subList(990, 1005).runs());
        // reversed rows of one region: one run walking back
        assertEquals(List.of(new Run(3, 7, 64 * 3, -64, 4, DType.F32, Shape.of(16))),
                column.select(new int[] {3, 2, 1, 0}).runs());
        // a row repeated: stride 0
        assertEquals(List.of(new Run(4, 0, 64, 0, 3, DType.F32, Shape.of(16))),
                column.select(new int[] {1001, 1001, 1001}).runs());
        assertEquals(List.of(new Run(3, 7, 0, 64, 1000, DType.F32, Shape.of(16))),
                ReferenceColumn.concat(List.of(column.subList(0, 400), column.subList(400, 1000))).runs());
    }

    @Test
    void shouldStayCompactThroughDataBatchOperations() {
        try (Allocator allocator = Allocator.root("ref-column-batch");
             DataBatch batch = DataBatch.builder(allocator).column("logp", twoRegions(32768, 32768)).build()) {
            List<DataBatch> chunks = batch.chunk(4);
            try (DataBatch padded = batch.slice(0, 65535).pad(4).batch();
                 DataBatch again = DataBatch.concat(chunks);
                 DataBatch tiled = batch.repeat(3, false);
                 DataBatch picked = batch.selectRows(0, 1, 2, 40000)) {
                assertEquals(List.of(new Run(3, 7, 64 * 16384, 64, 16384, DType.F32, Shape.of(16))),
                        assertInstanceOf(ReferenceColumn.class, chunks.get(1).column("logp")).runs());
                assertEquals(((ReferenceColumn) batch.column("logp")).runs(),
                        assertInstanceOf(ReferenceColumn.class, again.column("logp")).runs());
                // 65535 rows padded with row 0 of region 7: three runs
                assertEquals(List.of(new Run(3, 7, 0, 64, 32768, DType.F32, Shape.of(16)),
                        new Run(4, 0, 0, 64, 32767, DType.F32, Shape.of(16)),
                        new Run(3, 7, 0, 0, 1, DType.F32, Shape.of(16))),
                        ((ReferenceColumn) padded.column("logp")).runs());
                assertEquals(6, ((ReferenceColumn) tiled.column("logp")).runs().size());
                assertEquals(List.of(new Run(3, 7, 0, 64, 3, DType.F32, Shape.of(16)),
                        new Run(4, 0, 64 * 7232, 0, 1, DType.F32, Shape.of(16))),
                        ((ReferenceColumn) picked.column("logp")).runs());
                assertEquals(row(4, 0, 7232), picked.column("logp").get(3));
            } finally {
                for (DataBatch c : chunks) {
                    c.close();
                }
            }
        }
    }

    @Test
    void shouldRejectRunsThatReachANegativeOffsetOrHaveNoRows() {
        assertEquals("reference run needs a row: rows=0", assertThrows(IllegalArgumentException.class,
                () -> new Run(0, 0, 0, 64, 0, DType.F32, Shape.of(16))).getMessage());
        assertEquals("reference run reaches a negative offset: byteOffset=64, rowStrideBytes=-64, rows=3",
                assertThrows(IllegalArgumentException.class,
                        () -> new Run(0, 0, 64, -64, 3, DType.F32, Shape.of(16))).getMessage());
        assertEquals(IndexOutOfBoundsException.class,
                assertThrows(IndexOutOfBoundsException.class, () -> twoRegions(2, 2).get(4)).getClass());
    }

    /** Row {@code i}'s reference, spelled as a plain column would hold it. */
    private static String spelled(Object ref) {
        TensorRef r = (TensorRef) ref;
        return r.ownerRank() + "/" + r.regionId() + "/" + r.byteOffset();
    }

    @Test
    void shouldAgreeRowForRowWithAPlainColumnThroughRandomBatchOperations() {
        java.util.Random random = new java.util.Random(20261202);
        try (Allocator allocator = Allocator.root("ref-column-random")) {
            for (int trial = 0; trial < 200; trial++) {
                ReferenceColumn refs = twoRegions(1 + random.nextInt(20), 1 + random.nextInt(20));
                List<Object> plain = new ArrayList<>();
                for (Object ref : refs) {
                    plain.add(spelled(ref));
                }
                DataBatch batch = DataBatch.builder(allocator).column("refs", refs).column("plain", plain).build();
                for (int op = 0; op < 4; op++) {
                    int n = batch.length();
                    DataBatch next = switch (random.nextInt(6)) {
                        case 0 -> {
                            int start = random.nextInt(n);
                            yield batch.slice(start, 1 + random.nextInt(n - start));
                        }
                        case 1 -> batch.pad(1 + random.nextInt(5)).batch();
                        case 2 -> batch.repeat(1 + random.nextInt(3), random.nextBoolean());
                        case 3 -> {
                            int[] indices = new int[1 + random.nextInt(2 * n)];
                            for (int k = 0; k < indices.length; k++) {
                                indices[k] = random.nextInt(n);
                            }
                            yield batch.selectRows(indices);
                        }
                        case 4 -> {
                            List<Integer> order = new ArrayList<>();
                            for (int k = 0; k < n; k++) {
                                order.add(k);
                            }
                            java.util.Collections.shuffle(order, random);
                            yield batch.reorder(order.stream().mapToInt(Integer::intValue).toArray());
                        }
                        default -> {
                            int cut = random.nextInt(n + 1);
                            List<DataBatch> parts = batch.splitBySizes(cut, n - cut);
                            try {
                                yield DataBatch.concat(List.of(parts.get(1), parts.get(0)));
                            } finally {
                                parts.forEach(DataBatch::close);
                            }
                        }
                    };
                    batch.close();
                    batch = next;
                    List<Object> column = batch.column("refs");
                    assertInstanceOf(ReferenceColumn.class, column);
                    assertEquals(batch.column("plain"), column.stream().map(ReferenceColumnTest::spelled).toList());
                }
                batch.close();
            }
        }
    }
}
