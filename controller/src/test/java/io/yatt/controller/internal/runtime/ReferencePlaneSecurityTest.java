package io.yatt.controller.internal.runtime;

import static io.yatt.controller.RawOffers.await;
import static io.yatt.controller.internal.runtime.ReferencePlanes.CONSUMER;
import static io.yatt.controller.internal.runtime.ReferencePlanes.OWNER;
import static io.yatt.controller.internal.runtime.ReferencePlanes.receiveRequest;
import static io.yatt.controller.internal.runtime.ReferencePlanes.resolved;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.yatt.controller.FrameStats;
import io.yatt.controller.RawOffers;
import io.yatt.controller.ReferenceColumn;
import io.yatt.controller.internal.sbe.MessageHeaderEncoder;
import io.yatt.controller.internal.sbe.ReferenceChunkEncoder;
import io.yatt.controller.internal.sbe.ReferenceClaimKind;
import io.yatt.controller.internal.sbe.ReferenceRequestDecoder;
import io.yatt.controller.internal.sbe.ReferenceRequestEncoder;
import io.yatt.controller.internal.sbe.ReferenceRequestKind;
import io.yatt.controller.internal.wire.FrameTag;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The reference data plane under a shared secret, between two real planes on one media driver and a rogue Aeron
 * client: forged, tampered, misaddressed and replayed requests and chunks are counted and change nothing; the good
 * path still pulls bit for bit.
 */
class ReferencePlaneSecurityTest {

    private static final byte[] SECRET = "0123456789abcdef-job-secret".getBytes(StandardCharsets.UTF_8);
    private static final byte[] WRONG = "0123456789abcdef-not-the-one".getBytes(StandardCharsets.UTF_8);
    private static final long OWNER_CONTROLLER = 0x5EC0_0001L;
    private static final long CONSUMER_CONTROLLER = 0x5EC0_0002L;
    /** 64 rows of 256 floats: 64 KiB, two chunks (60 KiB and 4 KiB). */
    private static final int ROWS = 64;
    private static final int ROW_FLOATS = 256;
    private static final long ROW_BYTES = ROW_FLOATS * 4L;
    private static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(3);

