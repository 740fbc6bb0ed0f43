package io.yatt.bench.controller;

import io.yatt.controller.DataBatch;
import io.yatt.controller.ReferenceRegistry;
import io.yatt.controller.TensorRef;
import io.yatt.controller.WorkerMethod;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

/**
 * The step benchmark's worker methods. Inline: a worker returns its samples as {@code byte[]} and consumes samples the
 * controller sends. By reference: a worker fills an off-heap region with its samples, publishes it in its
 * {@link ReferenceRegistry} for the next rank of its group and returns the {@link TensorRef}; the consumer pulls the
 * bytes out of the owner's region ({@link LocalRegions}) and records the pull, which frees the region.
 */
final class StepWorker implements AutoCloseable {

    static final String GENERATE_INLINE = "generateInline";
    static final String CONSUME_INLINE = "consumeInline";
    static final String GENERATE_REF = "generateRef";
    static final String CONSUME_REF = "consumeRef";
    static final String LIVE_REFERENCES = "liveReferences";
    static final String GENERATE_BATCH = "generateBatch";
    static final String CONSUME_BATCH = "consumeBatch";

    private final int rank;
    private final int sampleBytes;
    private final LocalRegions regions;
    private final ReferenceRegistry registry = ReferenceRegistry.create();
    private final Allocator allocator;

    StepWorker(int rank, int sampleBytes, LocalRegions regions, Allocator allocator) {
        this.rank = rank;
        this.sampleBytes = sampleBytes;
        this.regions = regions;
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

    @WorkerMethod(dispatch = "ONE_TO_ALL")
    TensorRef generateRef(long step, int samples, int groupSize) {
        Arena arena = Arena.ofShared();
        long regionId = -1;
        try {
            MemorySegment region = arena.allocate((long) samples * sampleBytes);
            region.fill((byte) (rank + 1));
            regionId = regions.add(region, registry);
            long id = regionId;
            TensorRef ref = new TensorRef(rank, regionId, 0, DType.U8, Shape.of(samples, sampleBytes));
            return registry.publish("samples.rank" + rank, step, ref, List.of((rank + 1) % groupSize), () -> {
                regions.remove(id);
                arena.close();
            });
        } catch (RuntimeException e) {
            if (regionId >= 0) {
                regions.remove(regionId);
            }
            arena.close();
            throw e;
        }
    }

    @WorkerMethod(dispatch = "ALL_TO_ALL")
    long consumeRef(TensorRef ref) {
        LocalRegions.Region owner = regions.get(ref.regionId());
        long pulled;
        try (Arena own = Arena.ofConfined(); Tensor view = ref.resolve(owner.segment())) {
            MemorySegment copy = own.allocate(ref.byteSize());
            MemorySegment.copy(view.segment(), 0, copy, 0, ref.byteSize());
            if (copy.byteSize() > 0 && copy.get(ValueLayout.JAVA_BYTE, 0) == 0) {
                throw new IllegalStateException("pulled samples empty: ref=" + ref + ", rank=" + rank);
            }
            pulled = copy.byteSize();
        }
        owner.owner().consumed(ref, rank);
        return pulled;
    }

    @WorkerMethod(dispatch = "ONE_TO_ALL")
    int liveReferences(long step) {
        return registry.endStep(step).size();
    }

    @Override
    public void close() {
        registry.close();
    }
}
