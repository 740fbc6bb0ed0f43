package io.yatt.hybrid;

import io.yatt.collectives.CollectiveHandle;
import io.yatt.collectives.Communicator;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.ffi.cuda.CudaStream;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * One rank's endpoint of weight sync to a separate (not colocated) rollout group: trainer ranks stream their
 * generation shards (for example {@link HybridEngine#generationWeights()}) to rollout ranks in fixed-size buckets.
 * Who sends to whom is {@link WeightSyncTopology}'s; each source trainer rank and its rollout ranks share a
 * communicator split from the sync communicator, over which the source broadcasts.
 *
 * <p>One sync, collective over the whole sync communicator ({@link #send} on every trainer rank, {@link #receive}
 * on every rollout rank):
 * <ol>
 *   <li>each source broadcasts a header (manifest length, version) and the {@link SyncManifest} (names, dtypes,
 *       shapes, byte offsets, version, per-tensor CRC32C); each rollout rank checks it (manifest checksum, version
 *       newer than its own, names, dtypes and shapes equal to its weights);</li>
 *   <li>every rank reports a status (all-gather of one int); if any rank failed, every rank throws
 *       {@link WeightSyncException} and no bucket moves;</li>
 *   <li>each source packs its tensors into buckets of {@link Config#bucketByteSize()} bytes (a tensor larger than a
 *       bucket spans several) and broadcasts them one after another, at most two in flight (two bucket buffers on
 *       the sender); rollout ranks receive straight into a staging buffer and update the CRC32C of each tensor as its
 *       pieces land;</li>
 *   <li>every rank reports again; only if every rollout rank verified every tensor do the rollout ranks copy staging
 *       into their weights and take the new version. Otherwise every rank throws and the weights and version stay
 *       as they were: nothing is applied in part, on any rollout rank.</li>
 * </ol>
 *
 * <p>Memory: a source holds two buckets; a rollout rank holds its weights plus one staging copy (kept between syncs
 * for reuse; {@link #releaseStaging()} frees it). Host tensors (in-process and shm backends) by default; the factories
 * that take a {@link Device} keep every buffer (header, status, manifest bytes, buckets, staging) on that CUDA device
 * for the nccl and cuda-local backends: buckets are packed by device copies and broadcast from device memory (NCCL
 * broadcast), the rollout ranks apply staging to their device weights by device copies. The checksums are computed
 * on the host from copies of each tensor (trainer) and each received bucket (rollout), one bucket at a time. Confined
 * to the rank's thread.
 */
public final class WeightSync implements AutoCloseable {

    /** Default bytes per bucket: 64 MiB. */
    public static final long DEFAULT_BUCKET_BYTE_SIZE = 64L << 20;
    /** Largest bytes per bucket: 1 GiB. */
    public static final long MAX_BUCKET_BYTE_SIZE = 1L << 30;

    /** How long to wait on an in-flight bucket; the operation's own deadline (the communicator's) comes first. */
    private static final long AWAIT_NS = TimeUnit.DAYS.toNanos(1);
    private static final int ROOT = 0;
    private static final int OK = 0;

    /** Which side of the sync an endpoint is. */
    public enum Role {
        /** Sends generation shards ({@link #send}). */
        TRAINER,
        /** Receives them into its weights ({@link #receive}). */
        ROLLOUT
    }

    /**
     * Sender settings, validated on construction.
     *
     * @param bucketByteSize bytes per bucket, in {@code [1, MAX_BUCKET_BYTE_SIZE]}
     */
    public record Config(long bucketByteSize) {

        /** @throws IllegalArgumentException if the bucket size is out of range */
        public Config {
            checkBucketByteSize(bucketByteSize);
        }

        /** {@link #DEFAULT_BUCKET_BYTE_SIZE}. */
        public static Config defaults() {
            return new Config(DEFAULT_BUCKET_BYTE_SIZE);
        }
    }

    /**
     * What one sync did on this rank.
     *
     * @param version the version synced
     * @param byteSize bytes this rank sent (a source) or received (a rollout rank); 0 for other trainer ranks
     * @param bucketCount buckets sent or received
     * @param tensorCount tensors sent or received
     * @param timeNs wall time of the sync on this rank
     */
    public record SyncStats(long version, long byteSize, long bucketCount, int tensorCount, long timeNs) {
    }

    /** Test hook: sees (and may change) a bucket's bytes, on a sender before it goes, on a receiver as it lands. */
    @FunctionalInterface
    interface BucketHook {
        void accept(long version, WeightBucket bucket, MemorySegment bytes);
    }

    private final WeightSyncTopology topology;
    private final Role role;
    private final int rank;
    private final Communicator comm;
    private final Communicator group;
    private final Config config;
    private final Allocator allocator;
    private final Device device;
    private final Tensor header;
    private final Tensor statusSend;
    private final Tensor statusRecv;
    /** Host mirrors of the control tensors (the same tensors when {@link #device} is the host). */
    private final Tensor headerHost;
    private final Tensor statusSendHost;
    private final Tensor statusRecvHost;
    /** Device path: a host buffer of one bucket, for the checksums. */
    private Tensor checksumChunk;
    /** Device path: the stream of the packing and applying copies, made on first use. */
    private CudaStream copyStream;
    private final Map<String, Tensor> weights;
    private final Tensor[] buckets = new Tensor[2];
    private Tensor staging;
    private long version = -1;
    private BucketHook hook;
    private boolean closed;

    private WeightSync(WeightSyncTopology topology, Role role, int rank, Communicator comm, Config config,
                       Allocator allocator, Map<String, Tensor> weights, Device device) {
        this.topology = topology;
        this.device = device;
        this.role = role;
        this.rank = rank;
        this.comm = comm;
        this.config = config;
        this.weights = weights;
        int color;
        int key;
        if (role == Role.TRAINER) {
            color = topology.destinations(rank).isEmpty() ? -1 : rank;
            key = 0;
        } else {
            color = topology.sourceOf(rank);
            key = 1 + rank;
        }
        this.group = comm.split(color, key).orElse(null);
        this.allocator = allocator.child("weight-sync-" + (role == Role.TRAINER ? "trainer" : "rollout") + rank);
        this.header = Tensor.allocate(this.allocator, DType.I64, Shape.of(2), device);
        this.statusSend = Tensor.allocate(this.allocator, DType.I32, Shape.of(1), device);
        this.statusRecv = Tensor.allocate(this.allocator, DType.I32, Shape.of(topology.worldSize()), device);
        this.headerHost = mirror(header);
        this.statusSendHost = mirror(statusSend);
        this.statusRecvHost = mirror(statusRecv);
    }

    /** The host tensor that stands for {@code t}: itself on the host, else a host copy of its shape. */
    private Tensor mirror(Tensor t) {
        return device.isHost() ? t : Tensor.allocate(allocator, t.dtype(), t.shape(), Device.host());
    }

    /**
     * Trainer rank {@code trainerRank}'s endpoint; collective over {@code comm} (every trainer and rollout rank makes
     * its endpoint, since it splits the source groups).
     *
     * @throws IllegalArgumentException if {@code comm} is not the topology's sync communicator at this rank
     */
    public static WeightSync trainer(WeightSyncTopology topology, int trainerRank, Communicator comm,
                                     Allocator allocator, Config config) {
        Objects.requireNonNull(topology, "topology");
        Objects.requireNonNull(allocator, "allocator");
        Objects.requireNonNull(config, "config");
        if (trainerRank < 0 || trainerRank >= topology.trainerSize()) {
            throw new IllegalArgumentException("trainer rank out of range: rank=" + trainerRank + ", trainerSize="
                    + topology.trainerSize());
        }
        checkComm(topology, comm, trainerRank);
        return new WeightSync(topology, Role.TRAINER, trainerRank, comm, config, allocator, Map.of(), Device.host());
    }

    /**
     * Trainer rank {@code trainerRank}'s endpoint with its buffers on {@code device} (the communicator's CUDA device
     * for nccl and cuda-local); {@link #send} then takes contiguous tensors on that device. See
     * {@link #trainer(WeightSyncTopology, int, Communicator, Allocator, Config)}.
     *
     * @throws IllegalArgumentException if {@code comm} is not the topology's sync communicator at this rank
     */
    public static WeightSync trainer(WeightSyncTopology topology, int trainerRank, Communicator comm,
                                     Allocator allocator, Config config, Device device) {
        Objects.requireNonNull(topology, "topology");
        Objects.requireNonNull(allocator, "allocator");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(device, "device");
        if (trainerRank < 0 || trainerRank >= topology.trainerSize()) {
            throw new IllegalArgumentException("trainer rank out of range: rank=" + trainerRank + ", trainerSize="
                    + topology.trainerSize());
        }
        checkComm(topology, comm, trainerRank);
        return new WeightSync(topology, Role.TRAINER, trainerRank, comm, config, allocator, Map.of(), device);
    }

    /**
     * Rollout rank {@code rolloutRank}'s endpoint, which syncs into {@code weights} (contiguous, writable host
     * tensors by name, owned by the caller; see {@link #allocateGenerationWeights}); collective over {@code comm} as
     * {@link #trainer}. Its version starts at {@code -1} (none), so the first sync may carry any version
     * {@code >= 0}.
     *
     * @throws IllegalArgumentException if {@code comm} is not the topology's sync communicator at this rank, or a
     *         tensor is not a contiguous writable host tensor
     */
    public static WeightSync rollout(WeightSyncTopology topology, int rolloutRank, Communicator comm,
                                     Map<String, Tensor> weights, Allocator allocator) {
        return rollout(topology, rolloutRank, comm, weights, allocator, Device.host());
    }

    /**
     * Rollout rank {@code rolloutRank}'s endpoint whose weights and buffers are on {@code device} (contiguous
     * writable tensors there; see {@link #allocateGenerationWeights(ReshardPlan, WeightSyncTopology, int, Allocator,
     * Device)}). See {@link #rollout(WeightSyncTopology, int, Communicator, Map, Allocator)}.
     *
     * @throws IllegalArgumentException if {@code comm} is not the topology's sync communicator at this rank, or a
     *         tensor is not a contiguous writable tensor on {@code device}
     */
    public static WeightSync rollout(WeightSyncTopology topology, int rolloutRank, Communicator comm,
                                     Map<String, Tensor> weights, Allocator allocator, Device device) {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(topology, "topology");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(allocator, "allocator");
        checkComm(topology, comm, topology.syncRankOfRollout(rolloutRank));
        Map<String, Tensor> copy = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            Tensor tensor = Objects.requireNonNull(e.getValue(), e.getKey());
            if (device.isHost()) {
                SyncManifest.hostBytes(e.getKey(), tensor);
            } else {
                requireDeviceTensor(e.getKey(), tensor, device);
            }
            if (tensor.isReadOnly()) {
                throw new IllegalArgumentException("weight sync needs writable tensors: tensor=" + e.getKey());
            }
            copy.put(e.getKey(), tensor);
        }
        return new WeightSync(topology, Role.ROLLOUT, rolloutRank, comm, null, allocator,
                Collections.unmodifiableMap(copy), device);
    }

    /**
     * Checks that a weight is a contiguous tensor on {@code device}.
     *
     * @throws IllegalArgumentException {@code weight sync needs contiguous tensors on cuda:0: tensor=..., device=...,
     *         contiguous=...}
     */
    static void requireDeviceTensor(String name, Tensor tensor, Device device) {
        if (!tensor.device().equals(device) || !tensor.isContiguous()) {
            throw new IllegalArgumentException("weight sync needs contiguous tensors on " + device + ": tensor=" + name
                    + ", device=" + tensor.device() + ", contiguous=" + tensor.isContiguous());
        }
    }

    /**
     * Allocates (zeroed) the generation weights a rollout rank holds under {@code plan}: the names, shapes and dtype
     * that its source trainer rank's {@link HybridEngine#generationWeights()} has. The caller owns and closes them.
     *
     * @throws IllegalArgumentException if the plan's layout is not the topology's or the rollout rank is out of range
     */
    public static Map<String, Tensor> allocateGenerationWeights(ReshardPlan plan, WeightSyncTopology topology,
                                                                int rolloutRank, Allocator allocator) {
        return allocateGenerationWeights(plan, topology, rolloutRank, allocator, Device.host());
    }

    /**
     * {@link #allocateGenerationWeights(ReshardPlan, WeightSyncTopology, int, Allocator)} on {@code device}.
     *
     * @throws IllegalArgumentException if the plan's layout is not the topology's or the rollout rank is out of range
     */
    public static Map<String, Tensor> allocateGenerationWeights(ReshardPlan plan, WeightSyncTopology topology,
                                                                int rolloutRank, Allocator allocator, Device device) {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(allocator, "allocator");
        if (!plan.layout().equals(topology.layout())) {
            throw new IllegalArgumentException("plan layout differs from the topology's: plan=" + plan.layout()
                    + ", topology=" + topology.layout());
        }
        Map<String, Tensor> result = new LinkedHashMap<>();
        DType dtype = plan.spec().dtype();
        for (Map.Entry<String, Shape> e : plan.rank(topology.sourceOf(rolloutRank)).generationShapes().entrySet()) {
            result.put(e.getKey(), Tensor.allocate(allocator, dtype, e.getValue(), device));
        }
        return Collections.unmodifiableMap(result);
    }

    /** This endpoint's role. */
    public Role role() {
        return role;
    }

    /** The trainer rank or rollout rank of this endpoint. */
    public int rank() {
        return rank;
    }

    /** The topology. */
    public WeightSyncTopology topology() {
        return topology;
    }

    /**
     * The current version: on a rollout rank the version its weights hold, on a trainer rank the last version sent
     * successfully; {@code -1} before the first sync.
     */
    public long version() {
        return version;
    }

    /**
     * A rollout rank's weights by name (the caller's tensors, changed only by a successful {@link #receive()}).
     *
     * @throws IllegalStateException on a trainer endpoint
     */
    public Map<String, Tensor> weights() {
        requireRole(Role.ROLLOUT);
        return weights;
    }

    /**
     * Sends version {@code version} of the weights; collective over the sync communicator. Only source trainer
     * ranks read {@code weights} (contiguous host tensors; the generation shard of this rank); the others take part
     * in the status exchange.
     *
     * @return what this rank sent
     * @throws WeightSyncException if any rank refused the sync (every rank throws; rollout weights unchanged)
     * @throws io.yatt.collectives.CollectiveException if communication failed or timed out
     * @throws IllegalStateException on a rollout endpoint, or if closed
     */
    public SyncStats send(long version, Map<String, Tensor> weights) {
        requireRole(Role.TRAINER);
        Objects.requireNonNull(weights, "weights");
        long start = System.nanoTime();
        if (group == null) {
            exchangeStatus(null, version);
            exchangeStatus(null, version);
            this.version = version;
            return new SyncStats(version, 0, 0, 0, System.nanoTime() - start);
        }
        SyncManifest manifest = null;
        byte[] encoded = null;
        RuntimeException failure = null;
        try {
            manifest = device.isHost() ? SyncManifest.of(version, config.bucketByteSize(), weights)
                    : deviceManifest(version, config.bucketByteSize(), weights);
            encoded = manifest.encode();
        } catch (RuntimeException e) {
            failure = e;
        }
        MemorySegment head = headerHost.segment();
        head.setAtIndex(ValueLayout.JAVA_LONG, 0, encoded == null ? -1 : encoded.length);
        head.setAtIndex(ValueLayout.JAVA_LONG, 1, version);
        push(headerHost, header);
        group.broadcast(header, ROOT);
        if (encoded != null) {
            try (Tensor hostBytes = Tensor.allocate(allocator, DType.U8, Shape.of(encoded.length), Device.host());
                 Tensor bytes = device.isHost() ? null
                         : Tensor.allocate(allocator, DType.U8, Shape.of(encoded.length), device)) {
                MemorySegment.copy(MemorySegment.ofArray(encoded), 0, hostBytes.segment(), 0, encoded.length);
                if (bytes != null) {
                    push(hostBytes, bytes);
                }
                group.broadcast(bytes == null ? hostBytes : bytes, ROOT);
            }
        }
        WeightSyncException own = failure == null ? null : new WeightSyncException(
                WeightSyncException.Reason.SENDER_FAILED, version, "weight sync sender failed: trainer=" + rank
                + ", version=" + version + ", cause=" + failure.getMessage(), failure);
        exchangeStatus(own, version);
        streamOut(manifest, weights);
        exchangeStatus(null, version);
        this.version = version;
        return new SyncStats(version, manifest.totalByteSize(), manifest.bucketCount(), manifest.entries().size(),
                System.nanoTime() - start);
    }

    /**
     * Receives the next version into {@link #weights()}; collective over the sync communicator. On success the
     * weights hold the sender's bytes exactly and {@link #version()} is the new version; on any failure both are
     * unchanged.
     *
     * @return what this rank received
     * @throws WeightSyncException if this or any rank refused the sync: {@code stale weight version: received=3,
     *         current=5}, {@code weight checksum mismatch: tensor=..., version=7, expected=0x..., actual=0x...},
     *         {@code weight manifest mismatch: ...}, or a failure elsewhere
     * @throws io.yatt.collectives.CollectiveException if communication failed or timed out
     * @throws IllegalStateException on a trainer endpoint, or if closed
     */
    public SyncStats receive() {
        requireRole(Role.ROLLOUT);
        long start = System.nanoTime();
        group.broadcast(header, ROOT);
        pull(header, headerHost);
        MemorySegment head = headerHost.segment();
        long length = head.getAtIndex(ValueLayout.JAVA_LONG, 0);
        long headerVersion = head.getAtIndex(ValueLayout.JAVA_LONG, 1);
        SyncManifest manifest = null;
        WeightSyncException failure = null;
        if (length > SyncManifest.MAX_ENCODED_BYTE_SIZE) {
            // a sender never announces more (encode() refuses), so the header itself is damaged
            throw new WeightSyncException(WeightSyncException.Reason.MANIFEST_CORRUPT, headerVersion,
                    "weight manifest corrupt: byteSize=" + length + ", max=" + SyncManifest.MAX_ENCODED_BYTE_SIZE
                    + ", version=" + headerVersion);
        }
        if (length >= 0) {
            byte[] encoded = new byte[(int) length];
            try (Tensor bytes = Tensor.allocate(allocator, DType.U8, Shape.of(length), device);
                 Tensor hostBytes = device.isHost() ? null
                         : Tensor.allocate(allocator, DType.U8, Shape.of(length), Device.host())) {
                group.broadcast(bytes, ROOT);
                if (hostBytes != null) {
                    hostBytes.copyFrom(bytes);
                }
                MemorySegment.copy((hostBytes == null ? bytes : hostBytes).segment(), 0,
                        MemorySegment.ofArray(encoded), 0, length);
            }
            try {
                manifest = SyncManifest.decode(encoded);
                failure = check(manifest, headerVersion);
            } catch (IllegalArgumentException e) {
                failure = new WeightSyncException(WeightSyncException.Reason.MANIFEST_CORRUPT, headerVersion,
                        "weight manifest corrupt: version=" + headerVersion + ", cause=" + e.getMessage(), e);
            }
        }
        exchangeStatus(failure, headerVersion);
        failure = streamIn(manifest);
        exchangeStatus(failure, manifest.version());
        for (SyncManifest.Entry entry : manifest.entries()) {
            if (entry.byteSize() == 0) {
                continue;
            }
            if (device.isHost()) {
                MemorySegment.copy(staging.segment(), entry.byteOffset(), weights.get(entry.name()).segment(), 0,
                        entry.byteSize());
            } else {
                Cuda.memcpyAsync(weights.get(entry.name()).dataPointer(),
                        MemorySegment.ofAddress(staging.dataPointer().address() + entry.byteOffset()),
                        entry.byteSize(), copyStream());
            }
        }
        if (copyStream != null) {
            copyStream.synchronize(); // the weights hold the new version when receive() returns
        }
        version = manifest.version();
        return new SyncStats(version, manifest.totalByteSize(), manifest.bucketCount(), manifest.entries().size(),
                System.nanoTime() - start);
    }

    /** Frees a rollout rank's staging buffer until the next {@link #receive()} (which allocates it again). */
    public void releaseStaging() {
        requireRole(Role.ROLLOUT);
        if (staging != null) {
            staging.close();
            staging = null;
        }
    }

    /** The allocator of this endpoint's buffers; its peak shows the memory bound (two buckets on a source). */
    public Allocator allocator() {
        return allocator;
    }

    /** Installs a test hook on this endpoint's buckets (null removes it). */
    void bucketHook(BucketHook hook) {
        this.hook = hook;
    }

    private WeightSyncException check(SyncManifest manifest, long headerVersion) {
        long received = manifest.version();
        if (received != headerVersion) {
            return new WeightSyncException(WeightSyncException.Reason.MANIFEST_CORRUPT, headerVersion,
                    "weight manifest corrupt: header version=" + headerVersion + ", manifest version=" + received);
        }
        if (received <= version) {
            return new WeightSyncException(WeightSyncException.Reason.STALE_VERSION, received,
                    "stale weight version: received=" + received + ", current=" + version);
        }
        Map<String, SyncManifest.Entry> byName = new HashMap<>();
        for (SyncManifest.Entry entry : manifest.entries()) {
            byName.put(entry.name(), entry);
            Tensor mine = weights.get(entry.name());
            if (mine == null) {
                return mismatch(received, "unexpected tensor=" + entry.name() + ", version=" + received);
            }
            if (mine.dtype() != entry.dtype()) {
                return mismatch(received, "tensor=" + entry.name() + ", version=" + received + ", expected dtype="
                        + mine.dtype() + ", received dtype=" + entry.dtype());
            }
            if (!mine.shape().equals(entry.shape())) {
                return mismatch(received, "tensor=" + entry.name() + ", version=" + received + ", expected shape="
                        + mine.shape() + ", received shape=" + entry.shape());
            }
        }
        for (String name : weights.keySet()) {
            if (!byName.containsKey(name)) {
                return mismatch(received, "missing tensor=" + name + ", version=" + received);
            }
        }
        return null;
    }

    private static WeightSyncException mismatch(long version, String detail) {
        return new WeightSyncException(WeightSyncException.Reason.MANIFEST_MISMATCH, version,
                "weight manifest mismatch: " + detail);
    }

    private void streamOut(SyncManifest manifest, Map<String, Tensor> weights) {
        long count = manifest.bucketCount();
        if (count == 0) {
            return;
        }
        List<SyncManifest.Entry> entries = manifest.entries();
        MemorySegment[] sources = new MemorySegment[entries.size()];
        for (int i = 0; i < sources.length; i++) {
            Tensor tensor = weights.get(entries.get(i).name());
            sources[i] = device.isHost() ? tensor.segment() : tensor.byteSize() == 0 ? MemorySegment.NULL
                    : tensor.dataPointer();
        }
        long bufferBytes = Math.min(manifest.bucketByteSize(), manifest.totalByteSize());
        for (int i = 0; i < buckets.length; i++) {
            if (buckets[i] != null && buckets[i].byteSize() < bufferBytes) {
                buckets[i].close();
                buckets[i] = null;
            }
            if (buckets[i] == null) {
                buckets[i] = Tensor.allocate(allocator, DType.U8, Shape.of(bufferBytes), device);
            }
        }
        CollectiveHandle[] inFlight = new CollectiveHandle[2];
        try {
            for (long b = 0; b < count; b++) {
                int slot = (int) (b & 1);
                if (inFlight[slot] != null) {
                    inFlight[slot].await(AWAIT_NS);
                    inFlight[slot] = null;
                }
                WeightBucket bucket = manifest.bucket(b);
                Tensor buffer = buckets[slot].narrow(0, 0, bucket.byteSize());
                if (device.isHost()) {
                    MemorySegment out = buffer.segment();
                    for (WeightBucket.Slice slice : bucket.slices()) {
                        MemorySegment.copy(sources[slice.entry()], slice.tensorByteOffset(), out,
                                slice.bucketByteOffset(), slice.byteSize());
                    }
                    if (hook != null) {
                        hook.accept(manifest.version(), bucket, out);
                    }
                } else {
                    long out = buffer.dataPointer().address();
                    CudaStream copies = copyStream();
                    for (WeightBucket.Slice slice : bucket.slices()) {
                        Cuda.memcpyAsync(MemorySegment.ofAddress(out + slice.bucketByteOffset()),
                                MemorySegment.ofAddress(sources[slice.entry()].address() + slice.tensorByteOffset()),
                                slice.byteSize(), copies);
                    }
                    copies.synchronize(); // packed before any peer (on any device) reads the bucket
                }
                inFlight[slot] = group.broadcastAsync(buffer, ROOT);
            }
        } catch (RuntimeException e) {
            drain(inFlight, e);
            throw e;
        }
        drain(inFlight, null);
    }

    private WeightSyncException streamIn(SyncManifest manifest) {
        long total = manifest.totalByteSize();
        if (staging != null && staging.byteSize() != total) {
            releaseStaging();
        }
        if (staging == null && total > 0) {
            staging = Tensor.allocate(allocator, DType.U8, Shape.of(total), device);
        }
        List<SyncManifest.Entry> entries = manifest.entries();
        CRC32C[] crcs = new CRC32C[entries.size()];
        for (int i = 0; i < crcs.length; i++) {
            crcs[i] = new CRC32C();
        }
        long count = manifest.bucketCount();
        CollectiveHandle[] inFlight = new CollectiveHandle[2];
        try {
            if (count > 0) {
                inFlight[0] = group.broadcastAsync(stagingSlice(manifest.bucket(0)), ROOT);
            }
            for (long b = 0; b < count; b++) {
                if (b + 1 < count) {
                    inFlight[(int) ((b + 1) & 1)] = group.broadcastAsync(stagingSlice(manifest.bucket(b + 1)), ROOT);
                }
                int slot = (int) (b & 1);
                inFlight[slot].await(AWAIT_NS);
                inFlight[slot] = null;
                WeightBucket bucket = manifest.bucket(b);
                MemorySegment in = device.isHost()
                        ? staging.segment().asSlice(bucket.byteOffset(), bucket.byteSize())
                        : download(staging.dataPointer().address() + bucket.byteOffset(), bucket.byteSize(),
                                manifest.bucketByteSize());
                if (hook != null) {
                    hook.accept(manifest.version(), bucket, in);
                }
                for (WeightBucket.Slice slice : bucket.slices()) {
                    SyncManifest.update(crcs[slice.entry()], in.asSlice(slice.bucketByteOffset(), slice.byteSize()));
                }
            }
        } catch (RuntimeException e) {
            drain(inFlight, e);
            throw e;
        }
        for (int i = 0; i < crcs.length; i++) {
            SyncManifest.Entry entry = entries.get(i);
            int actual = (int) crcs[i].getValue();
            if (actual != entry.crc32c()) {
                return new WeightSyncException(WeightSyncException.Reason.CHECKSUM_MISMATCH, manifest.version(),
                        "weight checksum mismatch: tensor=" + entry.name() + ", version=" + manifest.version()
                        + ", expected=" + SyncManifest.hex(entry.crc32c()) + ", actual=" + SyncManifest.hex(actual));
            }
        }
        return null;
    }

    private Tensor stagingSlice(WeightBucket bucket) {
        return staging.narrow(0, bucket.byteOffset(), bucket.byteSize());
    }

    /**
     * Waits for the buckets still in flight. With {@code primary} (a failure already propagating) their failures are
     * added to it as suppressed; without, the first one is thrown.
     */
    private static void drain(CollectiveHandle[] handles, RuntimeException primary) {
        RuntimeException failure = primary;
        for (int i = 0; i < handles.length; i++) {
            if (handles[i] == null) {
                continue;
            }
            try {
                handles[i].await(AWAIT_NS);
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else if (failure != e) {
                    failure.addSuppressed(e);
                }
            }
            handles[i] = null;
        }
        if (primary == null && failure != null) {
            throw failure;
        }
    }

    /** All-gathers every rank's status; throws this rank's own failure, or names the failed peers. */
    private void exchangeStatus(WeightSyncException own, long syncVersion) {
        statusSendHost.segment().setAtIndex(ValueLayout.JAVA_INT, 0, own == null ? OK : own.reason().code());
        push(statusSendHost, statusSend);
        comm.allGather(statusSend, statusRecv);
        if (own != null) {
            throw own;
        }
        pull(statusRecv, statusRecvHost);
        MemorySegment all = statusRecvHost.segment();
        List<String> failed = new ArrayList<>();
        for (int r = 0; r < topology.worldSize(); r++) {
            int code = all.getAtIndex(ValueLayout.JAVA_INT, r);
            if (code != OK) {
                failed.add(topology.describeSyncRank(r) + "=" + WeightSyncException.Reason.of(code));
            }
        }
        if (!failed.isEmpty()) {
            throw new WeightSyncException(WeightSyncException.Reason.PEER_FAILED, syncVersion,
                    "weight sync failed on other ranks: version=" + syncVersion + ", failed=" + failed);
        }
    }

    /** Device path: the stream of this endpoint's device copies (made on first use on the endpoint's device). */
    private CudaStream copyStream() {
        if (copyStream == null) {
            copyStream = CudaStream.create(device.ordinal());
        }
        return copyStream;
    }

    /** Copies a host control tensor to its device twin (nothing on the host path). */
    private static void push(Tensor host, Tensor target) {
        if (target != host) {
            target.copyFrom(host);
            // a host-to-device cudaMemcpy may return before the bytes land; peers on other devices read them next
            Cuda.setDevice(target.device().ordinal());
            Cuda.deviceSynchronize();
        }
    }

    /** Copies a device control tensor to its host mirror (nothing on the host path). */
    private static void pull(Tensor source, Tensor host) {
        if (source != host) {
            host.copyFrom(source);
        }
    }

    /**
     * Device path: {@code byteSize} bytes from device address {@code address} copied into the reusable host chunk of
     * {@code chunkByteSize} bytes (at least {@code byteSize}); returns them.
     */
    private MemorySegment download(long address, long byteSize, long chunkByteSize) {
        if (checksumChunk != null && checksumChunk.byteSize() < chunkByteSize) {
            checksumChunk.close();
            checksumChunk = null;
        }
        if (checksumChunk == null) {
            checksumChunk = Tensor.allocatePinned(allocator, DType.U8, Shape.of(Math.max(chunkByteSize, 1)));
        }
        MemorySegment chunk = checksumChunk.segment().asSlice(0, byteSize);
        if (byteSize > 0) {
            Cuda.memcpy(chunk, MemorySegment.ofAddress(address), byteSize);
        }
        return chunk;
    }

    /**
     * Device path of {@link SyncManifest#of}: the manifest of contiguous tensors on this endpoint's device, each
     * tensor's CRC32C computed on the host from copies of at most one bucket at a time.
     *
     * @throws IllegalArgumentException if a tensor is not a contiguous tensor on this endpoint's device
     */
    private SyncManifest deviceManifest(long version, long bucketByteSize, Map<String, Tensor> weights) {
        List<SyncManifest.Entry> entries = new ArrayList<>(weights.size());
        long offset = 0;
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            Tensor tensor = Objects.requireNonNull(e.getValue(), e.getKey());
            requireDeviceTensor(e.getKey(), tensor, device);
            CRC32C crc = new CRC32C();
            long size = tensor.byteSize();
            long base = size == 0 ? 0 : tensor.dataPointer().address();
            for (long at = 0; at < size; at += bucketByteSize) {
                long n = Math.min(bucketByteSize, size - at);
                SyncManifest.update(crc, download(base + at, n, bucketByteSize));
            }
            entries.add(new SyncManifest.Entry(e.getKey(), tensor.dtype(), tensor.shape(), offset, size,
                    (int) crc.getValue()));
            offset += size;
        }
        return new SyncManifest(version, bucketByteSize, entries);
    }

    static void checkBucketByteSize(long bucketByteSize) {
        if (bucketByteSize < 1 || bucketByteSize > MAX_BUCKET_BYTE_SIZE) {
            throw new IllegalArgumentException("invalid bucket size: bucketByteSize=" + bucketByteSize
                    + ", expected 1.." + MAX_BUCKET_BYTE_SIZE);
        }
    }

    private static void checkComm(WeightSyncTopology topology, Communicator comm, int syncRank) {
        Objects.requireNonNull(comm, "comm");
        if (comm.size() != topology.worldSize() || comm.rank() != syncRank) {
            throw new IllegalArgumentException("communicator does not match the sync topology: size=" + comm.size()
                    + ", rank=" + comm.rank() + ", expected size=" + topology.worldSize() + ", rank=" + syncRank);
        }
    }

    private void requireRole(Role expected) {
        if (closed) {
            throw new IllegalStateException("weight sync closed: role=" + role + ", rank=" + rank);
        }
        if (role != expected) {
            throw new IllegalStateException("weight sync endpoint has the wrong role: role=" + role + ", rank=" + rank
                    + ", expected=" + expected);
        }
    }

    /**
     * Frees the buckets, the staging buffer and the source-group communicator (not the sync communicator, nor a
     * rollout rank's weights).
     *
     * @throws IllegalStateException on a second close
     */
    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("weight sync already closed: role=" + role + ", rank=" + rank);
        }
        closed = true;
        List<AutoCloseable> toClose = new ArrayList<>();
        for (Tensor bucket : buckets) {
            if (bucket != null) {
                toClose.add(bucket);
            }
        }
        if (staging != null) {
            toClose.add(staging);
        }
        if (checksumChunk != null) {
            toClose.add(checksumChunk);
        }
        if (copyStream != null) {
            toClose.add(copyStream);
        }
        toClose.add(header);
        toClose.add(statusSend);
        toClose.add(statusRecv);
        if (!device.isHost()) {
            toClose.add(headerHost);
            toClose.add(statusSendHost);
            toClose.add(statusRecvHost);
        }
        if (group != null) {
            toClose.add(group);
        }
        toClose.add(allocator);
        RuntimeException failure = null;
        for (AutoCloseable c : toClose) {
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("weight sync close failed: role=" + role + ", rank=" + rank,
                            e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
