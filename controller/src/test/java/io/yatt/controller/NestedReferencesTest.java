package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * DataBatch arguments nested in lists and maps go by reference exactly as top-level ones do: a tensor above the inline
 * limit is copied into the controller's store, each worker pulls it bit for bit, the copy is freed at its last pull,
 * and a call that fails while publishing leaves nothing behind.
 */
class NestedReferencesTest {

    /** 300 rows of 64 f32: 76800 bytes, above the 64 KiB limit. */
    private static final int ROWS = 300;
    private static final int COLS = 64;
    private static final long BIG_BYTES = (long) ROWS * COLS * Float.BYTES;

    static final class Methods {
        /** {@code value} with every batch in it replaced by {@link #describe(DataBatch)} of what this worker got. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        Object digests(Object value) {
            return NestedReferencesTest.describe(value);
        }

        /** As {@link #digests}, for this worker's element of an ALL_TO_ALL list. */
        @WorkerMethod(dispatch = "ALL_TO_ALL")
        Object digestsEach(Object value) {
            return NestedReferencesTest.describe(value);
        }
    }

    @Test
    void shouldPullBatchesNestedInAListArgumentBitForBitAndFreeTheCopiesAtTheLastPull() {
        withPlane(Allocator.root("nested-list-controller"), (plane, group) -> {
            try (Allocator caller = Allocator.root("nested-list-caller")) {
                DataBatch first = batch(caller, ROWS, 1);
                DataBatch second = batch(caller, ROWS, 2);
                List<DataBatch> turns = List.of(first, second);
                Object expected = describe(turns);
                long before = plane.payloadStats().totalBytes();
                assertEquals(List.of(expected, expected), group.call("digests", turns));
                // two batches of 76800 bytes to two workers would be 307200 bytes inline
                long controllerBytes = plane.payloadStats().totalBytes() - before;
                assertTrue(controllerBytes < 8192, "controller bytes=" + controllerBytes);
                // each copy pulled by both workers: freed at the second pull
                assertArrayEquals(new long[] {0, 2}, plane.argumentReferences());
                assertEquals(0, plane.allocatorBytes());
                // the call took the nested batches over, as it does with those that travel inline
                assertTrue(first.isClosed());
                assertTrue(second.isClosed());
                assertEquals(0, caller.allocatedBytes());
                assertEquals(List.of(), group.endStep(1));
            }
        });
    }

    @Test
    void shouldPullABigBatchNestedInAMapArgumentByReferenceAndSendASmallOneInline() {
        withPlane(Allocator.root("nested-map-controller"), (plane, group) -> {
            try (Allocator caller = Allocator.root("nested-map-caller")) {
                Map<String, DataBatch> byName = new LinkedHashMap<>();
                byName.put("big", batch(caller, ROWS, 3));
                byName.put("small", batch(caller, 4, 4));
                Object expected = describe(byName);
                assertEquals(List.of(expected, expected), group.call("digests", byName));
                // only the big batch's "x" went by reference; the small batch and both "id" tensors travelled inline
                assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
                assertEquals(0, plane.allocatorBytes());
                assertTrue(byName.get("big").isClosed());
                assertTrue(byName.get("small").isClosed());
                assertEquals(List.of(), group.endStep(1));
            }
        });
    }

    @Test
    void shouldCountEveryPlaceABatchNestedInListsOfMapsIsSentAndFreeItAtTheLastPull() {
        withPlane(Allocator.root("nested-deep-controller"), (plane, group) -> {
            try (Allocator caller = Allocator.root("nested-deep-caller")) {
                DataBatch big = batch(caller, ROWS, 5);
                DataBatch small = batch(caller, 2, 6);
                // the same batch twice (in a map in the list, and in a list in the list): one copy, four pulls
                List<Object> value = List.of(Map.of("turn", big), List.of(big, small));
                Object expected = describe(value);
                assertEquals(List.of(expected, expected), group.call("digests", value));
                assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
                assertEquals(0, plane.allocatorBytes());
                assertTrue(big.isClosed());
                assertTrue(small.isClosed());
                assertEquals(0, caller.allocatedBytes());
                assertEquals(List.of(), group.endStep(1));
            }
        });
    }

