package io.yatt.controller.internal.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.controller.DataBatch;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BatchesTest {
    private Allocator allocator;

    @BeforeEach
    void openAllocator() {
        allocator = Allocator.root("batches-test");
    }

    @AfterEach
    void closeAllocator() {
        allocator.close();
    }

    private DataBatch batch() {
        Tensor x = Tensor.allocate(allocator, DType.F32, Shape.of(4, 2), Device.host());
        return DataBatch.builder(allocator).tensor("x", x).build();
    }

    @Test
    void shouldCloseBatchesAtEveryDepthOfListsMapsArraysAndSets() {
        DataBatch top = batch();
        DataBatch inList = batch();
        DataBatch inMap = batch();
        DataBatch inArray = batch();
        DataBatch inSet = batch();
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("b", inMap);
        map.put("n", 3);
        Object value = List.of(top, List.of(inList, "text"), map, new Object[] {inArray},
                new LinkedHashSet<>(List.of(inSet)), new byte[] {1, 2});

        assertTrue(Batches.holdsBatch(value));
        Batches.close(value);

        for (DataBatch b : List.of(top, inList, inMap, inArray, inSet)) {
            assertTrue(b.isClosed());
        }
        assertEquals(0, allocator.allocatedBytes());
    }

    @Test
    void shouldCloseABatchReachableTwiceWithoutError() {
        DataBatch shared = batch();
        Batches.close(List.of(shared, List.of(shared), new Object[] {shared}));
        assertTrue(shared.isClosed());
        assertEquals(0, allocator.allocatedBytes());
    }

    @Test
    void shouldLeaveKeptBatchesOpenWithFewAndManyKept() {
        for (int kept : new int[] {1, 8, 9, 20}) {
            List<DataBatch> keep = new ArrayList<>();
            List<DataBatch> drop = new ArrayList<>();
            for (int i = 0; i < kept; i++) {
                keep.add(batch());
                drop.add(batch());
            }
            List<Object> value = new ArrayList<>(drop);
            value.add(List.copyOf(keep));

            Batches.close(value, Map.of("kept", keep));

            for (DataBatch b : drop) {
                assertTrue(b.isClosed(), "kept=" + kept);
            }
            for (DataBatch b : keep) {
                assertFalse(b.isClosed(), "kept=" + kept);
                b.close();
            }
        }
        assertEquals(0, allocator.allocatedBytes());
    }

    @Test
    void shouldFindNoBatchInPlainValues() {
        assertFalse(Batches.holdsBatch(null));
        assertFalse(Batches.holdsBatch(new byte[32]));
        assertFalse(Batches.holdsBatch(List.of(1, "a", new float[2], Map.of("k", List.of(2L)))));
        assertFalse(Batches.holdsBatch(new Object[] {List.of(), Map.of()}));
        Batches.close(List.of(1, "a"), null);
    }

    @Test
    void shouldIgnoreBatchesAlreadyClosedByTheirUser() {
        DataBatch closed = batch();
        closed.close();
        DataBatch open = batch();
        Batches.close(List.of(closed, open));
        assertTrue(open.isClosed());
        assertEquals(0, allocator.allocatedBytes());
    }
}
