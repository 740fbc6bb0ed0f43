package io.yatt.bench.controller;

import io.yatt.controller.DataBatch;
import io.yatt.controller.WorkerMethod;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The step benchmark's worker methods. Inline: a worker returns its samples as {@code byte[]} and consumes samples the
 * controller sends. By reference: a worker returns its samples as a {@link DataBatch} (above the inline limit, so the
 * runtime keeps the rows and the result carries a reference column) and consumes the rows of its chunk, which the
 * runtime pulled from their owner before the method runs.
 */
final class StepWorker {

    static final String GENERATE_INLINE = "generateInline";
    static final String CONSUME_INLINE = "consumeInline";
    static final String GENERATE_BATCH = "generateBatch";
    static final String CONSUME_BATCH = "consumeBatch";

    private final int rank;
    private final int sampleBytes;
    private final Allocator allocator;

    StepWorker(int rank, int sampleBytes, Allocator allocator) {
        this.rank = rank;
        this.sampleBytes = sampleBytes;
        this.allocator = allocator;
    }

    /** The worker's samples as a DataBatch; above the inline limit the runtime keeps it and sends references. */
    @WorkerMethod(dispatch = "ONE_TO_ALL")
    DataBatch generateBatch(int samples) {
        Tensor data = Tensor.allocate(allocator, DType.U8, Shape.of(samples, sampleBytes), Device.host());
        data.segment().fill((byte) (rank + 1));
        return DataBatch.builder(allocator).tensor("samples", data).build();
    }

    /** The bytes of the rows this worker got (pulled by the runtime before this runs). */
    @WorkerMethod(dispatch = "DP_COMPUTE_METRIC")
    long consumeBatch(DataBatch batch) {
        Tensor data = batch.tensor("samples");
        if (data.byteSize() > 0 && data.segment().get(ValueLayout.JAVA_BYTE, 0) == 0) {
            throw new IllegalStateException("pulled samples empty: rank=" + rank);
        }
        return data.byteSize();
    }

    @WorkerMethod(dispatch = "ALL_TO_ALL")
    byte[] generateInline(int samples) {
        byte[] data = new byte[Math.multiplyExact(samples, sampleBytes)];
        Arrays.fill(data, (byte) (rank + 1));
        return data;
    }

    @WorkerMethod(dispatch = "ALL_TO_ALL")
    long consumeInline(byte[] data) {
        long sum = 0;
        for (byte b : data) {
            sum += b;
        }
        if (sum == 0 && data.length > 0) {
            throw new IllegalStateException("inline samples arrived empty: bytes=" + data.length + ", rank=" + rank);
        }
        return data.length;
    }

}
