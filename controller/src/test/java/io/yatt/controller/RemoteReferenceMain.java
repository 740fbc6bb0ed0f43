package io.yatt.controller;

import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.util.List;

/**
 * A producer worker JVM for {@link RemoteReferenceTest}: "actor" rows of 1 KiB whose bytes follow
 * {@link #rowByte}, kept by reference; its consumers live in another process.
 */
final class RemoteReferenceMain {

    private RemoteReferenceMain() {
    }

    /** Byte {@code j} of row {@code i} of step {@code step}'s rows. */
    static byte rowByte(long step, int i, int j) {
        return (byte) (i * 131 + j * 7 + (i * j) % 251 + step * 17);
    }

    static final class Methods {
        final Allocator allocator;
        Worker worker;

        Methods(Allocator allocator) {
            this.allocator = allocator;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        DataBatch produce(long step, int rows) {
            Tensor bytes = Tensor.allocate(allocator, DType.U8, Shape.of(rows, 1024), Device.host());
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < 1024; j++) {
                    bytes.segment().set(ValueLayout.JAVA_BYTE, i * 1024L + j, rowByte(step, i, j));
                }
            }
            return DataBatch.builder(allocator).tensor("bytes", bytes).build();
        }

        /** SHA-256 of the batch's "bytes" tensor as this worker received it (pulled from the controller). */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        String digestArgument(DataBatch batch) throws java.security.NoSuchAlgorithmException {
            Tensor t = batch.tensor("bytes");
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(t.segment().toArray(ValueLayout.JAVA_BYTE)));
        }

        /** {@link #digestArgument} of each batch of {@code batches}, in order. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        List<String> digestArguments(List<DataBatch> batches) throws java.security.NoSuchAlgorithmException {
            List<String> digests = new java.util.ArrayList<>();
            for (DataBatch batch : batches) {
                digests.add(digestArgument(batch));
            }
            return digests;
        }

        /** This worker's allocated bytes and its reference bytes served and fetched. */
        @WorkerMethod(dispatch = "ONE_TO_ALL")
        List<Long> stats() {
            PayloadStats s = worker.payloadStats();
            return List.of(allocator.allocatedBytes(), s.referenceServedBytes(), s.referenceFetchedBytes());
        }
    }

    public static void main(String[] args) throws InterruptedException {
        Worker.Context ctx = Worker.Context.fromEnvironment(System.getenv());
        try (Allocator allocator = Allocator.root("remote-producer")) {
            Methods methods = new Methods(allocator);
            try (Worker worker = Worker.start(ctx.roles(List.of("actor")).allocator(allocator)
                    .methods(WorkerMethods.annotated(methods, MethodHandles.lookup())))) {
                methods.worker = worker;
                worker.awaitShutdown();
            }
        }
    }
}