    @Test
    void shouldLeaveTheElementsOfAnAllToAllListToTheCaller() {
        withPlane(Allocator.root("nested-each-controller"), (plane, group) -> {
            try (Allocator caller = Allocator.root("nested-each-caller");
                 DataBatch first = batch(caller, ROWS, 7);
                 DataBatch second = batch(caller, ROWS, 8)) {
                Object expected = List.of(describe(first), describe(second));
                assertEquals(expected, group.call("digestsEach", List.of(first, second)));
                // each worker pulls its own element once
                assertArrayEquals(new long[] {0, 2}, plane.argumentReferences());
                assertEquals(0, plane.allocatorBytes());
                // ALL_TO_ALL views its elements, as it does without references: the caller keeps them
                assertFalse(first.isClosed());
                assertFalse(second.isClosed());
                assertEquals(List.of(), group.endStep(1));
            }
        });
    }

    @Test
    void shouldFreeTheFirstCopyAndKeepNothingWhenTheSecondNestedBatchFailsToPublish() {
        // room for one copy of 76800 bytes, not two
        withPlane(Allocator.root("nested-fail-controller", BIG_BYTES + 1024), (plane, group) -> {
            try (Allocator caller = Allocator.root("nested-fail-caller");
                 DataBatch first = batch(caller, ROWS, 9);
                 DataBatch second = batch(caller, ROWS, 10)) {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> group.call("digests", List.of(first, second)));
                assertEquals("allocation exceeds limit: allocator=nested-fail-controller, requested=76800,"
                        + " allocated=76800, limit=77824", e.getMessage());
                assertEquals(0, plane.allocatorBytes());
                assertArrayEquals(new long[] {0, 0}, plane.argumentReferences());
                assertEquals(List.of(), group.endStep(1));
                // nothing was handed on: the caller keeps both batches, unchanged, and can send them again
                assertFalse(first.isClosed());
                assertFalse(second.isClosed());
                Object expected = describe(List.of(first));
                assertEquals(List.of(expected, expected), group.call("digests", List.of(first.slice(0, ROWS))));
                assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
            }
        });
    }

    @Test
    void shouldSendABatchNestedDeepByReferenceAndRefuseDeeperOnesWithTheCodecsMessage() {
        withPlane(Allocator.root("nested-depth-controller"), (plane, group) -> {
            try (Allocator caller = Allocator.root("nested-depth-caller")) {
                // an argument is at depth 1 of the payload: 56 lists put the batch at 57, and the deepest part of its
                // wire form (a reference run's sample shape) 7 levels below, at 64, the deepest the codec nests
                DataBatch deep = batch(caller, ROWS, 11);
                Object expected = describe(nest(deep, 56));
                assertEquals(List.of(expected, expected), group.call("digests", nest(deep, 56)));
                assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
                assertTrue(deep.isClosed());
                // 63 lists put the batch at 64, the deepest the walker reaches: it copies the batch, the codec refuses
                // its wire form at 65; the call took the batch over, and the copy nobody pulled is named at the step's
                // end (so from 57 lists to 63)
                DataBatch deeper = batch(caller, ROWS, 12);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> group.call("digests", nest(deeper, 63)));
                assertEquals("payload nested too deep: depth=65, max=64", e.getMessage());
                assertTrue(deeper.isClosed());
                assertArrayEquals(new long[] {1, 1}, plane.argumentReferences());
                assertEquals(List.of("x(step=1, owner=2147483647, region=1, bytes=76800, pulled=0/?)"),
                        group.endStep(1));
                // 64 lists put the batch at 65, beyond what the codec and the walker reach: not copied, refused by the
                // codec, and left to the caller (the call never took it over)
                DataBatch tooDeep = batch(caller, ROWS, 13);
                e = assertThrows(IllegalArgumentException.class, () -> group.call("digests", nest(tooDeep, 64)));
                assertEquals("payload nested too deep: depth=65, max=64", e.getMessage());
                assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
                assertEquals(0, plane.allocatorBytes());
                assertEquals(List.of(), group.endStep(1));
                assertFalse(tooDeep.isClosed());
                tooDeep.close();
                assertEquals(0, caller.allocatedBytes());
            }
        });
    }

    /** {@code batch} inside {@code lists} nested single-element lists. */
    private static Object nest(DataBatch batch, int lists) {
        Object value = batch;
        for (int i = 0; i < lists; i++) {
            value = List.of(value);
        }
        return value;
    }

    /** A plane on {@code controller} with two in-process workers of group "nested", at step 1; all closed after. */
    private static void withPlane(Allocator controller, PlaneTest test) {
        try (controller;
             ControlPlane plane = ControlPlane.launch(TestWorkers.context().allocator(controller)
                     .threading(ControlPlane.Threading.INVOKER))) {
            List<Worker> workers = new ArrayList<>();
            try {
                for (int rank = 0; rank < 2; rank++) {
                    workers.add(Worker.start(new Worker.Context().workerId(400 + rank).rank(rank)
                            .roles(List.of("nested"))
                            .methods(WorkerMethods.annotated(new Methods(), MethodHandles.lookup()))
                            .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
                }
                WorkerGroup group = plane.group("nested", 2, TestWorkers.GROUP_TIMEOUT_NS);
                plane.step(1);
                test.run(new Probe(plane, controller), group);
            } finally {
                workers.forEach(Worker::close);
            }
        }
    }

    private interface PlaneTest {
        void run(Probe plane, WorkerGroup group);
    }

    /** The plane and its allocator, as the tests look at them. */
    private record Probe(ControlPlane plane, Allocator allocator) {
        long[] argumentReferences() {
            return plane.argumentReferences();
        }

        PayloadStats payloadStats() {
            return plane.payloadStats();
        }

        long allocatorBytes() {
            return allocator.allocatedBytes();
        }
    }

    /** "x": {@code rows} x 64 f32, element (i, j) = seed * 100000 + i * 64 + j; "id": {@code rows} f32, i. */
    private static DataBatch batch(Allocator a, int rows, int seed) {
        Tensor x = Tensor.allocate(a, DType.F32, Shape.of(rows, COLS), Device.host());
        Tensor id = Tensor.allocate(a, DType.F32, Shape.of(rows), Device.host());
        for (int i = 0; i < rows; i++) {
            id.setDouble(i, i);
            for (int j = 0; j < COLS; j++) {
                x.setDouble(seed * 100000.0 + i * COLS + j, i, j);
            }
        }
        return DataBatch.builder(a).tensor("x", x).tensor("id", id).build();
    }

    /** {@code value} with every batch replaced by {@link #describe(DataBatch)}; lists and maps kept. */
    static Object describe(Object value) {
        return switch (value) {
            case DataBatch batch -> describe(batch);
            case List<?> list -> list.stream().map(NestedReferencesTest::describe).toList();
            case Map<?, ?> map -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                map.forEach((k, v) -> out.put(k, describe(v)));
                yield out;
            }
            default -> value;
        };
    }

    /** Per tensor key: its dtype, shape and the SHA-256 of its bytes; the batch's column keys. */
    private static Map<String, Object> describe(DataBatch batch) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String key : batch.tensorKeys().stream().sorted().toList()) {
            Tensor t = batch.tensor(key);
            out.put(key, t.dtype() + " " + t.shape() + " " + sha256(t));
        }
        out.put("columns", batch.columnKeys().stream().sorted().toList());
        return out;
    }

    private static String sha256(Tensor t) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(t.segment().toArray(ValueLayout.JAVA_BYTE)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
