package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DataBatchTest {
    private Allocator allocator;

    @BeforeEach
    void openAllocator() {
        allocator = Allocator.root("batch-test");
    }

    @AfterEach
    void closeAllocator() {
        allocator.close();
    }

    /** Sample {@code i} (for i in [from, from + n)) has x = [10i, 10i + 1], id = i and text "s" + i. */
    static DataBatch samples(Allocator allocator, int from, int n) {
        Tensor x = Tensor.allocate(allocator, DType.F32, Shape.of(n, 2), Device.host());
        Tensor id = Tensor.allocate(allocator, DType.I64, Shape.of(n), Device.host());
        List<Object> text = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            x.setDouble(10 * (from + i), i, 0);
            x.setDouble(10 * (from + i) + 1, i, 1);
            id.setDouble(from + i, i);
            text.add("s" + (from + i));
        }
        return DataBatch.builder(allocator).tensor("x", x).tensor("id", id).column("text", text)
                .metadata("temperature", 1.0).build();
    }

    /** The sample ids of a batch, read from both the tensors and the column, checked to agree. */
    static List<Integer> ids(DataBatch batch) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < batch.length(); i++) {
            int id = (int) batch.tensor("id").getDouble(i);
            assertEquals(10.0 * id, batch.tensor("x").getDouble(i, 0));
            assertEquals(10.0 * id + 1, batch.tensor("x").getDouble(i, 1));
            assertEquals("s" + id, batch.column("text").get(i));
            ids.add(id);
        }
        return ids;
    }

    @Test
    void shouldExposeKeysLengthAndMetadata() {
        try (DataBatch batch = samples(allocator, 0, 3)) {
            assertEquals(3, batch.length());
            assertEquals(List.of("x", "id"), List.copyOf(batch.tensorKeys()));
            assertEquals(List.of("text"), List.copyOf(batch.columnKeys()));
            assertEquals(Map.of("temperature", 1.0), batch.metadata());
            assertEquals(List.of(0, 1, 2), ids(batch));
        }
    }

    @Test
    void shouldRejectMismatchedLengthsNamingBothKeys() {
        try (Tensor x = Tensor.allocate(allocator, DType.F32, Shape.of(4, 2), Device.host());
                Tensor mask = Tensor.allocate(allocator, DType.BOOL, Shape.of(3), Device.host())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DataBatch.builder(allocator).tensor("x", x).tensor("mask", mask).build());
            assertEquals("sample count mismatch: key=mask, length=3, expected=4 (from key=x)", e.getMessage());
            IllegalArgumentException column = assertThrows(IllegalArgumentException.class,
                    () -> DataBatch.builder(allocator).tensor("x", x).column("text", List.of("a")).build());
            assertEquals("sample count mismatch: key=text, length=1, expected=4 (from key=x)", column.getMessage());
        }
    }

    @Test
    void shouldRejectScalarTensorAndDuplicateKey() {
        try (Tensor scalar = Tensor.allocate(allocator, DType.F32, Shape.of(), Device.host())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DataBatch.builder(allocator).tensor("loss", scalar));
            assertEquals("tensor needs a sample dimension: key=loss, shape=[]", e.getMessage());
            IllegalArgumentException dup = assertThrows(IllegalArgumentException.class,
                    () -> DataBatch.builder(allocator).column("a", List.of(1)).column("a", List.of(2)));
            assertEquals("duplicate key in batch: key=a", dup.getMessage());
        }
    }

    @Test
    void shouldNameMissingTensorAndColumn() {
        try (DataBatch batch = samples(allocator, 0, 2)) {
            assertEquals("no tensor under key: key=y, tensorKeys=[x, id]",
                    assertThrows(IllegalArgumentException.class, () -> batch.tensor("y")).getMessage());
            assertEquals("no column under key: key=x, columnKeys=[text]",
                    assertThrows(IllegalArgumentException.class, () -> batch.column("x")).getMessage());
        }
    }

    @Test
    void shouldChunkIntoEqualViews() {
        try (DataBatch batch = samples(allocator, 0, 6)) {
            long before = allocator.allocatedBytes();
            List<DataBatch> chunks = batch.chunk(3);
            assertEquals(before, allocator.allocatedBytes());
            assertEquals(List.of(0, 1), ids(chunks.get(0)));
            assertEquals(List.of(2, 3), ids(chunks.get(1)));
            assertEquals(List.of(4, 5), ids(chunks.get(2)));
            assertEquals(Map.of("temperature", 1.0), chunks.get(1).metadata());
            chunks.forEach(DataBatch::close);
        }
    }

    @Test
    void shouldRejectChunkCountThatDoesNotDivide() {
        try (DataBatch batch = samples(allocator, 0, 10)) {
            assertEquals("batch length not divisible by chunk count: length=10, chunks=4 (pad it first)",
                    assertThrows(IllegalArgumentException.class, () -> batch.chunk(4)).getMessage());
            assertEquals("chunk count must be positive: chunks=0",
                    assertThrows(IllegalArgumentException.class, () -> batch.chunk(0)).getMessage());
        }
    }

    @Test
    void shouldConcatInOrderIntoNewMemory() {
        DataBatch a = samples(allocator, 0, 2);
        DataBatch b = samples(allocator, 2, 3);
        {
            DataBatch all = DataBatch.concat(List.of(a, b));
            // 16 bytes per sample (x: 2 F32, id: one I64) for the 2 + 3 source samples and the 5 concatenated ones
            assertEquals(16 * 2 + 16 * 3 + 16 * 5, allocator.allocatedBytes());
            a.close();
            b.close();
            assertEquals(List.of(0, 1, 2, 3, 4), ids(all));
            assertEquals(Map.of("temperature", 1.0), all.metadata());
            all.close();
            assertEquals(0, allocator.allocatedBytes());
        }
    }

    @Test
    void shouldRejectConcatOfDifferentKeysShapesOrMetadata() {
        try (DataBatch a = samples(allocator, 0, 2); DataBatch b = samples(allocator, 2, 2);
                DataBatch narrow = b.select(List.of("x", "id"));
                DataBatch hot = b.withMetadata("temperature", 0.5)) {
            assertEquals("concat key mismatch: index=1, keys=[x, id], expected=[x, id, text]",
                    assertThrows(IllegalArgumentException.class, () -> DataBatch.concat(List.of(a, narrow)))
                            .getMessage());
            assertEquals("concat metadata conflict: key=temperature, values=1.0 and 0.5",
                    assertThrows(IllegalArgumentException.class, () -> DataBatch.concat(List.of(a, hot)))
                            .getMessage());
            assertEquals("concat of no batches: batches=[]",
                    assertThrows(IllegalArgumentException.class, () -> DataBatch.concat(List.of())).getMessage());
        }
        try (Tensor wide = Tensor.allocate(allocator, DType.F32, Shape.of(1, 3), Device.host());
                Tensor narrow = Tensor.allocate(allocator, DType.F32, Shape.of(1, 2), Device.host())) {
            DataBatch a = DataBatch.builder(allocator).tensor("x", wide).build();
            DataBatch b = DataBatch.builder(allocator).tensor("x", narrow).build();
            assertEquals("concat tensor mismatch: key=x, index=1, dtype=F32, shape=[1, 2], expected dtype=F32 and"
                    + " sample shape [3]",
                    assertThrows(IllegalArgumentException.class, () -> DataBatch.concat(List.of(a, b))).getMessage());
            assertEquals(12 + 8, allocator.allocatedBytes(), "a failed concat allocates nothing");
        }
    }

    @Test
    void shouldPadByRepeatingFirstRowsAndUnpad() {
        try (DataBatch batch = samples(allocator, 0, 5)) {
            DataBatch.Padded padded = batch.pad(4);
            assertEquals(3, padded.padSize());
            assertEquals(List.of(0, 1, 2, 3, 4, 0, 1, 2), ids(padded.batch()));
            try (DataBatch unpadded = padded.batch().unpad(padded.padSize())) {
                assertEquals(List.of(0, 1, 2, 3, 4), ids(unpadded));
            }
            padded.batch().close();
        }
    }

    @Test
    void shouldCyclePadWhenPadIsLongerThanBatch() {
        try (DataBatch batch = samples(allocator, 0, 2)) {
            DataBatch.Padded padded = batch.pad(7);
            assertEquals(5, padded.padSize());
            assertEquals(List.of(0, 1, 0, 1, 0, 1, 0), ids(padded.batch()));
            padded.batch().close();
        }
    }

    @Test
    void shouldNotPadMultipleAndRejectBadDivisorOrPadSize() {
        try (DataBatch batch = samples(allocator, 0, 4)) {
            long before = allocator.allocatedBytes();
            DataBatch.Padded padded = batch.pad(2);
            assertEquals(0, padded.padSize());
            assertEquals(before, allocator.allocatedBytes());
            assertEquals(List.of(0, 1, 2, 3), ids(padded.batch()));
            padded.batch().close();
            assertEquals("pad divisor must be positive: divisor=0",
                    assertThrows(IllegalArgumentException.class, () -> batch.pad(0)).getMessage());
            assertEquals("pad size out of range: padSize=5, length=4",
                    assertThrows(IllegalArgumentException.class, () -> batch.unpad(5)).getMessage());
        }
    }

    @Test
    void shouldSelectKeysAndNameEveryMissingKey() {
        try (DataBatch batch = samples(allocator, 0, 3); DataBatch selected = batch.select(List.of("text", "id"))) {
            assertEquals(List.of("id"), List.copyOf(selected.tensorKeys()));
            assertEquals(List.of("text"), List.copyOf(selected.columnKeys()));
            assertEquals(2.0, selected.tensor("id").getDouble(2));
            assertEquals("select of missing keys: missing=[y, z], keys=[x, id, text]",
                    assertThrows(IllegalArgumentException.class, () -> batch.select(List.of("x", "y", "z")))
                            .getMessage());
        }
    }

    @Test
    void shouldUnionDisjointKeysAndEqualSharedKeys() {
        try (DataBatch batch = samples(allocator, 0, 3);
                DataBatch left = batch.select(List.of("x", "text"));
                DataBatch right = batch.select(List.of("id", "text"));
                DataBatch both = left.union(right)) {
            assertEquals(List.of("x", "id"), List.copyOf(both.tensorKeys()));
            assertEquals(List.of(0, 1, 2), ids(both));
        }
    }

    @Test
    void shouldRejectUnionOfDifferentContentOrLength() {
        try (DataBatch a = samples(allocator, 0, 3); DataBatch b = samples(allocator, 1, 3);
                DataBatch shorter = samples(allocator, 0, 2); DataBatch ids = b.select(List.of("id"));
                DataBatch text = b.select(List.of("text"))) {
            assertEquals("union conflict: key=id, the tensors differ",
                    assertThrows(IllegalArgumentException.class, () -> a.union(ids)).getMessage());
            assertEquals("union conflict: key=text, the columns differ",
                    assertThrows(IllegalArgumentException.class, () -> a.union(text)).getMessage());
            assertEquals("union of batches of different lengths: length=3, otherLength=2",
                    assertThrows(IllegalArgumentException.class, () -> a.union(shorter)).getMessage());
        }
        try (DataBatch tensorX = DataBatch.builder(allocator)
                        .tensor("k", Tensor.allocate(allocator, DType.F32, Shape.of(1), Device.host())).build();
                DataBatch columnX = DataBatch.builder(allocator).column("k", List.of(1)).build()) {
            assertEquals("union conflict: key=k is a tensor here and a column in the other batch",
                    assertThrows(IllegalArgumentException.class, () -> tensorX.union(columnX)).getMessage());
            assertEquals("union conflict: key=k is a column here and a tensor in the other batch",
                    assertThrows(IllegalArgumentException.class, () -> columnX.union(tensorX)).getMessage());
        }
    }

    @Test
    void shouldRepeatInterleavedOrTiled() {
        try (DataBatch batch = samples(allocator, 0, 3);
                DataBatch interleaved = batch.repeat(2, true);
                DataBatch tiled = batch.repeat(2, false)) {
            assertEquals(List.of(0, 0, 1, 1, 2, 2), ids(interleaved));
            assertEquals(List.of(0, 1, 2, 0, 1, 2), ids(tiled));
            assertEquals("repeat times must be positive: times=0",
                    assertThrows(IllegalArgumentException.class, () -> batch.repeat(0, true)).getMessage());
        }
    }

    @Test
    void shouldReorderByPermutationOnly() {
        try (DataBatch batch = samples(allocator, 0, 4); DataBatch reordered = batch.reorder(2, 0, 3, 1)) {
            assertEquals(List.of(2, 0, 3, 1), ids(reordered));
            assertEquals("reorder needs a permutation of [0, length): length=4, indices=[0, 0, 1, 2]",
                    assertThrows(IllegalArgumentException.class, () -> batch.reorder(0, 0, 1, 2)).getMessage());
            assertEquals("reorder needs a permutation of [0, length): length=4, indices=[0, 1, 2]",
                    assertThrows(IllegalArgumentException.class, () -> batch.reorder(0, 1, 2)).getMessage());
        }
    }

    @Test
    void shouldSplitByIndicesAndBySizes() {
        try (DataBatch batch = samples(allocator, 0, 5)) {
            List<DataBatch> byIndices = batch.splitByIndices(List.of(new int[] {4, 0}, new int[] {1, 1, 3}));
            assertEquals(List.of(4, 0), ids(byIndices.get(0)));
            assertEquals(List.of(1, 1, 3), ids(byIndices.get(1)));
            byIndices.forEach(DataBatch::close);
            List<DataBatch> bySizes = batch.splitBySizes(2, 0, 3);
            assertEquals(List.of(0, 1), ids(bySizes.get(0)));
            assertEquals(List.of(), ids(bySizes.get(1)));
            assertEquals(List.of(2, 3, 4), ids(bySizes.get(2)));
            bySizes.forEach(DataBatch::close);
            assertEquals("row index out of range: index=5, length=5",
                    assertThrows(IndexOutOfBoundsException.class,
                            () -> batch.splitByIndices(List.of(new int[] {0}, new int[] {5}))).getMessage());
            assertEquals("split sizes do not add up to the length: sizes=[2, 2], sum=4, length=5",
                    assertThrows(IllegalArgumentException.class, () -> batch.splitBySizes(2, 2)).getMessage());
            assertEquals("negative split size: sizes=[6, -1]",
                    assertThrows(IllegalArgumentException.class, () -> batch.splitBySizes(6, -1)).getMessage());
        }
    }

    @Test
    void shouldFreeGatheredMemoryWhenSplitByIndicesFails() {
        try (DataBatch batch = samples(allocator, 0, 3)) {
            long before = allocator.allocatedBytes();
            assertThrows(IndexOutOfBoundsException.class,
                    () -> batch.splitByIndices(List.of(new int[] {0, 1}, new int[] {-1})));
            assertEquals(before, allocator.allocatedBytes());
        }
    }

    @Test
    void shouldRejectUseAfterCloseAndSecondClose() {
        DataBatch batch = samples(allocator, 0, 2);
        batch.close();
        assertTrue(batch.isClosed());
        assertEquals("data batch used after close: keys=[x, id, text], length=2",
                assertThrows(IllegalStateException.class, batch::length).getMessage());
        assertEquals("data batch already closed: keys=[x, id, text], length=2",
                assertThrows(IllegalStateException.class, batch::close).getMessage());
    }

    @Test
    void shouldKeepViewsWorkingOnlyWhileSourceIsOpen() {
        DataBatch batch = samples(allocator, 0, 4);
        DataBatch view = batch.slice(1, 2);
        assertEquals(List.of(1, 2), ids(view));
        batch.close();
        assertThrows(IllegalStateException.class, () -> view.tensor("x").getDouble(0, 0));
        view.close();
    }

    @Test
    void shouldBuildOnceOnly() {
        DataBatch.Builder builder = DataBatch.builder(allocator)
                .tensor("x", Tensor.allocate(allocator, DType.F32, Shape.of(2), Device.host()))
                .column("text", List.of("a", "b"));
        try (DataBatch batch = builder.build()) {
            assertEquals(2, batch.length());
            assertEquals("data batch builder already built: keys=[x][text]",
                    assertThrows(IllegalStateException.class, builder::build).getMessage());
            assertEquals("data batch builder already built: keys=[x][text]",
                    assertThrows(IllegalStateException.class, () -> builder.column("y", List.of(1, 2))).getMessage());
        }
    }
}
