package io.yatt.controller.internal.runtime;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.yatt.collectives.SharedMemory;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.FrameStats;
import io.yatt.controller.ReferenceColumn;
import io.yatt.controller.internal.sbe.MessageHeaderDecoder;
import io.yatt.controller.internal.sbe.MessageHeaderEncoder;
import io.yatt.controller.internal.sbe.ReferenceAnswerDecoder;
import io.yatt.controller.internal.sbe.ReferenceAnswerEncoder;
import io.yatt.controller.internal.sbe.ReferenceAnswerStatus;
import io.yatt.controller.internal.sbe.ReferenceChunkDecoder;
import io.yatt.controller.internal.sbe.ReferenceChunkEncoder;
import io.yatt.controller.internal.sbe.ReferenceClaimKind;
import io.yatt.controller.internal.sbe.ReferenceRequestDecoder;
import io.yatt.controller.internal.sbe.ReferenceRequestEncoder;
import io.yatt.controller.internal.sbe.ReferenceRequestKind;
import io.yatt.controller.internal.wire.FrameCounters;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.controller.internal.wire.FrameValidator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
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
 * last chunk is sent, so it frees the region at its last consumer as in-process pulls do, and acknowledges it; the
 * fetch returns after the acknowledgement. An owner in the consumer's
 * shm world is not fetched from: the consumer copies the rows in place from the owner's arena
 * ({@link #pullShared}) and only tells the owner of the pull (a request of the same form that the owner answers with
 * an acknowledgement once it found the region live and counted the pull). Bytes served and fetched over Aeron and
 * bytes copied from shared memory are counted. Uses an Aeron client of its own on the worker's media driver; the
 * server runs on its own thread. Thread-safe: fetches are serialised (one call thread per worker).
 *
 * <p>Requests, chunks and answers are messages of the control schema (ReferenceRequest, ReferenceChunk,
 * ReferenceAnswer), checked by {@link FrameValidator} before anything is read. With the job's shared secret every
 * frame carries a {@link FrameTag} trailer under the job's reference key (HMAC-SHA256(secret, "yatt-reference")), with
 * sequence numbers checked per sender (consumer at an owner, owner at a consumer) and starting at the sender's wall
 * clock in nanoseconds, so a restarted sender is not taken for a replay; an owner serves only requests addressed to
 * it, a consumer takes only chunks of the request it issued, from the owner it asked, addressed to it. Frames that
 * fail are counted ({@link #stats()}) and change nothing.
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

    /** Label of the job's reference key, derived from the shared secret. */
    static final String REFERENCE_KEY_LABEL = "yatt-reference";
    private static final int MAX_CHUNK_BYTES = 60 * 1024;
    private static final int MAX_FRAME_BYTES = MessageHeaderEncoder.ENCODED_LENGTH + 64 + 4 + MAX_CHUNK_BYTES
            + FrameTag.TRAILER_BYTES;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final DType[] DTYPES = DType.values();
    /** Raw codes of ReferenceAnswerStatus (ACK, FAILURE). */
    private static final short ANSWER_ACK = 0;
    private static final short ANSWER_FAILURE = 1;

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
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[MAX_FRAME_BYTES]);
    private final UnsafeBuffer serveBuffer = new UnsafeBuffer(new byte[MAX_FRAME_BYTES]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ReferenceRequestEncoder requestEncoder = new ReferenceRequestEncoder();
    private final MessageHeaderEncoder serveHeaderEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder serveHeaderDecoder = new MessageHeaderDecoder();
    private final ReferenceRequestDecoder requestDecoder = new ReferenceRequestDecoder();
    private final ReferenceChunkEncoder chunkEncoder = new ReferenceChunkEncoder();
    private final ReferenceAnswerEncoder answerEncoder = new ReferenceAnswerEncoder();
    private final ReferenceChunkDecoder chunkDecoder = new ReferenceChunkDecoder();
    private final ReferenceAnswerDecoder answerDecoder = new ReferenceAnswerDecoder();
    private final FrameCounters counters;
    /** Seals this worker's requests (call thread) and opens its owners' answers (call thread); null without a secret. */
    private final FrameTag requestSealer;
    private final FrameTag answerOpener;
    /** Opens requests and seals answers (server thread); null without a secret. */
    private final FrameTag requestOpener;
    private final FrameTag answerSealer;
    private final Map<Integer, Long> consumerSequences = new HashMap<>();
    private final Map<Integer, Long> ownerSequences = new HashMap<>();
    private final byte[] chunkScratch = new byte[MAX_CHUNK_BYTES];
    private volatile ReferenceStore store;
    private volatile boolean running = true;
    private long nextRequestId;

    // the fetch in progress (call thread only)
    private long awaitedRequest;
    private int awaitedOwner;
    private boolean awaitingAck;
    private Tensor target;
    private long targetOffset;
    private long received;
    private boolean acknowledged;
    /** Bytes the fetch in progress expects before its acknowledgement (-1 for a pull notice). */
    private long awaitedBytes = -1;
    private String failure;

    private ReferencePlane(Aeron aeron, FrameCounters counters, int workerId, String host, long timeoutNs,
            byte[] secret) {
        this.aeron = aeron;
        this.counters = counters;
        if (secret != null) {
            byte[] key = referenceKey(secret);
            long start = System.currentTimeMillis() * 1_000_000L;
            requestSealer = FrameTag.of(key).startAfter(start);
            answerSealer = FrameTag.of(key).startAfter(start);
            requestOpener = FrameTag.of(key);
            answerOpener = FrameTag.of(key);
        } else {
            requestSealer = null;
            answerSealer = null;
            requestOpener = null;
            answerOpener = null;
        }
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
     * at {@code host} (a free port); with the job's {@code secret} (null: none) every frame is sealed and checked.
     *
     * @throws IllegalArgumentException if {@code host} is beyond loopback and there is no secret
     * @throws io.aeron.exceptions.AeronException if the driver is not reached
     * @throws IllegalStateException if an endpoint does not resolve within the timeout
     */
    public static ReferencePlane start(String driverDirectory, int workerId, String host, long timeoutNs,
            byte[] secret) {
        if (secret == null && !Endpoints.isLoopback(host)) {
            throw new IllegalArgumentException("a reference endpoint beyond loopback requires a shared secret: host="
                    + host + ", workerId=" + workerId + ", expected=a loopback address or the job's shared secret");
        }
        // exceptions that escape a fragment handler reach the client's error handler: counted as agent errors
        FrameCounters counters = new FrameCounters();
        Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driverDirectory)
                .errorHandler(e -> {
                    counters.agentError();
                    System.err.println("yatt reference plane: aeron client error: " + e);
                }));
        return new ReferencePlane(aeron, counters, workerId, host, timeoutNs, secret == null ? null : secret.clone());
    }

    /** The job's reference key: HMAC-SHA256(secret, "yatt-reference"). */
    static byte[] referenceKey(byte[] secret) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance(Hmac.ALGORITHM);
            mac.init(new javax.crypto.spec.SecretKeySpec(secret, Hmac.ALGORITHM));
            return mac.doFinal(REFERENCE_KEY_LABEL.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable: " + e, e);
        }
    }

    /** Reference frames this worker dropped (as owner or consumer), by reason, and the errors its handlers threw. */
    public FrameStats stats() {
        return Endpoints.stats(counters);
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
        long expected = run.rows() * rowBytes;
        request(ReferenceRequestKind.FETCH, ownerEndpoint, run, claim, out, at, deadline);
        awaitedBytes = expected;
        FragmentHandler handler = new FragmentAssembler(this::onChunk);
        IdleStrategy idle = Idles.strategy(ControlPlane.Idle.BACKOFF);
        // every chunk, then the owner's acknowledgement, sent once it has counted the pull (and freed the region at
        // its last use): when the fetch returns, the owner's books already show it
        while (failure == null && !acknowledged) {
            int work = chunks.poll(handler, 16);
            if (received == expected) {
                awaitingAck = true;
            }
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
        request(ReferenceRequestKind.PULLED, ownerEndpoint, run, claim, out, at, deadline);
        awaitedBytes = -1;
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
    private void request(ReferenceRequestKind kind, String ownerEndpoint, ReferenceColumn.Run run,
            ReferenceStore.Claim claim, Tensor out, long at, long deadline) {
        long rowBytes = run.sampleShape().numel() * run.dtype().byteSize();
        long requestId = ++nextRequestId;
        awaitedRequest = requestId;
        awaitedOwner = run.ownerRank();
        awaitingAck = kind == ReferenceRequestKind.PULLED;
        target = out;
        targetOffset = at * rowBytes;
        received = 0;
        acknowledged = false;
        failure = null;
        requestEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
                .requestId(requestId)
                .consumerWorkerId(workerId)
                .ownerWorkerId(run.ownerRank())
                .kind(kind)
                .regionId(run.regionId())
                .byteOffset(run.byteOffset())
                .rowStrideBytes(run.rowStrideBytes())
                .rows(run.rows())
                .rowBytes(rowBytes)
                .claim(claim == null ? ReferenceClaimKind.NONE : claim.last() ? ReferenceClaimKind.LAST
                        : ReferenceClaimKind.CLAIM)
                .dispatch(claim == null ? 0 : claim.dispatch())
                .pulls(claim == null ? 0 : claim.pulls())
                .dtype(run.dtype().ordinal())
                .replyChannel(chunkEndpoint);
        int length = MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength();
        if (requestSealer != null) {
            length = requestSealer.seal(sendBuffer, length);
        }
        ExclusivePublication pub = toOwners.computeIfAbsent(ownerEndpoint,
                e -> aeron.addExclusivePublication(e, FETCH_STREAM_ID));
        try {
            offer(pub, sendBuffer, length, deadline, (awaitingAck ? "pull notice" : "fetch request") + " to owner "
                    + run.ownerRank() + " at " + ownerEndpoint);
        } catch (RuntimeException e) {
            target = null;
            throw e;
        }
    }

    /**
     * Opens (with a secret) and validates a frame of the expected templates; the body's length, or -1 once counted
     * as dropped. The sender's sequence number is checked by the caller, who knows the sender from the body.
     */
    private int admit(FrameTag opener, DirectBuffer buffer, int offset, int length, int templateA, int templateB) {
        int body = length;
        if (opener != null) {
            body = opener.verify(buffer, offset, length);
            if (body == FrameTag.NOT_AUTHENTIC) {
                counters.unauthenticated();
                return -1;
            }
        }
        int template = FrameValidator.validate(buffer, offset, body);
        if (template == FrameValidator.MALFORMED) {
            counters.malformed();
            return -1;
        }
        if (template != templateA && template != templateB) {
            counters.dropped();
            return -1;
        }
        return body;
    }

    /** Whether {@code sequence} from {@code sender} is above the last one taken from it (always true unsealed). */
    private static boolean fresh(FrameTag opener, Map<Integer, Long> last, int sender) {
        if (opener == null) {
            return true;
        }
        long sequence = opener.verifiedSequence();
        Long previous = last.get(sender);
        if (previous != null && sequence <= previous) {
            return false;
        }
        last.put(sender, sequence);
        return true;
    }

    private void onChunk(DirectBuffer buffer, int offset, int length, io.aeron.logbuffer.Header header) {
        int body = admit(answerOpener, buffer, offset, length, FrameValidator.REFERENCE_CHUNK_TEMPLATE_ID,
                FrameValidator.REFERENCE_ANSWER_TEMPLATE_ID);
        if (body < 0) {
            return;
        }
        headerDecoder.wrap(buffer, offset);
        boolean chunk = headerDecoder.templateId() == FrameValidator.REFERENCE_CHUNK_TEMPLATE_ID;
        long requestId;
        int owner;
        int consumer;
        if (chunk) {
            chunkDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
            requestId = chunkDecoder.requestId();
            owner = chunkDecoder.ownerWorkerId();
            consumer = chunkDecoder.consumerWorkerId();
        } else {
            answerDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
            requestId = answerDecoder.requestId();
            owner = answerDecoder.ownerWorkerId();
            consumer = answerDecoder.consumerWorkerId();
        }
        if (!fresh(answerOpener, ownerSequences, owner)) {
            counters.unauthenticated();
            return;
        }
        if (consumer != workerId || requestId != awaitedRequest || owner != awaitedOwner || target == null) {
            counters.dropped();
            return;
        }
        if (!chunk) {
            // raw codes: the generated enum getter throws on a code the schema does not name
            short status = answerDecoder.statusRaw();
            if (status == ANSWER_FAILURE) {
                failure = answerDecoder.message();
            } else if (status == ANSWER_ACK && (awaitingAck || received == awaitedBytes)) {
                acknowledged = true;
            } else {
                counters.malformed();
            }
            return;
        }
        long at = chunkDecoder.byteOffset();
        int n = chunkDecoder.dataLength();
        if (awaitingAck || at != received || n > MAX_CHUNK_BYTES || targetOffset + at + n > target.byteSize()) {
            failure = "malformed reference chunk: requestId=" + requestId + ", ownerRank=" + owner + ", at=" + at
                    + ", bytes=" + n + ", expectedAt=" + received;
            return;
        }
        chunkDecoder.getData(chunkScratch, 0, n);
        MemorySegment.copy(MemorySegment.ofArray(chunkScratch), 0, target.segment(), targetOffset + at, n);
        received += n;
    }

    /** The request kind of a raw code; null for a code the schema does not name. */
    static ReferenceRequestKind requestKind(short raw) {
        return switch (raw) {
            case 0 -> ReferenceRequestKind.FETCH;
            case 1 -> ReferenceRequestKind.PULLED;
            default -> null;
        };
    }

    /** The claim kind of a raw code; null for a code the schema does not name. */
    static ReferenceClaimKind claimKind(short raw) {
        return switch (raw) {
            case 0 -> ReferenceClaimKind.NONE;
            case 1 -> ReferenceClaimKind.CLAIM;
            case 2 -> ReferenceClaimKind.LAST;
            default -> null;
        };
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
                counters.agentError();
                System.err.println("yatt reference plane " + workerId + ": " + e);
                work = 1;
            }
            idle.idle(work);
        }
    }

    private void onRequest(DirectBuffer buffer, int offset, int length, io.aeron.logbuffer.Header header) {
        int body = admit(requestOpener, buffer, offset, length, FrameValidator.REFERENCE_REQUEST_TEMPLATE_ID,
                FrameValidator.REFERENCE_REQUEST_TEMPLATE_ID);
        if (body < 0) {
            return;
        }
        ReferenceRequestDecoder r = requestDecoder.wrapAndApplyHeader(buffer, offset, serveHeaderDecoder);
        int consumer = r.consumerWorkerId();
        if (!fresh(requestOpener, consumerSequences, consumer)) {
            counters.unauthenticated();
            return;
        }
        long requestId = r.requestId();
        // raw codes mapped by hand: the generated enum getters throw on a code the schema does not name
        ReferenceRequestKind kind = requestKind(r.kindRaw());
        ReferenceClaimKind claimKind = claimKind(r.claimRaw());
        int dtypeCode = r.dtype();
        if (kind == null || claimKind == null || dtypeCode < 0 || dtypeCode >= DTYPES.length) {
            counters.malformed();
            return;
        }
        if (r.ownerWorkerId() != workerId) {
            counters.dropped();
            return;
        }
        long regionId = r.regionId();
        long byteOffset = r.byteOffset();
        long stride = r.rowStrideBytes();
        int rows = r.rows();
        long rowBytes = r.rowBytes();
        long dispatch = r.dispatch();
        int pulls = r.pulls();
        String replyChannel = r.replyChannel();
        ExclusivePublication pub;
        try {
            pub = toConsumers.computeIfAbsent(replyChannel, c -> aeron.addExclusivePublication(c, CHUNK_STREAM_ID));
        } catch (RuntimeException e) {
            counters.dropped();
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
            if (kind == ReferenceRequestKind.PULLED) {
                // the consumer copied the rows in place: check the region is still live and holds them
                s.send(regionId, byteOffset, stride, rows, rowBytes, DTYPES[dtypeCode], (segment, at) -> { });
            } else {
                s.send(regionId, byteOffset, stride, rows, rowBytes, DTYPES[dtypeCode],
                        (segment, at) -> sendChunks(pub, requestId, consumer, segment, at, deadline));
                servedBytes.addAndGet(rows * rowBytes);
            }
            if (claimKind != ReferenceClaimKind.NONE) {
                s.pulled(regionId, new ReferenceStore.Claim(dispatch, pulls, claimKind == ReferenceClaimKind.LAST));
            }
            answer(pub, requestId, consumer, ReferenceAnswerStatus.ACK, "", deadline);
        } catch (RuntimeException e) {
            String text = String.valueOf(e.getMessage());
            if (text.length() > MAX_CHUNK_BYTES / 4) {
                text = text.substring(0, MAX_CHUNK_BYTES / 4);
            }
            try {
                answer(pub, requestId, consumer, ReferenceAnswerStatus.FAILURE, text, deadline);
            } catch (IllegalArgumentException unsent) {
                System.err.println("yatt reference plane " + workerId + ": " + unsent.getMessage());
            }
        }
    }

    private void answer(ExclusivePublication pub, long requestId, int consumer, ReferenceAnswerStatus status,
            String message, long deadline) {
        answerEncoder.wrapAndApplyHeader(serveBuffer, 0, serveHeaderEncoder)
                .requestId(requestId)
                .ownerWorkerId(workerId)
                .consumerWorkerId(consumer)
                .status(status)
                .message(message);
        int length = MessageHeaderEncoder.ENCODED_LENGTH + answerEncoder.encodedLength();
        if (answerSealer != null) {
            length = answerSealer.seal(serveBuffer, length);
        }
        offer(pub, serveBuffer, length, deadline, (status == ReferenceAnswerStatus.ACK ? "pull acknowledgement"
                : "fetch failure") + " to worker " + consumer);
    }

    /** Sends {@code segment} (the bytes at {@code at} of the request's rows) in chunks. */
    private void sendChunks(ExclusivePublication pub, long requestId, int consumer, MemorySegment segment, long at,
            long deadline) {
        MemorySegment staging = MemorySegment.ofArray(serveBuffer.byteArray());
        for (long done = 0; done < segment.byteSize(); ) {
            int n = (int) Math.min(MAX_CHUNK_BYTES, segment.byteSize() - done);
            chunkEncoder.wrapAndApplyHeader(serveBuffer, 0, serveHeaderEncoder)
                    .requestId(requestId)
                    .ownerWorkerId(workerId)
                    .consumerWorkerId(consumer)
                    .byteOffset(at + done);
            int limit = chunkEncoder.limit();
            serveBuffer.putInt(limit, n, LE);
            MemorySegment.copy(segment, done, staging, limit + 4, n);
            int length = limit + 4 + n;
            if (answerSealer != null) {
                length = answerSealer.seal(serveBuffer, length);
            }
            offer(pub, serveBuffer, length, deadline, "reference chunk to " + pub.channel());
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
