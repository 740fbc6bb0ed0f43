package io.yatt.controller.internal.runtime;

import static io.yatt.controller.RawOffers.await;
import static io.yatt.controller.internal.runtime.ReferencePlanes.CONSUMER;
import static io.yatt.controller.internal.runtime.ReferencePlanes.OWNER;
import static io.yatt.controller.internal.runtime.ReferencePlanes.receiveRequest;
import static io.yatt.controller.internal.runtime.ReferencePlanes.resolved;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.yatt.controller.FrameStats;
import io.yatt.controller.RawOffers;
import io.yatt.controller.ReferenceColumn;
import io.yatt.controller.internal.sbe.MessageHeaderDecoder;
import io.yatt.controller.internal.sbe.MessageHeaderEncoder;
import io.yatt.controller.internal.sbe.ReferenceAnswerEncoder;
import io.yatt.controller.internal.sbe.ReferenceAnswerStatus;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad frames through Aeron onto the fetch stream of a live owner and the chunk stream of a live consumer, unsealed
 * and sealed under the job's reference key: random bytes, truncations, bit flips, wrong versions and well-formed
 * messages with an enum code the schema does not name. Nothing escapes the planes' handlers, each frame is counted
 * exactly once, nothing is served or applied, and real fetches still work afterwards.
 */
class ReferencePlaneFramesTest {

    private static final long SEED = 20261202L;
    private static final int FRAMES = 100;
    private static final byte[] SECRET = "0123456789abcdef-frames-secret".getBytes(StandardCharsets.UTF_8);
    /**
     * The id the rogue owner answers under: its own, since a sealed consumer checks sequence numbers per owner id and
     * the rogue's (started later) would shadow the real owner's.
     */
    private static final int ROGUE = 5;
    /** A worker id neither plane has: one bit flip of it never gives 7 or 9. */
    private static final int STRANGER = 99;
    private static final int ROWS = 16;
    private static final int ROW_FLOATS = 8;
    private static final long ROW_BYTES = ROW_FLOATS * 4L;
    private static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(20);

    private ReferencePlanes planes;
    private FrameTag forger;
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
    private final Random random = new Random(SEED);

    private void start(boolean sealed) {
        planes = ReferencePlanes.start("frames", 1L, TIMEOUT_NS, sealed ? SECRET : null);
        forger = sealed ? FrameTag.of(ReferencePlane.referenceKey(SECRET))
                .startAfter(System.currentTimeMillis() * 1_000_000L) : null;
    }

