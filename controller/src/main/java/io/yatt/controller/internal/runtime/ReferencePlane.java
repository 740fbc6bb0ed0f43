package io.yatt.controller.internal.runtime;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.yatt.collectives.SharedMemory;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ReferenceColumn;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The data plane of references between processes, for host memory: every worker serves its {@link ReferenceStore} on
 * a udp endpoint of its own (a dedicated Aeron stream, {@link #FETCH_STREAM_ID}); a consumer in another process sends
 * the owner a fetch request for one run of rows (with the dispatch's claim on the last run of a region) and receives
 * the rows as chunks on its own reply stream, straight into the output tensor. The owner counts the pull once the
 * last chunk is sent, so it frees the region at its last consumer as in-process pulls do. An owner in the consumer's
 * shm world is not fetched from: the consumer copies the rows in place from the owner's arena
 * ({@link #pullShared}) and only tells the owner of the pull (a request of the same form that the owner answers with
 * an acknowledgement once it found the region live and counted the pull). Bytes served and fetched over Aeron and
 * bytes copied from shared memory are counted. Uses an Aeron client of its own on the worker's media driver; the
 * server runs on its own thread. Thread-safe: fetches are serialised (one call thread per worker).
 */
public final class ReferencePlane implements AutoCloseable {

    /** The stream a worker serves fetch requests on. */
    public static final int FETCH_STREAM_ID = 3001;
    /** The stream a consumer receives the chunks of its fetches on. */
    public static final int CHUNK_STREAM_ID = 3002;
    /** Batch metadata key prefix under which a producer names its fetch endpoint: prefix + owner worker id. */
    public static final String ENDPOINT_KEY_PREFIX = "yatt.referenceEndpoint.";
    /**
     * Batch metadata key prefix under which a producer whose regions lie in a shm world's arena names where:
     * prefix + owner worker id, value {@code <world id>/<rank>}.
     */
    public static final String SHARED_KEY_PREFIX = "yatt.referenceShared.";
    /** How often a consumer waiting for an owner's acknowledgement checks that the owner's process is alive. */
    private static final long LIVENESS_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);

    private static final int REQUEST = 1;
    private static final int CHUNK = 2;
    private static final int FAILURE = 3;
    private static final int PULLED = 4;
    private static final int ACK = 5;
    private static final int CHUNK_HEADER = 4 + 8 + 8 + 4;
    private static final int MAX_CHUNK_BYTES = 60 * 1024;
    private static final DType[] DTYPES = DType.values();

    private final Aeron aeron;
    private final int workerId;
    private final long timeoutNs;
    private final Subscription requests;
    private final Subscription chunks;
    private final String endpoint;
    private final String chunkEndpoint;
    private final Map<String, ExclusivePublication> toOwners = new HashMap<>();
    private final Map<String, ExclusivePublication> toConsumers = new HashMap<>();
    private final AtomicLong servedBytes = new AtomicLong();
    private final AtomicLong fetchedBytes = new AtomicLong();
    private final AtomicLong sharedBytes = new AtomicLong();
    private final Thread server;
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[CHUNK_HEADER + MAX_CHUNK_BYTES]);
    private final UnsafeBuffer serveBuffer = new UnsafeBuffer(new byte[CHUNK_HEADER + MAX_CHUNK_BYTES]);
    private final byte[] chunkScratch = new byte[MAX_CHUNK_BYTES];
    private volatile ReferenceStore store;
    private volatile boolean running = true;
    private long nextRequestId;

    // the fetch in progress (call thread only)
    private long awaitedRequest;
    private Tensor target;
    private long targetOffset;
    private long received;
    private boolean acknowledged;
    private String failure;

    private ReferencePlane(Aeron aeron, int workerId, String host, long timeoutNs) {
        this.aeron = aeron;
        this.workerId = workerId;
        this.timeoutNs = timeoutNs;
        try {
            String channel = "aeron:udp?endpoint=" + host + ":0";
            requests = aeron.addSubscription(channel, FETCH_STREAM_ID);
            chunks = aeron.addSubscription(channel, CHUNK_STREAM_ID);
            endpoint = resolved(requests, channel);
            chunkEndpoint = resolved(chunks, channel);
        } catch (RuntimeException e) {
            CloseHelper.quietClose(aeron);
            throw e;
        }
        server = new Thread(this::serve, "yatt-worker-" + workerId + "-references");
        server.setDaemon(true);
        server.start();
    }

    /**
     * A reference plane for worker {@code workerId} on the media driver in {@code driverDirectory}, listening on udp
     * at {@code host} (a free port).
     *
     * @throws io.aeron.exceptions.AeronException if the driver is not reached
     * @throws IllegalStateException if an endpoint does not resolve within the timeout
     */
    public static ReferencePlane start(String driverDirectory, int workerId, String host, long timeoutNs) {
        Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driverDirectory)
                .errorHandler(e -> System.err.println("yatt reference plane: aeron client error: " + e)));
        return new ReferencePlane(aeron, workerId, host, timeoutNs);
    }

    private String resolved(Subscription subscription, String channel) {
        long deadline = System.nanoTime() + timeoutNs;
        while (true) {
            String endpoint = subscription.tryResolveChannelEndpointPort();
            if (endpoint != null) {
                return endpoint;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("reference endpoint did not resolve: channel=" + channel);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /**
     * The owners' endpoints named in a batch's metadata (keys {@link #ENDPOINT_KEY_PREFIX} + owner id).
     *
     * @throws IllegalArgumentException if such a key has no integer id or a value is not a string
     */
    public static Map<Integer, String> endpoints(Map<String, Object> metadata) {
        return byOwner(metadata, ENDPOINT_KEY_PREFIX, "reference endpoint", "a channel");
    }

    /**
     * The owners' shm locations named in a batch's metadata (keys {@link #SHARED_KEY_PREFIX} + owner id, values
     * {@code <world id>/<rank>}).
     *
     * @throws IllegalArgumentException if such a key has no integer id or a value is not a string
     */
    public static Map<Integer, String> sharedLocations(Map<String, Object> metadata) {
        return byOwner(metadata, SHARED_KEY_PREFIX, "shared reference location", "<world id>/<rank>");
    }

    /** Whether {@code key} is one of this plane's metadata keys (never shown to a worker method). */
    public static boolean isPlaneKey(String key) {
        return key.startsWith(ENDPOINT_KEY_PREFIX) || key.startsWith(SHARED_KEY_PREFIX);
    }

    private static Map<Integer, String> byOwner(Map<String, Object> metadata, String prefix, String what,
            String expected) {
        Map<Integer, String> byOwner = new HashMap<>();
        metadata.forEach((key, value) -> {
            if (key.startsWith(prefix)) {
                int owner;
                try {
                    owner = Integer.parseInt(key.substring(prefix.length()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(what + " key without an owner id: key=" + key);
                }
                if (!(value instanceof String text)) {
                    throw new IllegalArgumentException(what + " is not " + expected + ": key=" + key + ", value="
                            + value);
                }
                byOwner.put(owner, text);
            }
        });
        return byOwner;
    }

    /** The channel this worker serves its references on. */
    public String endpoint() {
        return endpoint;
    }

    /** Serves {@code store} from now on. */
    public void serve(ReferenceStore store) {
        this.store = store;
    }

    /** Bytes of rows this worker sent to consumers in other processes. */
    public long servedBytes() {
        return servedBytes.get();
    }

    /** Bytes of rows this worker fetched from owners in other processes over Aeron. */
    public long fetchedBytes() {
        return fetchedBytes.get();
    }

    /** Bytes of rows this worker copied in place from owners' shared memory (owners of its shm world). */
    public long sharedBytes() {
        return sharedBytes.get();
    }

    /**
     * Fetches the rows of {@code run} from its owner at {@code ownerEndpoint} into {@code out} from row {@code at};
     * with a claim, the owner counts this pull of the run's region.
     *
     * @throws IllegalArgumentException if the owner answers with an error (its message), or does not answer within
     *     the timeout
     */
    public synchronized void fetch(String ownerEndpoint, ReferenceColumn.Run run, ReferenceStore.Claim claim,
            Tensor out, long at) {
        long rowBytes = run.sampleShape().numel() * run.dtype().byteSize();
        long deadline = System.nanoTime() + timeoutNs;
        request(REQUEST, ownerEndpoint, run, claim, out, at, deadline);
        long expected = run.rows() * rowBytes;
        FragmentHandler handler = new FragmentAssembler(this::onChunk);
        IdleStrategy idle = Idles.strategy(ControlPlane.Idle.BACKOFF);
        while (failure == null && received < expected) {
            int work = chunks.poll(handler, 16);
            if (System.nanoTime() - deadline > 0) {
                target = null;
                throw new IllegalArgumentException("reference fetch timed out: ownerRank=" + run.ownerRank()
                        + ", endpoint=" + ownerEndpoint + ", run=" + run + ", receivedBytes=" + received
                        + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
            }
            idle.idle(work);
        }
        target = null;
        if (failure != null) {
            throw new IllegalArgumentException(failure);
        }
        fetchedBytes.addAndGet(expected);
    }

    /**
     * Copies the rows of {@code run} in place from the arena of its owner, rank {@code sharedRank} of {@code shared}
     * (this worker's shm world), into {@code out} from row {@code at}, then tells the owner at {@code ownerEndpoint} of
     * the pull (with a claim, counted as a fetch's is) and waits for its acknowledgement: the owner confirms the region
     * was still live, so the rows copied were its rows (region ids are never reused).
     *
     * @throws IllegalArgumentException if the owner's process is gone, the run does not lie in its arena, the owner
     *     answers with an error (its message: the region is gone, the rows are not rows of it), or it does not answer
     *     within the timeout
     */
    public synchronized void pullShared(String ownerEndpoint, SharedMemory shared, int sharedRank,
            ReferenceColumn.Run run, ReferenceStore.Claim claim, Tensor out, long at) {
        long rowBytes = run.sampleShape().numel() * run.dtype().byteSize();
        requireAlive(shared, sharedRank, run);
        MemorySegment dst = out.segment();
        try {
            if (run.rowStrideBytes() == rowBytes) {
                MemorySegment.copy(shared.peerBytes(sharedRank, run.byteOffset(), run.rows() * rowBytes), 0, dst,
                        at * rowBytes, run.rows() * rowBytes);
            } else {
                for (int k = 0; k < run.rows(); k++) {
                    MemorySegment.copy(shared.peerBytes(sharedRank, run.byteOffset() + k * run.rowStrideBytes(),
                            rowBytes), 0, dst, (at + k) * rowBytes, rowBytes);
                }
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("shared reference outside its owner's arena: ownerRank="
                    + run.ownerRank() + ", shmRank=" + sharedRank + ", run=" + run + ": " + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + timeoutNs;
        request(PULLED, ownerEndpoint, run, claim, out, at, deadline);
        FragmentHandler handler = new FragmentAssembler(this::onChunk);
        IdleStrategy idle = Idles.strategy(ControlPlane.Idle.BACKOFF);
        long nextCheck = System.nanoTime() + LIVENESS_INTERVAL_NS;
        try {
            while (failure == null && !acknowledged) {
                int work = chunks.poll(handler, 16);
                long now = System.nanoTime();
                if (now - nextCheck > 0) {
                    requireAlive(shared, sharedRank, run);
                    nextCheck = now + LIVENESS_INTERVAL_NS;
                }
                if (now - deadline > 0) {
                    throw new IllegalArgumentException("shared reference pull not acknowledged: ownerRank="
                            + run.ownerRank() + ", shmRank=" + sharedRank + ", endpoint=" + ownerEndpoint + ", run="
                            + run + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
                }
                idle.idle(work);
            }
        } finally {
            target = null;
        }
        if (failure != null) {
            throw new IllegalArgumentException(failure);
        }
        sharedBytes.addAndGet(run.rows() * rowBytes);
    }

    private static void requireAlive(SharedMemory shared, int sharedRank, ReferenceColumn.Run run) {
        if (!shared.isAlive(sharedRank)) {
            throw new IllegalArgumentException("reference owner is gone: ownerRank=" + run.ownerRank() + ", shmRank="
                    + sharedRank + ", pid=" + shared.pid(sharedRank) + ", run=" + run);
        }
    }

    /**
     * Sends the owner a request of {@code type} for {@code run} (with the claim), after which the chunks or the
     * acknowledgement of that request are taken, rows landing in {@code out} from row {@code at}.
     */
    private void request(int type, String ownerEndpoint, ReferenceColumn.Run run, ReferenceStore.Claim claim,
            Tensor out, long at, long deadline) {
        long rowBytes = run.sampleShape().numel() * run.dtype().byteSize();
        long requestId = ++nextRequestId;
        awaitedRequest = requestId;
        target = out;
        targetOffset = at * rowBytes;
        received = 0;
        acknowledged = false;
        failure = null;
        byte[] reply = chunkEndpoint.getBytes(StandardCharsets.UTF_8);
        UnsafeBuffer b = sendBuffer;
        int o = 0;
        b.putInt(o, type);
        b.putLong(o += 4, requestId);
        b.putInt(o += 8, workerId);
        b.putLong(o += 4, run.regionId());
        b.putLong(o += 8, run.byteOffset());
        b.putLong(o += 8, run.rowStrideBytes());
        b.putInt(o += 8, run.rows());
        b.putLong(o += 4, rowBytes);
        b.putByte(o += 8, (byte) (claim == null ? 0 : claim.last() ? 2 : 1));
        b.putLong(o += 1, claim == null ? 0 : claim.dispatch());
        b.putInt(o += 8, claim == null ? 0 : claim.pulls());
        b.putInt(o += 4, run.dtype().ordinal());
        b.putInt(o += 4, reply.length);
        b.putBytes(o += 4, reply);
        o += reply.length;
        ExclusivePublication pub = toOwners.computeIfAbsent(ownerEndpoint,
                e -> aeron.addExclusivePublication(e, FETCH_STREAM_ID));
        try {
            offer(pub, b, o, deadline, (type == PULLED ? "pull notice" : "fetch request") + " to owner "
                    + run.ownerRank() + " at " + ownerEndpoint);
        } catch (RuntimeException e) {
            target = null;
            throw e;
        }
    }

    private void onChunk(DirectBuffer buffer, int offset, int length, io.aeron.logbuffer.Header header) {
        int type = buffer.getInt(offset);
        long requestId = buffer.getLong(offset + 4);
        if (requestId != awaitedRequest || target == null) {
            return;
        }
        if (type == FAILURE) {
            int n = buffer.getInt(offset + 12);
            byte[] text = new byte[n];
            buffer.getBytes(offset + 16, text);
            failure = new String(text, StandardCharsets.UTF_8);
            return;
        }
        if (type == ACK) {
            acknowledged = length == 12;
            return;
        }
        long at = buffer.getLong(offset + 12);
        int n = buffer.getInt(offset + 20);
        if (type != CHUNK || at != received || length != CHUNK_HEADER + n
                || targetOffset + at + n > target.byteSize()) {
            failure = "malformed reference chunk: requestId=" + requestId + ", at=" + at + ", bytes=" + n;
            return;
        }
        buffer.getBytes(offset + CHUNK_HEADER, chunkScratch, 0, n);
        MemorySegment.copy(MemorySegment.ofArray(chunkScratch), 0, target.segment(), targetOffset + at, n);
        received += n;
    }

    private void serve() {
        FragmentHandler handler = new FragmentAssembler(this::onRequest);
        IdleStrategy idle = Idles.strategy(ControlPlane.Idle.BACKOFF);
        while (running) {
            int work;
            try {
                work = requests.poll(handler, 4);
            } catch (RuntimeException e) {
                if (!running) {
                    return;
                }
                System.err.println("yatt reference plane " + workerId + ": " + e);
                work = 1;
            }
            idle.idle(work);
        }
    }

    private void onRequest(DirectBuffer buffer, int offset, int length, io.aeron.logbuffer.Header header) {
        int requestType = length < 73 ? 0 : buffer.getInt(offset);
        if (requestType != REQUEST && requestType != PULLED) {
            return;
        }
        int o = offset;
        long requestId = buffer.getLong(o += 4);
        int consumer = buffer.getInt(o += 8);
        long regionId = buffer.getLong(o += 4);
        long byteOffset = buffer.getLong(o += 8);
        long stride = buffer.getLong(o += 8);
        int rows = buffer.getInt(o += 8);
        long rowBytes = buffer.getLong(o += 4);
        byte claimKind = buffer.getByte(o += 8);
        long dispatch = buffer.getLong(o += 1);
        int pulls = buffer.getInt(o += 8);
        int dtypeCode = buffer.getInt(o += 4);
        int replyLength = buffer.getInt(o += 4);
        if (replyLength < 0 || replyLength != length - (o + 4 - offset) || dtypeCode < 0
                || dtypeCode >= DTYPES.length) {
            return;
        }
        byte[] reply = new byte[replyLength];
        buffer.getBytes(o + 4, reply);
        String replyChannel = new String(reply, StandardCharsets.UTF_8);
        ExclusivePublication pub;
        try {
            pub = toConsumers.computeIfAbsent(replyChannel, c -> aeron.addExclusivePublication(c, CHUNK_STREAM_ID));
        } catch (RuntimeException e) {
            System.err.println("yatt reference plane " + workerId + ": bad reply channel from worker " + consumer
                    + ": " + e.getMessage());
            return;
        }
        long deadline = System.nanoTime() + timeoutNs;
        try {
            ReferenceStore s = store;
            if (s == null) {
                throw new IllegalArgumentException("reference owner has no store yet: ownerRank=" + workerId);
            }
            if (requestType == PULLED) {
                // the consumer copied the rows in place: check the region is still live and holds them
                s.send(regionId, byteOffset, stride, rows, rowBytes, DTYPES[dtypeCode], (segment, at) -> { });
            } else {
                s.send(regionId, byteOffset, stride, rows, rowBytes, DTYPES[dtypeCode],
                        (segment, at) -> sendChunks(pub, requestId, segment, at, deadline));
                servedBytes.addAndGet(rows * rowBytes);
            }
            if (claimKind != 0) {
                s.pulled(regionId, new ReferenceStore.Claim(dispatch, pulls, claimKind == 2));
            }
            if (requestType == PULLED) {
                serveBuffer.putInt(0, ACK);
                serveBuffer.putLong(4, requestId);
                offer(pub, serveBuffer, 12, deadline, "pull acknowledgement to worker " + consumer);
            }
        } catch (RuntimeException e) {
            byte[] text = String.valueOf(e.getMessage()).getBytes(StandardCharsets.UTF_8);
            int n = Math.min(text.length, MAX_CHUNK_BYTES);
            serveBuffer.putInt(0, FAILURE);
            serveBuffer.putLong(4, requestId);
            serveBuffer.putInt(12, n);
            serveBuffer.putBytes(16, text, 0, n);
            try {
                offer(pub, serveBuffer, 16 + n, deadline, "fetch failure to worker " + consumer);
            } catch (IllegalArgumentException unsent) {
                System.err.println("yatt reference plane " + workerId + ": " + unsent.getMessage());
            }
        }
    }

    /** Sends {@code segment} (the bytes at {@code at} of the request's rows) in chunks. */
    private void sendChunks(ExclusivePublication pub, long requestId, MemorySegment segment, long at, long deadline) {
        MemorySegment staging = MemorySegment.ofArray(serveBuffer.byteArray());
        for (long done = 0; done < segment.byteSize(); ) {
            int n = (int) Math.min(MAX_CHUNK_BYTES, segment.byteSize() - done);
            serveBuffer.putInt(0, CHUNK);
            serveBuffer.putLong(4, requestId);
            serveBuffer.putLong(12, at + done);
            serveBuffer.putInt(20, n);
            MemorySegment.copy(segment, done, staging, CHUNK_HEADER, n);
            offer(pub, serveBuffer, CHUNK_HEADER + n, deadline, "reference chunk to " + pub.channel());
            done += n;
        }
    }

    private static void offer(ExclusivePublication pub, UnsafeBuffer buffer, int length, long deadline, String what) {
        IdleStrategy idle = Idles.strategy(ControlPlane.Idle.BACKOFF);
        while (true) {
            long result = pub.offer(buffer, 0, length);
            if (result > 0) {
                return;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED
                    || System.nanoTime() - deadline > 0) {
                throw new IllegalArgumentException(what + " not sent: reason="
                        + (result == Publication.NOT_CONNECTED ? "not connected" : result == Publication.CLOSED
                        ? "publication closed" : "back pressured") + ", result=" + result);
            }
            idle.idle(0);
        }
    }

    /** Stops serving and closes the client. */
    @Override
    public void close() {
        running = false;
        try {
            server.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        CloseHelper.quietClose(aeron);
    }
}
