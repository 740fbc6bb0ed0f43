package io.yatt.controller.internal.runtime;

import io.yatt.collectives.SharedMemory;
import io.yatt.controller.ReferenceColumn;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A producing worker's tensors that travel by reference: each published tensor is copied into a region of its own
 * that the worker keeps until its last consumer has pulled it. A region's rows start at byte offset 0, or, for a
 * store in a shm world's arena ({@link #open(long, int, Allocator, SharedMemory)}), at the region's offset in this
 * rank's shared region, so that a consumer of the same world reads them in place from the reference alone. The
 * controller tells every consumer how many pulls a dispatch makes of each region ({@link #CLAIM_KEY}); the consumer
 * passes that on with its pull, and the region is freed when every pull of its last dispatch has arrived. A step
 * that ends frees what is left and names it. Consumers in the same process pull rows straight from the region;
 * stores are found by controller id and worker id (the owner rank of their references). Thread-safe (synchronised).
 */
public final class ReferenceStore implements AutoCloseable {

    /**
     * Batch metadata key under which the controller sends a consumer the claim of its dispatch: a map with
     * {@code dispatch} (a long, unique per controller), {@code last} (whether no later dispatch uses these
     * references) and {@code consumers} (a list of {@code [owner, region, pulls]}: how many pulls this dispatch
     * makes of each region, over every consumer).
     */
    public static final String CLAIM_KEY = "yatt.referenceClaim";

    /** The largest host buffer a fetch of rows kept in device memory is staged through. */
    static final long DEVICE_STAGE_BYTES = 4L << 20;

    private static final Map<String, ReferenceStore> LOCAL = new ConcurrentHashMap<>();

    /**
     * What one dispatch announced about a region and the pulls of it that arrived.
     *
     * @param dispatch the dispatch's id
     * @param pulls    pulls the dispatch makes of the region
     * @param last     whether it is the region's last use
     */
    public record Claim(long dispatch, int pulls, boolean last) {
        /** @throws IllegalArgumentException if pulls is not positive */
        public Claim {
            if (pulls < 1) {
                throw new IllegalArgumentException("a claim needs a pull: dispatch=" + dispatch + ", pulls=" + pulls);
            }
        }
    }

    private static final class Region {
        final String name;
        final long step;
        final Tensor tensor;
        /** The byte offset references give the region's first row (0, or its offset in the shared region). */
        final long base;
        final Map<Long, int[]> pulls = new LinkedHashMap<>();
        boolean lastSeen;

        Region(String name, long step, Tensor tensor, long base) {
            this.name = name;
            this.step = step;
            this.tensor = tensor;
            this.base = base;
        }

        boolean done() {
            if (!lastSeen) {
                return false;
            }
            for (int[] p : pulls.values()) {
                if (p[0] < p[1]) {
                    return false;
                }
            }
            return true;
        }

        String progress() {
            if (pulls.isEmpty()) {
                return "0/?";
            }
            long got = 0;
            long expected = 0;
            for (int[] p : pulls.values()) {
                got += p[0];
                expected += p[1];
            }
            return got + "/" + expected;
        }
    }

    private final String key;
    private final int workerId;
    private final Allocator allocator;
    private final SharedMemory shared;
    private final Map<Long, Region> regions = new LinkedHashMap<>();
    private long nextRegionId;
    private long freedRegions;
    private boolean closed;

    private ReferenceStore(String key, int workerId, Allocator allocator, SharedMemory shared) {
        this.key = key;
        this.workerId = workerId;
        this.allocator = allocator;
        this.shared = shared;
    }

    /**
     * The store of worker {@code workerId} under controller {@code controllerId}, reachable by consumers of this
     * process until closed.
     *
     * @throws IllegalStateException if that worker has an open store already
     */
    public static ReferenceStore open(long controllerId, int workerId, Allocator allocator) {
        return open(controllerId, workerId, allocator, null);
    }

    /**
     * As {@link #open(long, int, Allocator)}; with {@code shared} (a shm world this worker is a rank of; the store
     * owns it from now on and closes it), regions live in this rank's arena, allocated from an allocator of its own,
     * and references give their offset there, so that consumers of the world read the rows in place.
     *
     * @throws IllegalStateException if that worker has an open store already (the shared memory is closed then)
     */
    public static ReferenceStore open(long controllerId, int workerId, Allocator allocator, SharedMemory shared) {
        String key = controllerId + "/" + workerId;
        Allocator regions = shared == null ? allocator : null;
        try {
            if (shared != null) {
                regions = shared.allocator("references-" + workerId);
            }
            ReferenceStore store = new ReferenceStore(key, workerId, regions, shared);
            if (LOCAL.putIfAbsent(key, store) != null) {
                throw new IllegalStateException("reference store already open: controllerId=" + controllerId
                        + ", workerId=" + workerId);
            }
            return store;
        } catch (RuntimeException e) {
            if (shared != null) {
                if (regions != null) {
                    regions.close();
                }
                shared.close();
            }
            throw e;
        }
    }

    /** The shm world this store keeps its regions in (also the world its worker pulls in place from), or null. */
    public SharedMemory sharedMemory() {
        return shared;
    }

    /**
     * Where consumers of this store's shm world find its regions, {@code <world id>/<rank>}, or null when its regions
     * are not in shared memory.
     */
    public String sharedLocation() {
        return shared == null ? null : shared.worldId() + "/" + shared.rank();
    }

    /** The store of worker {@code ownerRank} under controller {@code controllerId} in this process, or null. */
    static ReferenceStore local(long controllerId, int ownerRank) {
        return LOCAL.get(controllerId + "/" + ownerRank);
    }

    /** This store's worker id: the owner rank of its references. */
    public int workerId() {
        return workerId;
    }

    /**
     * Copies {@code tensor} (at least one row) into a new region; returns the column of its rows. The region stays on
     * the tensor's device (a CUDA tensor's rows are kept in device memory and staged to the host only when a consumer
     * fetches them), except in a shm world's store, whose regions are in the host arena so that consumers read them
     * in place.
     *
     * @throws io.yatt.ffi.cuda.CudaException if device memory cannot be allocated or the copy fails
     */
    public synchronized ReferenceColumn publish(String name, long step, Tensor tensor) {
        checkOpen();
        Device device = shared == null ? tensor.device() : Device.host();
        Tensor region = Tensor.allocate(allocator, tensor.dtype(), tensor.shape(), device);
        try {
            region.copyFrom(tensor);
        } catch (RuntimeException e) {
            region.close();
            throw e;
        }
        long base = 0;
        if (shared != null) {
            base = shared.offsetOf(region.segment());
            if (base < 0) {
                region.close();
                throw new IllegalStateException("reference region not in the shared arena: workerId=" + workerId
                        + ", name=" + name + ", allocator=" + allocator.name());
            }
        }
        long regionId = nextRegionId++;
        regions.put(regionId, new Region(name, step, region, base));
        long[] dims = tensor.shape().dims();
        Shape sample = Shape.of(Arrays.copyOfRange(dims, 1, dims.length));
        return ReferenceColumn.ofRuns(List.of(new ReferenceColumn.Run(workerId, regionId, base,
                sample.numel() * tensor.dtype().byteSize(), Math.toIntExact(dims[0]), tensor.dtype(), sample)));
    }

    /**
     * {@link #pull(long, ReferenceColumn, Map, Map, Supplier, Allocator)} with every owner in this process.
     *
     * @throws IllegalArgumentException as that method does
     */
    public static Tensor pull(long controllerId, ReferenceColumn column, Map<ReferenceColumn.Region, Claim> claims,
            Allocator allocator) {
        return pull(controllerId, column, claims, Map.of(), null, allocator);
    }

    /**
     * A tensor of shape {@code [rows, sample shape]} with the column's rows, in order, allocated from
     * {@code allocator}. A run whose owner has its store in this process (controller {@code controllerId}) is copied
     * from the region; any other is fetched over {@code remote} from the owner's endpoint in {@code endpoints}. Each
     * region's owner is told of the pull under {@code claims} (a region without a claim is pulled uncounted).
     *
     * @throws IllegalArgumentException if a row's owner is neither here nor has an endpoint, its region is gone, a
     *     fetch fails, or the rows disagree on dtype or sample shape
     */
    public static Tensor pull(long controllerId, ReferenceColumn column, Map<ReferenceColumn.Region, Claim> claims,
            Map<Integer, String> endpoints, Supplier<ReferencePlane> remote, Allocator allocator) {
        return pull(controllerId, column, claims, endpoints, Map.of(), null, remote, allocator);
    }

    /**
     * A tensor of shape {@code [rows, sample shape]} with the column's rows, in order, allocated from
     * {@code allocator}, each run by the cheapest path to its owner: a store in this process (controller
     * {@code controllerId}) is copied from directly; an owner whose shm location in {@code sharedLocations} is a rank
     * of this consumer's world {@code shared} is copied from in place in its arena (one copy; the owner is told of the
     * pull over {@code remote} and confirms its region was live); any other is fetched over {@code remote} from its
     * endpoint in {@code endpoints}. Each region's owner is told of the pull under {@code claims} (a region without a
     * claim is pulled uncounted).
     *
     * @throws IllegalArgumentException if a row's owner is neither here nor has an endpoint, is gone, its region is
     *     gone, a fetch fails, or the rows disagree on dtype or sample shape
     */
    public static Tensor pull(long controllerId, ReferenceColumn column, Map<ReferenceColumn.Region, Claim> claims,
            Map<Integer, String> endpoints, Map<Integer, String> sharedLocations, SharedMemory shared,
            Supplier<ReferencePlane> remote, Allocator allocator) {
        List<ReferenceColumn.Run> runs = column.runs();
        ReferenceColumn.Run first = runs.getFirst();
        long[] sample = first.sampleShape().dims();
        long[] dims = new long[sample.length + 1];
        dims[0] = column.size();
        System.arraycopy(sample, 0, dims, 1, sample.length);
        Map<ReferenceColumn.Region, Integer> lastRun = new LinkedHashMap<>();
        for (int r = 0; r < runs.size(); r++) {
            lastRun.put(runs.get(r).region(), r);
        }
        List<ReferenceColumn.Region> localRegions = new ArrayList<>();
        Tensor out = Tensor.allocate(allocator, first.dtype(), Shape.of(dims), Device.host());
        try {
            long row = 0;
            for (int r = 0; r < runs.size(); r++) {
                ReferenceColumn.Run run = runs.get(r);
                if (run.dtype() != first.dtype() || !run.sampleShape().equals(first.sampleShape())) {
                    throw new IllegalArgumentException("referenced rows disagree: row=" + row + ", run=" + run
                            + ", expected dtype=" + first.dtype() + " and sample shape " + first.sampleShape());
                }
                ReferenceStore owner = LOCAL.get(controllerId + "/" + run.ownerRank());
                if (owner != null) {
                    owner.copyRun(run, out, row);
                    if (lastRun.get(run.region()) == r) {
                        localRegions.add(run.region());
                    }
                } else {
                    String endpoint = endpoints.get(run.ownerRank());
                    if (endpoint == null || remote == null) {
                        throw new IllegalArgumentException("reference owner not reachable from this process:"
                                + " ownerRank=" + run.ownerRank() + ", run=" + run + ", endpoint=" + endpoint);
                    }
                    Claim claim = lastRun.get(run.region()) == r ? claims.get(run.region()) : null;
                    int sharedRank = sharedRank(sharedLocations.get(run.ownerRank()), shared);
                    if (sharedRank >= 0) {
                        remote.get().pullShared(endpoint, shared, sharedRank, run, claim, out, row);
                    } else {
                        remote.get().fetch(endpoint, run, claim, out, row);
                    }
                }
                row += run.rows();
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        for (ReferenceColumn.Region region : localRegions) {
            Claim claim = claims.get(region);
            if (claim != null) {
                LOCAL.get(controllerId + "/" + region.ownerRank()).pulled(region.regionId(), claim);
            }
        }
        return out;
    }

    /**
     * The owner's rank in {@code shared} when {@code location} ({@code <world id>/<rank>}, from
     * {@link #sharedLocation()}) names that world, otherwise -1 (another world, or none on either side).
     *
     * @throws IllegalArgumentException if the location is not of that form or its rank is not in the world
     */
    static int sharedRank(String location, SharedMemory shared) {
        if (location == null || shared == null) {
            return -1;
        }
        int slash = location.lastIndexOf('/');
        int rank;
        try {
            rank = slash < 1 ? -1 : Integer.parseInt(location.substring(slash + 1));
        } catch (NumberFormatException e) {
            rank = -1;
        }
        if (rank < 0) {
            throw new IllegalArgumentException("malformed shared reference location: location=" + location
                    + ", expected <world id>/<rank>");
        }
        if (!location.substring(0, slash).equals(shared.worldId())) {
            return -1;
        }
        if (rank >= shared.size()) {
            throw new IllegalArgumentException("shared reference owner outside the shm world: location=" + location
                    + ", worldSize=" + shared.size());
        }
        return rank;
    }

    /**
     * The claims a consumer got under {@link #CLAIM_KEY} (null: none, the references are pulled uncounted), by
     * region.
     *
     * @throws IllegalArgumentException if the value is not a claim, naming what is wrong
     */
    public static Map<ReferenceColumn.Region, Claim> claims(Object value) {
        if (value == null) {
            return Map.of();
        }
        if (!(value instanceof Map<?, ?> map) || !(map.get("dispatch") instanceof Long dispatch)
                || !(map.get("last") instanceof Boolean last) || !(map.get("consumers") instanceof List<?> consumers)
                || map.size() != 3) {
            throw new IllegalArgumentException("malformed reference claim: " + CLAIM_KEY + "=" + value
                    + ", expected {dispatch: long, last: boolean, consumers: [[owner, region, pulls]...]}");
        }
        Map<ReferenceColumn.Region, Claim> claims = new LinkedHashMap<>();
        for (Object entry : consumers) {
            if (!(entry instanceof List<?> c) || c.size() != 3 || !(c.get(0) instanceof Integer owner)
                    || !(c.get(1) instanceof Long region) || !(c.get(2) instanceof Integer pulls)) {
                throw new IllegalArgumentException("malformed reference claim entry: entry=" + entry
                        + ", expected [owner, region, pulls]");
            }
            claims.put(new ReferenceColumn.Region(owner, region), new Claim(dispatch, pulls, last));
        }
        return claims;
    }

    /** Copies the rows of {@code run} into {@code out} from row {@code at}. */
    synchronized void copyRun(ReferenceColumn.Run run, Tensor out, long at) {
        Region held = region(run);
        Tensor region = held.tensor;
        long rowBytes = run.sampleShape().numel() * run.dtype().byteSize();
        for (int k = 0; k < run.rows(); ) {
            long srcRow = (run.byteOffset() - held.base + k * run.rowStrideBytes()) / rowBytes;
            int count = 1;
            if (run.rowStrideBytes() == rowBytes) {
                count = run.rows() - k;
            }
            try (Tensor src = region.narrow(0, srcRow, count); Tensor dst = out.narrow(0, at + k, count)) {
                dst.copyFrom(src);
            }
            k += count;
        }
    }

    private Region region(ReferenceColumn.Run run) {
        Region region = closed ? null : regions.get(run.regionId());
        if (region == null) {
            throw new IllegalArgumentException("referenced region is gone: ownerRank=" + workerId + ", run=" + run);
        }
        long rowBytes = run.sampleShape().numel() * run.dtype().byteSize();
        long rows = region.tensor.shape().dim(0);
        long first = run.byteOffset() - region.base;
        long last = first + (run.rows() - 1L) * run.rowStrideBytes();
        if (rowBytes == 0 || region.tensor.dtype() != run.dtype() || first < 0 || last < 0 || first % rowBytes != 0
                || run.rowStrideBytes() % rowBytes != 0 || first / rowBytes >= rows
                || last / rowBytes >= rows
                || rowBytes * rows != region.tensor.byteSize()) {
            throw new IllegalArgumentException("reference outside its region: run=" + run + ", region shape="
                    + region.tensor.shape() + ", region dtype=" + region.tensor.dtype());
        }
        return region;
    }

    /** Receives the bytes of rows, the offset of the first within the requested rows. */
    interface RowSink {
        void accept(MemorySegment bytes, long at);
    }

    /**
     * Hands {@code sink} the bytes of {@code rows} rows of {@code rowBytes} each, from {@code referencedOffset} (as
     * references give it: from the region's base) of region {@code regionId} every {@code strideBytes} (one piece
     * when the rows are adjacent), holding the region meanwhile; the rows are of {@code dtype}.
     *
     * @throws IllegalArgumentException if the region is gone, holds another dtype, or the rows are not rows of it
     */
    synchronized void send(long regionId, long referencedOffset, long strideBytes, int rows, long rowBytes,
            DType dtype, RowSink sink) {
        Region region = closed ? null : regions.get(regionId);
        if (region == null) {
            throw new IllegalArgumentException("referenced region is gone: ownerRank=" + workerId + ", region="
                    + regionId);
        }
        if (dtype != region.tensor.dtype()) {
            throw new IllegalArgumentException("referenced rows disagree with their region: ownerRank=" + workerId
                    + ", region=" + regionId + ", dtype=" + dtype + ", expected dtype=" + region.tensor.dtype()
                    + " and shape " + region.tensor.shape());
        }
        long byteOffset = referencedOffset - region.base;
        long size = region.tensor.byteSize();
        long last = byteOffset + (rows - 1L) * strideBytes;
        if (rows < 1 || rowBytes < 1 || size % rowBytes != 0 || byteOffset % rowBytes != 0 || strideBytes % rowBytes != 0
                || byteOffset < 0 || last < 0 || byteOffset > size - rowBytes || last > size - rowBytes) {
            throw new IllegalArgumentException("reference outside its region: ownerRank=" + workerId + ", region="
                    + regionId + ", byteOffset=" + referencedOffset + ", rowStrideBytes=" + strideBytes + ", rows="
                    + rows + ", rowBytes=" + rowBytes + ", regionBytes=" + size);
        }
        if (!region.tensor.device().isHost()) {
            staged(region.tensor, allocator, DEVICE_STAGE_BYTES, byteOffset, strideBytes, rows, rowBytes, sink);
            return;
        }
        MemorySegment bytes = region.tensor.segment();
        if (strideBytes == rowBytes) {
            sink.accept(bytes.asSlice(byteOffset, rows * rowBytes), 0);
            return;
        }
        for (int k = 0; k < rows; k++) {
            sink.accept(bytes.asSlice(byteOffset + k * strideBytes, rowBytes), k * rowBytes);
        }
    }

    /**
     * {@link #send} of rows kept in device memory: they are staged through a host buffer from {@code allocator} of at
     * most {@code stageBytes} (one row when a row is larger), whole rows at a time, in order, so {@code sink} sees
     * host bytes at the same offsets as from a host region ({@code region} may be on any device).
     */
    static void staged(Tensor region, Allocator allocator, long stageBytes, long byteOffset, long strideBytes,
            int rows, long rowBytes, RowSink sink) {
        int perStage = (int) Math.max(1, Math.min(rows, stageBytes / rowBytes));
        long[] dims = region.shape().dims();
        dims[0] = perStage;
        try (Tensor stage = Tensor.allocate(allocator, region.dtype(), Shape.of(dims), Device.host())) {
            int k = 0;
            while (k < rows) {
                int staged = 0;
                long firstRow = (byteOffset + k * strideBytes) / rowBytes;
                if (strideBytes == rowBytes) {
                    staged = Math.min(perStage, rows - k);
                    try (Tensor src = region.narrow(0, firstRow, staged); Tensor dst = stage.narrow(0, 0, staged)) {
                        dst.copyFrom(src);
                    }
                } else {
                    for (; staged < perStage && k + staged < rows; staged++) {
                        long row = (byteOffset + (k + staged) * strideBytes) / rowBytes;
                        try (Tensor src = region.narrow(0, row, 1); Tensor dst = stage.narrow(0, staged, 1)) {
                            dst.copyFrom(src);
                        }
                    }
                }
                sink.accept(stage.segment().asSlice(0, staged * rowBytes), k * rowBytes);
                k += staged;
            }
        }
    }

    /**
     * Records one pull of region {@code regionId} under {@code claim}; frees the region when every pull of every
     * dispatch seen has arrived and one of them was its last use.
     *
     * @return whether the region was freed
     * @throws IllegalArgumentException if the region is gone, a dispatch announces another pull count than before, or
     *     it pulls more often than it announced
     */
    public synchronized boolean pulled(long regionId, Claim claim) {
        Region region = closed ? null : regions.get(regionId);
        if (region == null) {
            throw new IllegalArgumentException("referenced region is gone: ownerRank=" + workerId + ", region="
                    + regionId);
        }
        int[] p = region.pulls.computeIfAbsent(claim.dispatch(), d -> new int[] {0, claim.pulls()});
        if (p[1] != claim.pulls() || p[0] >= p[1]) {
            throw new IllegalArgumentException("pull does not match its dispatch: ownerRank=" + workerId
                    + ", region=" + regionId + ", dispatch=" + claim.dispatch() + ", pulls=" + claim.pulls()
                    + ", announced=" + p[1] + ", arrived=" + p[0]);
        }
        p[0]++;
        region.lastSeen |= claim.last();
        if (!region.done()) {
            return false;
        }
        regions.remove(regionId);
        region.tensor.close();
        freedRegions++;
        return true;
    }

    /**
     * Frees region {@code regionId}, published for a dispatch that failed before any consumer was told of it; it is
     * not counted as freed at a pull. A region already gone is left so.
     */
    public synchronized void unpublish(long regionId) {
        Region region = regions.remove(regionId);
        if (region != null) {
            region.tensor.close();
        }
    }

    /**
     * Frees the regions published at or before {@code step} that are still live and names them (what the step left
     * behind: a consumer that has not pulled, or references never dispatched), sorted, for example
     * {@code logp(step=7, owner=300, region=0, bytes=131072, pulled=1/2)} ({@code 0/?}: no pull arrived).
     */
    public synchronized List<String> endStep(long step) {
        List<String> left = new ArrayList<>();
        for (var it = regions.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Region> entry = it.next();
            Region region = entry.getValue();
            if (region.step > step) {
                continue;
            }
            left.add(region.name + "(step=" + region.step + ", owner=" + workerId + ", region=" + entry.getKey()
                    + ", bytes=" + region.tensor.byteSize() + ", pulled=" + region.progress() + ")");
            region.tensor.close();
            it.remove();
        }
        left.sort(Comparator.naturalOrder());
        return left;
    }

    /** Number of regions held. */
    public synchronized int liveCount() {
        return regions.size();
    }

    /** Number of regions freed because their last consumer pulled them. */
    public synchronized long freedCount() {
        return freedRegions;
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
            region.tensor.close();
        }
        regions.clear();
        if (shared != null) {
            allocator.close();
            shared.close();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("reference store closed: workerId=" + workerId);
        }
    }
}