    @AfterEach
    void stop() {
        if (planes != null) {
            planes.close();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldCountEveryBadRequestOnceAndStillServe(boolean sealed) {
        start(sealed);
        ReferenceColumn column = publish();
        ReferenceColumn.Run run = column.runs().getFirst();
        List<byte[]> frames = new ArrayList<>();
        int badEnums = 0;
        for (int i = 0; i < FRAMES; i++) {
            switch (i % 5) {
                case 0 -> frames.add(noise());
                case 1 -> frames.add(truncated(request(run, STRANGER, ReferenceRequestKind.FETCH)));
                case 2 -> frames.add(flipped(request(run, STRANGER, ReferenceRequestKind.FETCH)));
                case 3 -> frames.add(wrongVersion(request(run, STRANGER, ReferenceRequestKind.FETCH)));
                default -> {
                    // addressed to the owner, well-formed but for a kind or claim code the schema does not name
                    byte[] frame = request(run, OWNER, ReferenceRequestKind.FETCH);
                    int at = MessageHeaderEncoder.ENCODED_LENGTH + (i % 2 == 0
                            ? ReferenceRequestEncoder.kindEncodingOffset()
                            : ReferenceRequestEncoder.claimEncodingOffset());
                    frame[at] = (byte) (3 + random.nextInt(252));
                    frames.add(seal(frame));
                    badEnums++;
                }
            }
        }
        try (ExclusivePublication toOwner = planes.rogue().addExclusivePublication(planes.ownerPlane().endpoint(),
                ReferencePlane.FETCH_STREAM_ID)) {
            sendAll(toOwner, frames);
            await(() -> total(planes.ownerPlane().stats()) >= FRAMES);
        }
        FrameStats stats = planes.ownerPlane().stats();
        assertEquals(FRAMES, total(stats));
        assertEquals(0, planes.ownerPlane().servedBytes());
        // every bad enum code is malformed; the noise, truncations and wrong versions too
        assertTrue(stats.malformedFrames() >= badEnums + 3L * FRAMES / 5, "malformed: " + stats);
        assertEquals(1, planes.store().liveCount());
        try (Tensor rows = pull(column)) {
            assertEquals(15 * 100 + 7, rows.getDouble(15, 7));
        }
        assertEquals(ROWS * ROW_BYTES, planes.ownerPlane().servedBytes());
        assertEquals(0, planes.store().liveCount());
        assertEquals(stats, planes.ownerPlane().stats());
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldCountEveryBadChunkAndAnswerOnceAndFinishTheFetch(boolean sealed) {
        start(sealed);
        FrameTag requests = sealed ? FrameTag.of(ReferencePlane.referenceKey(SECRET)) : null;
        ReferenceColumn.Run run = new ReferenceColumn.Run(ROGUE, 0, 0, ROW_BYTES, ROWS, DType.F32,
                Shape.of(ROW_FLOATS));
        try (Subscription fetches = planes.rogue().addSubscription("aeron:udp?endpoint=127.0.0.1:0",
                     ReferencePlane.FETCH_STREAM_ID);
             Tensor out = Tensor.allocate(planes.consumerAllocator(), DType.F32, Shape.of(ROWS, ROW_FLOATS),
                     Device.host())) {
            String ownerEndpoint = resolved(fetches);
            // a rogue owner answers the fetch: bad frames first, then the rows and the acknowledgement
            CompletableFuture<Void> fetch = CompletableFuture.runAsync(
                    () -> planes.consumerPlane().fetch(ownerEndpoint, run, null, out, 0));
            ReferenceRequestDecoder r = receiveRequest(fetches, requests);
            long requestId = r.requestId();
            List<byte[]> frames = new ArrayList<>();
            int badStatuses = 0;
            for (int i = 0; i < FRAMES; i++) {
                boolean answer = random.nextBoolean();
                byte[] misaddressed = answer ? answer(requestId, STRANGER, ReferenceAnswerStatus.ACK)
                        : chunk(requestId, STRANGER, 0, ROWS * (int) ROW_BYTES);
                switch (i % 5) {
                    case 0 -> frames.add(noise());
                    case 1 -> frames.add(truncated(misaddressed));
                    case 2 -> frames.add(flipped(misaddressed));
                    case 3 -> frames.add(wrongVersion(misaddressed));
                    default -> {
                        // addressed to the fetch in progress, well-formed, with a status the schema does not name
                        byte[] frame = answer(requestId, CONSUMER, ReferenceAnswerStatus.ACK);
                        frame[MessageHeaderEncoder.ENCODED_LENGTH + ReferenceAnswerEncoder.statusEncodingOffset()] =
                                (byte) (2 + random.nextInt(254));
                        frames.add(seal(frame));
                        badStatuses++;
                    }
                }
            }
            frames.add(seal(chunk(requestId, CONSUMER, 0, ROWS * (int) ROW_BYTES)));
            frames.add(seal(answer(requestId, CONSUMER, ReferenceAnswerStatus.ACK)));
            try (ExclusivePublication toConsumer = planes.rogue().addExclusivePublication(r.replyChannel(),
                    ReferencePlane.CHUNK_STREAM_ID)) {
                sendAll(toConsumer, frames);
                fetch.get(60, TimeUnit.SECONDS);
            }
            // the rows of the genuine chunk: byte k of the run is k, so float 5 of row 3 (bytes 116 to 119) is
            assertEquals(Float.intBitsToFloat(0x77767574), out.getDouble(3, 5), 0.0);
            FrameStats stats = planes.consumerPlane().stats();
            assertEquals(FRAMES, total(stats));
            assertTrue(stats.malformedFrames() >= badStatuses + 3L * FRAMES / 5, "malformed: " + stats);
            assertEquals(ROWS * ROW_BYTES, planes.consumerPlane().fetchedBytes());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        // and a real fetch from the real owner
        ReferenceColumn column = publish();
        try (Tensor rows = pull(column)) {
            assertEquals(3 * 100 + 2, rows.getDouble(3, 2));
        }
        assertEquals(2 * ROWS * ROW_BYTES, planes.consumerPlane().fetchedBytes());
        assertEquals(FRAMES, total(planes.consumerPlane().stats()));
        assertEquals(new FrameStats(0, 0, 0), planes.ownerPlane().stats());
    }

    private static long total(FrameStats s) {
        return s.malformedFrames() + s.unauthenticatedFrames() + s.droppedFrames();
    }

    private ReferenceColumn publish() {
        return planes.publish(ROWS, ROW_FLOATS, 100);
    }

    private Tensor pull(ReferenceColumn column) {
        return planes.pull(2L, column, Map.of(new ReferenceColumn.Region(OWNER, column.runs().getFirst().regionId()),
                new ReferenceStore.Claim(1, 1, true)));
    }

    private byte[] noise() {
        byte[] noise = new byte[1 + random.nextInt(120)];
        random.nextBytes(noise);
        return seal(noise);
    }

    private byte[] truncated(byte[] frame) {
        return seal(Arrays.copyOf(frame, 1 + random.nextInt(frame.length - 1)));
    }

    private byte[] flipped(byte[] frame) {
        frame[random.nextInt(frame.length)] ^= (byte) (1 << random.nextInt(8));
        return seal(frame);
    }

    private byte[] wrongVersion(byte[] frame) {
        // 0, or past the schema's version (versions 1 and 2 predate the reference frames, which are rejected too)
        int version = random.nextBoolean() ? 0 : MessageHeaderDecoder.SCHEMA_VERSION + 1 + random.nextInt(60000);
        frame[6] = (byte) version;
        frame[7] = (byte) (version >>> 8);
        return seal(frame);
    }

    /** The frame as sent: sealed under the reference key (a fresh sequence number) when the planes are sealed. */
    private byte[] seal(byte[] frame) {
        if (forger == null) {
            return frame;
        }
        UnsafeBuffer b = new UnsafeBuffer(new byte[frame.length + FrameTag.TRAILER_BYTES]);
        b.putBytes(0, frame);
        forger.seal(b, frame.length);
        return b.byteArray();
    }

    /** A request from consumer 55 for {@code run}, unsealed (the callers seal what they send). */
    private byte[] request(ReferenceColumn.Run run, int owner, ReferenceRequestKind kind) {
        ReferenceRequestEncoder e = new ReferenceRequestEncoder().wrapAndApplyHeader(buffer, 0,
                new MessageHeaderEncoder());
        e.requestId(1).consumerWorkerId(55).ownerWorkerId(owner).kind(kind).regionId(run.regionId())
                .byteOffset(run.byteOffset()).rowStrideBytes(run.rowStrideBytes()).rows(run.rows())
                .rowBytes(ROW_BYTES).claim(ReferenceClaimKind.LAST).dispatch(1).pulls(1).dtype(DType.F32.ordinal())
                .replyChannel("aeron:udp?endpoint=127.0.0.1:40123");
        return Arrays.copyOf(buffer.byteArray(), MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    /** A chunk of {@code bytes} bytes (byte k is k) at {@code at} of request {@code requestId}, unsealed. */
    private byte[] chunk(long requestId, int consumer, long at, int bytes) {
        byte[] data = new byte[bytes];
        for (int k = 0; k < bytes; k++) {
            data[k] = (byte) k;
        }
        ReferenceChunkEncoder e = new ReferenceChunkEncoder().wrapAndApplyHeader(buffer, 0,
                new MessageHeaderEncoder());
        e.requestId(requestId).ownerWorkerId(ROGUE).consumerWorkerId(consumer).byteOffset(at)
                .putData(data, 0, data.length);
        return Arrays.copyOf(buffer.byteArray(), MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    /** An answer of {@code status} to request {@code requestId} from the rogue, unsealed. */
    private byte[] answer(long requestId, int consumer, ReferenceAnswerStatus status) {
        ReferenceAnswerEncoder e = new ReferenceAnswerEncoder().wrapAndApplyHeader(buffer, 0,
                new MessageHeaderEncoder());
        e.requestId(requestId).ownerWorkerId(ROGUE).consumerWorkerId(consumer).status(status).message("");
        return Arrays.copyOf(buffer.byteArray(), MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    private static void sendAll(ExclusivePublication publication, List<byte[]> frames) {
        for (byte[] frame : frames) {
            RawOffers.offer(publication, new UnsafeBuffer(frame), frame.length);
        }
    }
}
