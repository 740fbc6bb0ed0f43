package io.yatt.controller.internal.runtime;

import io.yatt.controller.TensorRef;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A producing worker's tensors that travel by reference: each published tensor is copied into a region of its own
 * (region id, byte offset 0) that the worker keeps until the step ends. Consumers in the same process pull rows
 * straight from the region (the in-process form of the shared-memory arena); stores are found by controller id and
 * worker id (the {@link TensorRef#ownerRank()} of their references). Thread-safe (synchronised).
 */
public final class ReferenceStore implements AutoCloseable {

    private static final Map<String, ReferenceStore> LOCAL = new ConcurrentHashMap<>();

    private record Region(String name, long step, Tensor tensor, int[] pulls) {
    }

    private final String key;
    private final int workerId;
    private final Allocator allocator;
    private final Map<Long, Region> regions = new LinkedHashMap<>();
    private long nextRegionId;
    private boolean closed;

    private ReferenceStore(String key, int workerId, Allocator allocator) {
        this.key = key;
        this.workerId = workerId;
        this.allocator = allocator;
    }

    /**
     * The store of worker {@code workerId} under controller {@code controllerId}, reachable by consumers of this
     * process until closed.
     *
     * @throws IllegalStateException if that worker has an open store already
     */
    public static ReferenceStore open(long controllerId, int workerId, Allocator allocator) {
        String key = controllerId + "/" + workerId;
        ReferenceStore store = new ReferenceStore(key, workerId, allocator);
        if (LOCAL.putIfAbsent(key, store) != null) {
            throw new IllegalStateException("reference store already open: controllerId=" + controllerId
                    + ", workerId=" + workerId);
        }
        return store;
    }

    /** Copies {@code tensor} into a new region and returns the reference to the whole of it. */
    public synchronized TensorRef publish(String name, long step, Tensor tensor) {
        checkOpen();
        Tensor region = Tensor.allocate(allocator, tensor.dtype(), tensor.shape(), Device.host());
        try {
            region.copyFrom(tensor);
        } catch (RuntimeException e) {
            region.close();
            throw e;
        }
        long regionId = nextRegionId++;
        regions.put(regionId, new Region(name, step, region, new int[1]));
        return TensorRef.of(workerId, regionId, region);
    }

    /**
     * A tensor of shape {@code [rows.size(), sample shape]} with the referenced rows, in order, allocated from
     * {@code allocator}; every row's producer must have its store in this process (controller {@code controllerId}).
     *
     * @throws IllegalArgumentException if a row's producer has no store here (the multi-process data plane is not
     *     built), its region is gone, or the rows disagree on dtype or sample shape
     */
    public static Tensor pull(long controllerId, List<TensorRef> rows, Allocator allocator) {
        TensorRef first = rows.getFirst();
        DType dtype = first.dtype();
        long[] sample = first.shape().dims();
        long[] dims = new long[sample.length + 1];
        dims[0] = rows.size();
        System.arraycopy(sample, 0, dims, 1, sample.length);
        Tensor out = Tensor.allocate(allocator, dtype, Shape.of(dims), Device.host());
        try {
            for (int i = 0; i < rows.size(); i++) {
                TensorRef row = rows.get(i);
                if (row.dtype() != dtype || !Arrays.equals(row.shape().dims(), sample)) {
                    throw new IllegalArgumentException("referenced rows disagree: index=" + i + ", ref=" + row
                            + ", expected dtype=" + dtype + " and sample shape " + first.shape());
                }
                ReferenceStore owner = LOCAL.get(controllerId + "/" + row.ownerRank());
                if (owner == null) {
                    throw new IllegalArgumentException("reference owner not reachable from this process:"
                            + " ownerRank=" + row.ownerRank() + ", ref=" + row);
                }
                owner.copyRow(row, out, i);
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    private synchronized void copyRow(TensorRef row, Tensor out, int index) {
        Region region = closed ? null : regions.get(row.regionId());
        if (region == null) {
            throw new IllegalArgumentException("referenced region is gone: ownerRank=" + workerId + ", ref=" + row);
        }
        long rowBytes = row.byteSize();
        if (rowBytes == 0 || row.byteOffset() % rowBytes != 0
                || row.byteOffset() / rowBytes >= region.tensor().shape().dim(0)) {
            throw new IllegalArgumentException("reference outside its region: ref=" + row + ", region shape="
                    + region.tensor().shape());
        }
        try (Tensor src = region.tensor().narrow(0, row.byteOffset() / rowBytes, 1);
             Tensor dst = out.narrow(0, index, 1)) {
            dst.copyFrom(src);
        }
        region.pulls()[0]++;
    }

    /**
     * Frees the regions published at or before {@code step} and names those no consumer pulled (what the step left
     * behind), sorted.
     */
    public synchronized List<String> endStep(long step) {
        List<Region> ended = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        regions.forEach((id, region) -> {
            if (region.step() <= step) {
                ended.add(region);
                ids.add(id);
            }
        });
        List<String> unpulled = new ArrayList<>();
        for (int i = 0; i < ended.size(); i++) {
            Region region = ended.get(i);
            if (region.pulls()[0] == 0) {
                unpulled.add(region.name() + "(step=" + region.step() + ", owner=" + workerId + ", region="
                        + ids.get(i) + ", bytes=" + region.tensor().byteSize() + ")");
            }
            region.tensor().close();
            regions.remove(ids.get(i));
        }
        unpulled.sort(Comparator.naturalOrder());
        return unpulled;
    }

    /** Number of regions held. */
    public synchronized int liveCount() {
        return regions.size();
    }

    /** Frees every region and makes the store unreachable. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        LOCAL.remove(key, this);
        for (Region region : regions.values()) {
            region.tensor().close();
        }
        regions.clear();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("reference store closed: workerId=" + workerId);
        }
    }
}