    private ReferencePlanes planes;
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[128 * 1024]);

    @BeforeEach
    void start() {
        planes = ReferencePlanes.start("security", OWNER_CONTROLLER, TIMEOUT_NS, SECRET);
    }

    @AfterEach
    void stop() {
        planes.close();
    }

    @Test
    void shouldPullBitForBitUnderTheSecretAndCountTheBytes() {
        ReferenceColumn column = publish();
        Map<ReferenceColumn.Region, ReferenceStore.Claim> claims =
                Map.of(new ReferenceColumn.Region(OWNER, 0), new ReferenceStore.Claim(1, 1, true));
        try (Tensor rows = pull(column, claims)) {
            for (int i = 0; i < ROWS; i++) {
                for (int j = 0; j < ROW_FLOATS; j++) {
                    assertEquals(i * 1000 + j, rows.getDouble(i, j));
                }
            }
        }
        assertEquals(ROWS * ROW_BYTES, planes.ownerPlane().servedBytes());
        assertEquals(ROWS * ROW_BYTES, planes.consumerPlane().fetchedBytes());
        assertEquals(0, planes.store().liveCount());
        assertEquals(new FrameStats(0, 0, 0), planes.ownerPlane().stats());
        assertEquals(new FrameStats(0, 0, 0), planes.consumerPlane().stats());
    }

    @Test
    void shouldDropForgedTamperedMisaddressedAndReplayedRequests() throws Exception {
        ReferenceColumn column = publish();
        ReferenceColumn.Run run = column.runs().getFirst();
        byte[] key = referenceKey(SECRET);
        FrameTag forger = FrameTag.of(key).startAfter(System.currentTimeMillis() * 1_000_000L);
        try (Subscription replies = planes.rogue().addSubscription("aeron:udp?endpoint=127.0.0.1:0",
                     ReferencePlane.CHUNK_STREAM_ID);
             ExclusivePublication toOwner = planes.rogue().addExclusivePublication(planes.ownerPlane().endpoint(),
                     ReferencePlane.FETCH_STREAM_ID)) {
            String replyChannel = resolved(replies);
            // no trailer, a "last use" claim: would free the region
            offer(toOwner, request(run, OWNER, ReferenceClaimKind.LAST, replyChannel, null));
            // sealed under another key
            offer(toOwner, request(run, OWNER, ReferenceClaimKind.LAST, replyChannel,
                    FrameTag.of(referenceKey(WRONG))));
            // sealed under the right key, but not a well-formed message
            buffer.setMemory(0, 40, (byte) 0x5A);
            offer(toOwner, forger.seal(buffer, 40));
            // sealed under the right key, addressed to another owner
            offer(toOwner, request(run, 99, ReferenceClaimKind.LAST, replyChannel, forger));
            // sealed, no claim: served once; the same frame again is a replay
            int length = request(run, OWNER, ReferenceClaimKind.NONE, replyChannel, forger);
            byte[] frame = new byte[length];
            buffer.getBytes(0, frame);
            offer(toOwner, length);
            await(() -> planes.ownerPlane().servedBytes() == ROWS * ROW_BYTES);
            buffer.putBytes(0, frame);
            offer(toOwner, length);
            await(() -> planes.ownerPlane().stats().equals(new FrameStats(1, 3, 1)));
            assertEquals(ROWS * ROW_BYTES, planes.ownerPlane().servedBytes());
        }
        // nothing claimed the region: it is live, and the real consumer's last pull gets it and frees it
        assertEquals(1, planes.store().liveCount());
        Map<ReferenceColumn.Region, ReferenceStore.Claim> claims =
                Map.of(new ReferenceColumn.Region(OWNER, 0), new ReferenceStore.Claim(1, 1, true));
        try (Tensor rows = pull(column, claims)) {
            assertEquals(63 * 1000 + 255, rows.getDouble(63, 255));
        }
        assertEquals(0, planes.store().liveCount());
        assertEquals(new FrameStats(1, 3, 1), planes.ownerPlane().stats());
    }

    @Test
    void shouldDropForgedAndReplayedChunksAndTimeOutWithTheTensorUnchanged() throws Exception {
        byte[] key = referenceKey(SECRET);
        FrameTag owner = FrameTag.of(key).startAfter(System.currentTimeMillis() * 1_000_000L);
        FrameTag requests = FrameTag.of(key);
        ReferenceColumn.Run run = new ReferenceColumn.Run(OWNER, 0, 0, ROW_BYTES, ROWS, DType.F32,
                Shape.of(ROW_FLOATS));
        try (Subscription fetches = planes.rogue().addSubscription("aeron:udp?endpoint=127.0.0.1:0",
                     ReferencePlane.FETCH_STREAM_ID);
             Tensor out = Tensor.allocate(planes.consumerAllocator(), DType.F32, Shape.of(ROWS, ROW_FLOATS),
                     Device.host())) {
            String ownerEndpoint = resolved(fetches);
            // a rogue owner: it answers the consumer's request with forged and misaddressed chunks only
            CompletableFuture<Void> fetch = CompletableFuture.runAsync(
                    () -> planes.consumerPlane().fetch(ownerEndpoint, run, null, out, 0));
            ReferenceRequestDecoder r = receiveRequest(fetches, requests);
            assertEquals(CONSUMER, r.consumerWorkerId());
            long requestId = r.requestId();
            try (ExclusivePublication toConsumer = planes.rogue().addExclusivePublication(r.replyChannel(),
                    ReferencePlane.CHUNK_STREAM_ID)) {
                offer(toConsumer, chunk(requestId, CONSUMER, 0, null));
                offer(toConsumer, chunk(requestId, CONSUMER, 0, FrameTag.of(referenceKey(WRONG))));
                offer(toConsumer, chunk(requestId + 1, CONSUMER, 0, owner));
                offer(toConsumer, chunk(requestId, CONSUMER + 1, 0, owner));
                await(() -> planes.consumerPlane().stats().equals(new FrameStats(0, 2, 2)));
                ExecutionException e = assertThrows(ExecutionException.class, () -> fetch.get(30, TimeUnit.SECONDS));
                assertEquals("reference fetch timed out: ownerRank=7, endpoint=" + ownerEndpoint + ", run=" + run
                        + ", receivedBytes=0, timeoutMs=3000", e.getCause().getMessage());
                for (int i = 0; i < ROWS; i++) {
                    for (int j = 0; j < ROW_FLOATS; j++) {
                        assertEquals(0.0, out.getDouble(i, j));
                    }
                }
            }
            // a second fetch: one genuine first chunk, then the same chunk replayed
            CompletableFuture<Void> second = CompletableFuture.runAsync(
                    () -> planes.consumerPlane().fetch(ownerEndpoint, run, null, out, 0));
            ReferenceRequestDecoder r2 = receiveRequest(fetches, requests);
            long secondId = r2.requestId();
            assertTrue(secondId != requestId);
            try (ExclusivePublication toConsumer = planes.rogue().addExclusivePublication(r2.replyChannel(),
                    ReferencePlane.CHUNK_STREAM_ID)) {
                int length = chunk(secondId, CONSUMER, 0, owner);
                offer(toConsumer, length);
                offer(toConsumer, length);
                await(() -> planes.consumerPlane().stats().equals(new FrameStats(0, 3, 2)));
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> second.get(30, TimeUnit.SECONDS));
                assertEquals("reference fetch timed out: ownerRank=7, endpoint=" + ownerEndpoint + ", run=" + run
                        + ", receivedBytes=61440, timeoutMs=3000", e.getCause().getMessage());
                // the genuine chunk landed (its 60 rows, each 0x01 bytes), the rest stayed zero
                assertEquals(Float.intBitsToFloat(0x01010101), out.getDouble(59, 255), 0.0);
                assertEquals(0.0, out.getDouble(60, 0));
            }
        }
        assertEquals(new FrameStats(0, 3, 2), planes.consumerPlane().stats());
    }

    private ReferenceColumn publish() {
        return planes.publish(ROWS, ROW_FLOATS, 1000);
    }

    private Tensor pull(ReferenceColumn column, Map<ReferenceColumn.Region, ReferenceStore.Claim> claims) {
        return planes.pull(CONSUMER_CONTROLLER, column, claims);
    }

    /** A request from consumer 55 (not a plane of this test) for {@code run}, sealed by {@code tag} unless null. */
    private int request(ReferenceColumn.Run run, int owner, ReferenceClaimKind claim, String replyChannel,
            FrameTag tag) {
        ReferenceRequestEncoder e = new ReferenceRequestEncoder().wrapAndApplyHeader(buffer, 0,
                new MessageHeaderEncoder());
        e.requestId(1).consumerWorkerId(55).ownerWorkerId(owner).kind(ReferenceRequestKind.FETCH)
                .regionId(run.regionId()).byteOffset(run.byteOffset()).rowStrideBytes(run.rowStrideBytes())
                .rows(run.rows()).rowBytes(ROW_BYTES).claim(claim).dispatch(1).pulls(1)
                .dtype(DType.F32.ordinal()).replyChannel(replyChannel);
        int length = MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength();
        return tag == null ? length : tag.seal(buffer, length);
    }

    /** A first chunk (60 KiB of 0x01 bytes) of request {@code requestId} from owner 7. */
    private int chunk(long requestId, int consumer, long at, FrameTag tag) {
        byte[] data = new byte[60 * 1024];
        java.util.Arrays.fill(data, (byte) 1);
        ReferenceChunkEncoder e = new ReferenceChunkEncoder().wrapAndApplyHeader(buffer, 0,
                new MessageHeaderEncoder());
        e.requestId(requestId).ownerWorkerId(OWNER).consumerWorkerId(consumer).byteOffset(at)
                .putData(data, 0, data.length);
        int length = MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength();
        return tag == null ? length : tag.seal(buffer, length);
    }

    private static byte[] referenceKey(byte[] secret) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        return mac.doFinal("yatt-reference".getBytes(StandardCharsets.US_ASCII));
    }

    private void offer(ExclusivePublication publication, int length) {
        RawOffers.offer(publication, buffer, length);
    }


}
