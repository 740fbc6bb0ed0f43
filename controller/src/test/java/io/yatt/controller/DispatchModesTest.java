package io.yatt.controller;

import static io.yatt.controller.DataBatchTest.ids;
import static io.yatt.controller.DataBatchTest.samples;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DispatchModesTest {
    private Allocator allocator;

    @BeforeEach
    void openAllocator() {
        allocator = Allocator.root("dispatch-test");
    }

    @AfterEach
    void closeAllocator() {
        allocator.close();
    }

    /** {@code n} workers without mesh registrations. */
    static GroupTopology plain(int n) {
        List<GroupTopology.WorkerInfo> workers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            workers.add(new GroupTopology.WorkerInfo(i, Map.of()));
        }
        return new GroupTopology(workers);
    }

    /**
     * 8 workers of a 1-4-2 training layout (paper rank order r = dp * 4 + tp): mesh "actor" has DP size 2, the
     * collect rank of each DP group is its TP rank 0.
     */
    static GroupTopology tpDp() {
        List<GroupTopology.WorkerInfo> workers = new ArrayList<>();
        for (int r = 0; r < 8; r++) {
            workers.add(new GroupTopology.WorkerInfo(r,
                    Map.of("actor", new GroupTopology.MeshRank(r / 4, 2, r % 4 == 0))));
        }
        return new GroupTopology(workers);
    }

    /**
     * Runs each worker as the identity on its DataBatch argument: its result is a view of its input, as a worker's
     * {@code input.union(outputs)} would be.
     */
    static List<Object> echo(List<Object[]> dispatched) {
        List<Object> results = new ArrayList<>();
        for (Object[] args : dispatched) {
            DataBatch input = (DataBatch) args[0];
            results.add(input.slice(0, input.length()));
        }
        return results;
    }

    /** What the runtime does once collect returned: closes every dispatched batch. */
    static void closeDispatched(List<Object[]> dispatched) {
        for (Object[] args : dispatched) {
            for (Object arg : args) {
                ((DataBatch) arg).close();
            }
        }
    }

    @Test
    void shouldGiveEveryWorkerTheSameArgumentsForOneToAll() {
        List<Object[]> dispatched = DispatchModes.ONE_TO_ALL.dispatch(new Object[] {"step", 3}, plain(3));
        assertEquals(3, dispatched.size());
        for (Object[] args : dispatched) {
            assertEquals(List.of("step", 3), Arrays.asList(args));
        }
        assertEquals(Arrays.asList("a", null, "c"),
                DispatchModes.ONE_TO_ALL.collect(Arrays.asList("a", null, "c"), plain(3)));
    }

    @Test
    void shouldGiveEachWorkerItsOwnViewOfABatchForOneToAll() {
        try (DataBatch batch = samples(allocator, 0, 2)) {
            List<Object[]> dispatched = DispatchModes.ONE_TO_ALL.dispatch(new Object[] {batch}, plain(2));
            assertNotSame(dispatched.get(0)[0], dispatched.get(1)[0]);
            assertNotSame(batch, dispatched.get(0)[0]);
            assertEquals(List.of(0, 1), ids((DataBatch) dispatched.get(1)[0]));
            dispatched.forEach(args -> ((DataBatch) args[0]).close());
        }
    }

    @Test
    void shouldRejectWrongResultCount() {
        assertEquals("ONE_TO_ALL expects one result per worker: workers=4, got=3",
                assertThrows(IllegalArgumentException.class,
                        () -> DispatchModes.ONE_TO_ALL.collect(List.of(1, 2, 3), plain(4))).getMessage());
        assertEquals("DP_COMPUTE_METRIC expects one result per worker: workers=2, got=1",
                assertThrows(IllegalArgumentException.class,
                        () -> DispatchModes.DP_COMPUTE_METRIC.collect(List.of(1), plain(2))).getMessage());
        assertEquals("RANK_ZERO expects one result per worker: workers=2, got=1",
                assertThrows(IllegalArgumentException.class,
                        () -> DispatchModes.RANK_ZERO.collect(List.of(1), plain(2))).getMessage());
    }

    @Test
    void shouldSendElementIToWorkerIForAllToAllAndDpCompute() {
        for (DispatchModes.Mode mode : List.of(DispatchModes.ALL_TO_ALL, DispatchModes.DP_COMPUTE)) {
            List<Object[]> dispatched = mode.dispatch(new Object[] {List.of("a", "b", "c"), List.of(1, 2, 3)},
                    plain(3));
            assertEquals(List.of("b", 2), Arrays.asList(dispatched.get(1)));
            assertEquals(List.of("c", 3), Arrays.asList(dispatched.get(2)));
            assertEquals(List.of(7, 8, 9), mode.collect(List.of(7, 8, 9), plain(3)));
        }
    }

    @Test
    void shouldRejectAllToAllArgumentsThatAreNotOnePerWorker() {
        assertEquals("ALL_TO_ALL expects one argument per worker: workers=4, got=3, index=0",
                assertThrows(IllegalArgumentException.class,
                        () -> DispatchModes.ALL_TO_ALL.dispatch(new Object[] {List.of(1, 2, 3)}, plain(4)))
                        .getMessage());
        assertEquals("DP_COMPUTE expects a list per argument: index=1, type=java.lang.String",
                assertThrows(IllegalArgumentException.class,
                        () -> DispatchModes.DP_COMPUTE.dispatch(new Object[] {List.of(1, 2), "x"}, plain(2)))
                        .getMessage());
    }

    @Test
    void shouldPadChunkConcatAndStripForDpComputeProto() {
        GroupTopology topology = plain(4);
        try (DataBatch batch = samples(allocator, 0, 10)) {
            List<Object[]> dispatched = DispatchModes.DP_COMPUTE_PROTO.dispatch(new Object[] {batch}, topology);
            // 10 samples padded by 2 (copies of samples 0 and 1) to 12, chunks of 3.
            assertEquals(List.of(0, 1, 2), ids((DataBatch) dispatched.get(0)[0]));
            assertEquals(List.of(3, 4, 5), ids((DataBatch) dispatched.get(1)[0]));
            assertEquals(List.of(6, 7, 8), ids((DataBatch) dispatched.get(2)[0]));
            assertEquals(List.of(9, 0, 1), ids((DataBatch) dispatched.get(3)[0]));
            assertEquals(2, ((DataBatch) dispatched.get(3)[0]).metadata().get(DispatchModes.PAD_SIZE_KEY));
            try (DataBatch collected = (DataBatch) DispatchModes.DP_COMPUTE_PROTO.collect(echo(dispatched),
                    topology)) {
                assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), ids(collected));
                assertEquals(Map.of("temperature", 1.0), collected.metadata());
            }
            closeDispatched(dispatched);
        }
    }

    @Test
    void shouldStripPaddingSpanningSeveralChunks() {
        GroupTopology topology = plain(4);
        try (DataBatch batch = samples(allocator, 0, 1)) {
            List<Object[]> dispatched = DispatchModes.DP_COMPUTE_PROTO.dispatch(new Object[] {batch}, topology);
            for (Object[] args : dispatched) {
                assertEquals(List.of(0), ids((DataBatch) args[0]));
            }
            try (DataBatch collected = (DataBatch) DispatchModes.DP_COMPUTE_PROTO.collect(echo(dispatched),
                    topology)) {
                assertEquals(List.of(0), ids(collected));
            }
            closeDispatched(dispatched);
        }
    }

    @Test
    void shouldRejectProtoArgumentsThatAreNotBatchesOrOfDifferentLengths() {
        try (DataBatch a = samples(allocator, 0, 4); DataBatch b = samples(allocator, 0, 3)) {
            long before = allocator.allocatedBytes();
            assertEquals("DP_COMPUTE_PROTO expects DataBatch arguments: index=1, type=java.lang.Integer",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.DP_COMPUTE_PROTO.dispatch(new Object[] {a, 5}, plain(2)))
                            .getMessage());
            assertEquals("DP_COMPUTE_PROTO expects arguments of one length: index=1, length=3, expected=4",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.DP_COMPUTE_PROTO.dispatch(new Object[] {a, b}, plain(2)))
                            .getMessage());
            assertEquals(before, allocator.allocatedBytes());
        }
    }

    @Test
    void shouldRejectProtoResultsWithoutPadSizeOrBatch() {
        try (DataBatch batch = samples(allocator, 0, 2)) {
            List<Object> noPad = new ArrayList<>(List.of(batch.slice(0, 1), batch.slice(1, 1)));
            assertEquals("DP_COMPUTE_PROTO result lacks the pad size: rank=0, key=yatt.dispatch.padSize, value=null"
                    + " (keep the input's metadata in the result)",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.DP_COMPUTE_PROTO.collect(noPad, plain(2))).getMessage());
            assertTrue(((DataBatch) noPad.get(1)).isClosed(), "collect closes results also when it fails");
            List<Object> notBatch = new ArrayList<>(List.of(batch.withMetadata(DispatchModes.PAD_SIZE_KEY, 0), "oops"));
            assertEquals("DP_COMPUTE_PROTO expects a DataBatch result: rank=1, type=java.lang.String",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.DP_COMPUTE_PROTO.collect(notBatch, plain(2))).getMessage());
            List<Object> disagree = new ArrayList<>(List.of(batch.withMetadata(DispatchModes.PAD_SIZE_KEY, 0),
                    batch.withMetadata(DispatchModes.PAD_SIZE_KEY, 1)));
            assertEquals("DP_COMPUTE_PROTO results disagree on the pad size: rank=1, padSize=1, expected=0",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.DP_COMPUTE_PROTO.collect(disagree, plain(2))).getMessage());
        }
    }

    @Test
    void shouldPadAndChunkButReturnListForDpComputeMetric() {
        try (DataBatch batch = samples(allocator, 0, 3)) {
            List<Object[]> dispatched = DispatchModes.DP_COMPUTE_METRIC.dispatch(new Object[] {batch}, plain(2));
            assertEquals(List.of(0, 1), ids((DataBatch) dispatched.get(0)[0]));
            assertEquals(List.of(2, 0), ids((DataBatch) dispatched.get(1)[0]));
            dispatched.forEach(args -> ((DataBatch) args[0]).close());
            Map<String, Double> m0 = Map.of("loss", 0.5);
            Map<String, Double> m1 = Map.of("loss", 0.25);
            assertEquals(List.of(m0, m1), DispatchModes.DP_COMPUTE_METRIC.collect(List.of(m0, m1), plain(2)));
        }
    }

    @Test
    void shouldCallOnlyRankZero() {
        List<Object[]> dispatched = DispatchModes.RANK_ZERO.dispatch(new Object[] {"save", 7}, plain(3));
        assertEquals(List.of("save", 7), Arrays.asList(dispatched.get(0)));
        assertNull(dispatched.get(1));
        assertNull(dispatched.get(2));
        assertEquals("done", DispatchModes.RANK_ZERO.collect(Arrays.asList("done", null, null), plain(3)));
        try (DataBatch batch = samples(allocator, 0, 2)) {
            DataBatch view = batch.slice(0, 2);
            assertThrows(IllegalArgumentException.class,
                    () -> DispatchModes.RANK_ZERO.collect(List.of(view), plain(3)));
            assertTrue(view.isClosed(), "collect closes results also when it fails");
        }
    }

    @Test
    void shouldGiveEveryWorkerOfADpGroupItsChunkAndCollectFromCollectRanks() {
        GroupTopology topology = tpDp();
        DispatchModes.Mesh mesh = DispatchModes.mesh("actor");
        try (DataBatch batch = samples(allocator, 0, 6)) {
            List<Object[]> dispatched = mesh.dispatch(new Object[] {batch}, topology);
            for (int r = 0; r < 8; r++) {
                assertEquals(r < 4 ? List.of(0, 1, 2) : List.of(3, 4, 5), ids((DataBatch) dispatched.get(r)[0]));
            }
            try (DataBatch collected = (DataBatch) mesh.collect(echo(dispatched), topology)) {
                assertEquals(List.of(0, 1, 2, 3, 4, 5), ids(collected));
            }
            closeDispatched(dispatched);
        }
    }

    @Test
    void shouldCollectMeshResultsInDpOrderNotWorkerOrder() {
        // DP rank 1 on workers 0-1, DP rank 0 on workers 2-3; collect ranks are workers 1 and 2.
        GroupTopology topology = new GroupTopology(List.of(
                new GroupTopology.WorkerInfo(0, Map.of("gen", new GroupTopology.MeshRank(1, 2, false))),
                new GroupTopology.WorkerInfo(1, Map.of("gen", new GroupTopology.MeshRank(1, 2, true))),
                new GroupTopology.WorkerInfo(2, Map.of("gen", new GroupTopology.MeshRank(0, 2, true))),
                new GroupTopology.WorkerInfo(3, Map.of("gen", new GroupTopology.MeshRank(0, 2, false)))));
        DispatchModes.Mesh mesh = DispatchModes.mesh("gen");
        try (DataBatch batch = samples(allocator, 0, 4)) {
            List<Object[]> dispatched = mesh.dispatch(new Object[] {batch}, topology);
            assertEquals(List.of(2, 3), ids((DataBatch) dispatched.get(0)[0]));
            assertEquals(List.of(0, 1), ids((DataBatch) dispatched.get(3)[0]));
            try (DataBatch collected = (DataBatch) mesh.collect(echo(dispatched), topology)) {
                assertEquals(List.of(0, 1, 2, 3), ids(collected));
            }
            closeDispatched(dispatched);
        }
    }

    @Test
    void shouldRejectIncompleteOrInconsistentMeshes() {
        DispatchModes.Mesh mesh = DispatchModes.mesh("actor");
        GroupTopology missing = new GroupTopology(List.of(
                new GroupTopology.WorkerInfo(0, Map.of("actor", new GroupTopology.MeshRank(0, 1, true))),
                new GroupTopology.WorkerInfo(1, Map.of("rollout", new GroupTopology.MeshRank(0, 1, true)))));
        GroupTopology sizes = new GroupTopology(List.of(
                new GroupTopology.WorkerInfo(0, Map.of("actor", new GroupTopology.MeshRank(0, 2, true))),
                new GroupTopology.WorkerInfo(1, Map.of("actor", new GroupTopology.MeshRank(0, 1, true)))));
        GroupTopology twoCollectors = new GroupTopology(List.of(
                new GroupTopology.WorkerInfo(0, Map.of("actor", new GroupTopology.MeshRank(0, 1, true))),
                new GroupTopology.WorkerInfo(1, Map.of("actor", new GroupTopology.MeshRank(0, 1, true)))));
        GroupTopology gap = new GroupTopology(List.of(
                new GroupTopology.WorkerInfo(0, Map.of("actor", new GroupTopology.MeshRank(0, 3, true))),
                new GroupTopology.WorkerInfo(1, Map.of("actor", new GroupTopology.MeshRank(2, 3, true)))));
        try (DataBatch batch = samples(allocator, 0, 6)) {
            Object[] args = {batch};
            assertEquals("MESH(actor) needs every worker in the mesh: rank=1, meshes=[rollout]",
                    assertThrows(IllegalArgumentException.class, () -> mesh.dispatch(args, missing)).getMessage());
            assertEquals("MESH(actor) DP size differs between workers: rank=1, dpSize=1, expected=2",
                    assertThrows(IllegalArgumentException.class, () -> mesh.dispatch(args, sizes)).getMessage());
            assertEquals("MESH(actor) needs exactly one collect worker per DP rank: dpRank=0, collectWorkers=2",
                    assertThrows(IllegalArgumentException.class, () -> mesh.dispatch(args, twoCollectors))
                            .getMessage());
            assertEquals("MESH(actor) has no worker for a DP rank: dpRank=1, dpSize=3",
                    assertThrows(IllegalArgumentException.class, () -> mesh.dispatch(args, gap)).getMessage());
        }
    }

    @Test
    void shouldRejectMeshBatchNotDivisibleByDpSizeWithoutLeaking() {
        try (DataBatch ok = samples(allocator, 0, 4); DataBatch odd = samples(allocator, 0, 5)) {
            long before = allocator.allocatedBytes();
            assertEquals("MESH(actor) expects a batch length divisible by the DP size: index=1, length=5, dpSize=2",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.mesh("actor").dispatch(new Object[] {ok, odd}, tpDp())).getMessage());
            assertEquals(before, allocator.allocatedBytes());
            assertEquals("MESH(actor) expects DataBatch arguments: index=0, type=java.lang.String",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.mesh("actor").dispatch(new Object[] {"x"}, tpDp())).getMessage());
        }
    }

    @Test
    void shouldRejectMissingResultFromCollectRank() {
        List<Object> results = new ArrayList<>();
        for (int r = 0; r < 8; r++) {
            results.add(null);
        }
        assertEquals("MESH(actor) expects a DataBatch result: rank=0, type=null",
                assertThrows(IllegalArgumentException.class,
                        () -> DispatchModes.mesh("actor").collect(results, tpDp())).getMessage());
    }

    @Test
    void shouldLookUpBuiltInModesByName() {
        for (DispatchModes.Mode mode : DispatchModes.Mode.values()) {
            assertSame(mode, DispatchModes.byName(mode.name()));
        }
        assertEquals(DispatchModes.mesh("actor"), DispatchModes.byName("MESH(actor)"));
        assertEquals("MESH(actor)", DispatchModes.mesh("actor").name());
        assertInstanceOf(DispatchModes.Mesh.class, DispatchModes.byName("MESH(gen)"));
        assertEquals("unknown dispatch mode: name=3D_PROTO, expected one of [ONE_TO_ALL, ALL_TO_ALL, DP_COMPUTE,"
                + " DP_COMPUTE_PROTO, DP_COMPUTE_METRIC, RANK_ZERO, MESH(<mesh name>)]",
                assertThrows(IllegalArgumentException.class, () -> DispatchModes.byName("3D_PROTO")).getMessage());
        assertEquals("unknown dispatch mode: name=MESH(), expected one of [ONE_TO_ALL, ALL_TO_ALL, DP_COMPUTE,"
                + " DP_COMPUTE_PROTO, DP_COMPUTE_METRIC, RANK_ZERO, MESH(<mesh name>)]",
                assertThrows(IllegalArgumentException.class, () -> DispatchModes.byName("MESH()")).getMessage());
        assertEquals("invalid mesh name: meshName=a(b, expected a non-empty name without parentheses",
                assertThrows(IllegalArgumentException.class, () -> DispatchModes.mesh("a(b")).getMessage());
    }

    @Test
    void shouldRejectWrongResultCountInEveryMode() {
        for (Dispatch mode : List.of(DispatchModes.ALL_TO_ALL, DispatchModes.DP_COMPUTE, DispatchModes.DP_COMPUTE_PROTO)) {
            assertEquals(mode.name() + " expects one result per worker: workers=2, got=3",
                    assertThrows(IllegalArgumentException.class,
                            () -> mode.collect(Arrays.asList(1, 2, 3), plain(2))).getMessage());
        }
        assertEquals("MESH(actor) expects one result per worker: workers=8, got=1",
                assertThrows(IllegalArgumentException.class,
                        () -> DispatchModes.mesh("actor").collect(Arrays.asList(1), tpDp())).getMessage());
    }

    @Test
    void shouldRejectProtoResultsShorterThanPaddingOrClosed() {
        try (DataBatch batch = samples(allocator, 0, 2)) {
            List<Object> shortResults = new ArrayList<>(List.of(batch.slice(0, 1).moveWithMetadata(
                    DispatchModes.PAD_SIZE_KEY, 3), batch.slice(1, 1).moveWithMetadata(DispatchModes.PAD_SIZE_KEY, 3)));
            assertEquals("DP_COMPUTE_PROTO results shorter than the padding: padSize=3, length=2",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.DP_COMPUTE_PROTO.collect(shortResults, plain(2))).getMessage());
            DataBatch closed = batch.slice(0, 1);
            closed.close();
            List<Object> withClosed = new ArrayList<>(List.of(batch.withMetadata(DispatchModes.PAD_SIZE_KEY, 0),
                    closed));
            assertEquals("DP_COMPUTE_PROTO got a closed DataBatch result: rank=1",
                    assertThrows(IllegalArgumentException.class,
                            () -> DispatchModes.DP_COMPUTE_PROTO.collect(withClosed, plain(2))).getMessage());
        }
    }

    @Test
    void shouldFreePaddedChunksWhenDispatchFailsHalfWay() {
        // Two batches of 10 samples (160 bytes each) and room for one padded chunk of 3 samples (48 bytes): the
        // second argument's padded chunk exceeds the limit.
        try (Allocator limited = allocator.child("limited", 2 * 160 + 48);
                DataBatch a = samples(limited, 0, 10); DataBatch b = samples(limited, 0, 10)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> DispatchModes.DP_COMPUTE_PROTO.dispatch(new Object[] {a, b}, plain(4)));
            assertTrue(e.getMessage().startsWith("allocation exceeds limit: allocator=dispatch-test/limited"),
                    e.getMessage());
            assertEquals(2 * 160, limited.allocatedBytes());
        }
    }

    @Test
    void shouldCarryPadSizeToResultsBuiltFromScratch() {
        GroupTopology topology = plain(4);
        try (DataBatch batch = samples(allocator, 0, 6)) {
            List<Object[]> dispatched = DispatchModes.DP_COMPUTE_PROTO.dispatch(new Object[] {batch}, topology);
            List<Object> results = new ArrayList<>();
            for (Object[] args : dispatched) {
                DataBatch input = (DataBatch) args[0];
                // A worker that builds a fresh batch: twice each sample's id, without the input's metadata.
                Tensor doubled = Tensor.allocate(allocator, DType.I64, Shape.of(input.length()), Device.host());
                for (int i = 0; i < input.length(); i++) {
                    doubled.setDouble(2 * input.tensor("id").getDouble(i), i);
                }
                Object fresh = DataBatch.builder(allocator).tensor("doubled", doubled).build();
                results.add(DispatchModes.carryPadSize(args, fresh));
            }
            try (DataBatch collected = (DataBatch) DispatchModes.DP_COMPUTE_PROTO.collect(results, topology)) {
                List<Double> values = new ArrayList<>();
                for (int i = 0; i < collected.length(); i++) {
                    values.add(collected.tensor("doubled").getDouble(i));
                }
                // 6 samples padded by 2 to 8; the padding (samples 0 and 1 again) is stripped.
                assertEquals(List.of(0.0, 2.0, 4.0, 6.0, 8.0, 10.0), values);
            }
            closeDispatched(dispatched);
        }
        assertEquals("kept", DispatchModes.carryPadSize(new Object[] {"x"}, "kept"));
    }
}
