package io.yatt.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Cross-process pulls: the producer ("actor") is a worker JVM, the consumer ("critic") a worker in this JVM; the rows
 * go owner to consumer over the reference data plane (udp 127.0.0.1), never through the controller.
 */
class RemoteReferenceTest {

    private static final List<String> WORKER_JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

    static final class Consumer {
        /** SHA-256 of the batch's "bytes" tensor, as the consumer received it. */
        @WorkerMethod(dispatch = "DP_COMPUTE_METRIC")
        String digest(DataBatch batch) throws NoSuchAlgorithmException {
            Tensor t = batch.tensor("bytes");
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(t.segment().toArray(ValueLayout.JAVA_BYTE)));
        }
    }

    /** SHA-256 of the rows the producer makes at {@code step}, computed here. */
    static String expectedDigest(long step, int rows) throws NoSuchAlgorithmException {
        byte[] bytes = new byte[rows * 1024];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < 1024; j++) {
                bytes[i * 1024 + j] = RemoteReferenceMain.rowByte(step, i, j);
            }
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void shouldPullRowsFromAProducerInAnotherJvmBitForBitAndFreeThemThere() throws Exception {
        ControlPlane plane = ControlPlane.launch(TestWorkers.context().jobName("remote-refs"));
        try (Allocator consumerAllocator = Allocator.root("remote-consumer");
             WorkerProcesses launcher = WorkerProcesses.launch(plane, 1,
                     ProcessHandle.current().info().command().orElseThrow(), WORKER_JVM_FLAGS,
                     System.getProperty("java.class.path"), RemoteReferenceMain.class.getName(), List.of(), Map.of());
             Worker consumer = Worker.start(new Worker.Context().workerId(100).rank(0).roles(List.of("critic"))
                     .allocator(consumerAllocator)
                     .methods(WorkerMethods.annotated(new Consumer(), MethodHandles.lookup()))
                     .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory()))) {
            WorkerGroup actor = plane.group("actor", 1, TimeUnit.SECONDS.toNanos(120));
            WorkerGroup critic = plane.group("critic", 1, TimeUnit.SECONDS.toNanos(120));
            long[] controllerBytes = new long[2];
            int[] rows = {128, 512};
            long fetched = 0;
            for (int s = 0; s < 2; s++) {
                long step = s + 1;
                plane.step(step);
                long before = plane.payloadStats().totalBytes();
                DataBatch produced = assertInstanceOf(DataBatch.class, ((List<?>) actor.call("produce", step,
                        rows[s])).getFirst());
                try (produced) {
                    assertInstanceOf(ReferenceColumn.class, produced.column("bytes"));
                    // the owner keeps exactly its region until the consumer has pulled it
                    assertEquals(List.of(List.of((long) rows[s] * 1024, fetched, 0L)), actor.call("stats"));
                    assertEquals(List.of(expectedDigest(step, rows[s])), critic.call("digest", produced));
                }
                fetched += rows[s] * 1024L;
                controllerBytes[s] = plane.payloadStats().totalBytes() - before;
                assertEquals(List.of(List.of(0L, fetched, 0L)), actor.call("stats"));
                assertEquals(new PayloadStats(consumer.payloadStats().encodedBytes(),
                        consumer.payloadStats().decodedBytes(), 0, fetched), consumer.payloadStats());
                assertEquals(List.of(), actor.endStep(step));
            }
            // the controller's share of a step does not grow with the rows pulled across processes
            assertEquals(controllerBytes[0], controllerBytes[1]);
            assertTrue(controllerBytes[1] < 4096, "controller bytes=" + controllerBytes[1]);
            assertEquals(0, plane.payloadStats().referenceServedBytes() + plane.payloadStats().referenceFetchedBytes());
            plane.shutdownWorkers("test done");
            assertArrayEquals(new int[] {0}, launcher.waitFor(TimeUnit.SECONDS.toNanos(60)));
        } finally {
            plane.close();
        }
    }

    /** A batch of {@code rows} rows of 1 KiB under "bytes", as the producer makes them at {@code step}. */
    private static DataBatch rowsBatch(Allocator allocator, long step, int rows) {
        Tensor bytes = Tensor.allocate(allocator, io.yatt.tensor.DType.U8, io.yatt.tensor.Shape.of(rows, 1024),
                io.yatt.tensor.Device.host());
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < 1024; j++) {
                bytes.segment().set(ValueLayout.JAVA_BYTE, i * 1024L + j, RemoteReferenceMain.rowByte(step, i, j));
            }
        }
        return DataBatch.builder(allocator).tensor("bytes", bytes).build();
    }

    @Test
    void shouldSendALargeArgumentTensorByReferenceThatAWorkerJvmPullsFromTheController() throws Exception {
        ControlPlane plane = ControlPlane.launch(TestWorkers.context().jobName("controller-refs"));
        try (Allocator callerAllocator = Allocator.root("controller-refs-caller");
             WorkerProcesses launcher = WorkerProcesses.launch(plane, 1,
                     ProcessHandle.current().info().command().orElseThrow(), WORKER_JVM_FLAGS,
                     System.getProperty("java.class.path"), RemoteReferenceMain.class.getName(), List.of(),
                     Map.of())) {
            WorkerGroup actor = plane.group("actor", 1, TimeUnit.SECONDS.toNanos(120));
            long step = 3;
            int rows = 256;
            plane.step(step);
            long before = plane.payloadStats().totalBytes();
            try (DataBatch batch = rowsBatch(callerAllocator, step, rows)) {
                // 256 KiB, four times the inline limit: the controller keeps a copy, the worker JVM fetches it
                assertEquals(List.of(expectedDigest(step, rows)), actor.call("digestArgument", batch));
            }
            long controllerBytes = plane.payloadStats().totalBytes() - before;
            assertTrue(controllerBytes < 4096, "controller bytes=" + controllerBytes);
            // pulled by its one consumer: freed at once, nothing left for the step's end
            assertArrayEquals(new long[] {0, 1}, plane.argumentReferences());
            assertEquals(0, callerAllocator.allocatedBytes());
            assertEquals(List.of(), actor.endStep(step));
            // batches nested in a list argument go the same way: 128 and 256 rows of 1 KiB, both above the limit
            before = plane.payloadStats().totalBytes();
            List<DataBatch> turns = List.of(rowsBatch(callerAllocator, step, 128),
                    rowsBatch(callerAllocator, step, 256));
            assertEquals(List.of(List.of(expectedDigest(step, 128), expectedDigest(step, 256))),
                    actor.call("digestArguments", turns));
            controllerBytes = plane.payloadStats().totalBytes() - before;
            assertTrue(controllerBytes < 4096, "controller bytes=" + controllerBytes);
            // each copy freed at its one pull; the call took the nested batches over and closed them
            assertArrayEquals(new long[] {0, 3}, plane.argumentReferences());
            assertEquals(0, callerAllocator.allocatedBytes());
            assertEquals(List.of(), actor.endStep(step));
            plane.shutdownWorkers("test done");
            assertArrayEquals(new int[] {0}, launcher.waitFor(TimeUnit.SECONDS.toNanos(60)));
        } finally {
            plane.close();
        }
    }
}
