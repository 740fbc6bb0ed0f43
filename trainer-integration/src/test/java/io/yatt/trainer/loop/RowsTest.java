package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.DataBatch;
import io.yatt.tensor.Allocator;
import org.junit.jupiter.api.Test;

/** Request and result batches from arrays: a failure partway through leaves nothing allocated. */
class RowsTest {

    @Test
    void shouldReleaseATensorWhoseValuesDoNotFit() {
        try (Allocator allocator = Allocator.root("rows-test")) {
            assertThrows(IndexOutOfBoundsException.class, () -> Rows.ints(allocator, new int[5], 2, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> Rows.floats(allocator, new float[7], 3, 2));
            assertEquals(0, allocator.liveCount());
        }
    }

    @Test
    void shouldReleaseTensorsMadeBeforeAFailurePartwayThroughABatch() {
        try (Allocator allocator = Allocator.root("rows-test")) {
            Rows.Builder b = Rows.batch(allocator).ints("input_ids", new int[] {1, 2, 3, 4}, 2, 2)
                    .ints("attention_mask", new int[] {1, 1, 1, 1}, 2, 2);
            assertEquals(2, allocator.liveCount());
            assertThrows(IndexOutOfBoundsException.class, () -> b.floats("response_mask", new float[5], 2, 2));
            assertEquals(0, allocator.liveCount());
        }
    }

    @Test
    void shouldReleaseEveryTensorWhenTheBatchDoesNotBuild() {
        try (Allocator allocator = Allocator.root("rows-test")) {
            Rows.Builder b = Rows.batch(allocator).ints("prompt_index", new int[] {4, 9}, 2, 0)
                    .doubles("score", 1.0, 0.0, 0.5);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::build);
            assertEquals("sample count mismatch: key=score, length=3, expected=2 (from key=prompt_index)",
                    e.getMessage());
            assertEquals(0, allocator.liveCount());
        }
    }

    @Test
    void shouldReleaseEveryTensorOnADuplicateKey() {
        try (Allocator allocator = Allocator.root("rows-test")) {
            Rows.Builder b = Rows.batch(allocator).longs("seed", new long[] {7, 8});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> b.longs("seed", new long[] {1, 2}));
            assertEquals("duplicate key in batch: key=seed", e.getMessage());
            assertEquals(0, allocator.liveCount());
        }
    }

    @Test
    void shouldHandItsTensorsToTheBuiltBatch() {
        try (Allocator allocator = Allocator.root("rows-test")) {
            try (DataBatch batch = Rows.batch(allocator).ints("responses", new int[] {5, 6, 7, 8}, 2, 2)
                    .floats("values", new float[] {0.5f, -1f, 2f, 0f}, 2, 2).metadata("step", 3L).build()) {
                assertEquals(2, allocator.liveCount());
                assertArrayEquals(new int[] {5, 6, 7, 8}, Rows.ints(batch, "responses"));
                assertArrayEquals(new float[] {0.5f, -1f, 2f, 0f}, Rows.floats(batch, "values"));
                assertEquals(3L, batch.metadata().get("step"));
            }
            assertEquals(0, allocator.liveCount());
        }
    }
}
