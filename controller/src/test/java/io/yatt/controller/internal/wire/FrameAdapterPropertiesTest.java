package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Random, truncated, bit-flipped and wrong-version frames through an adapter: nothing is thrown, every frame is
 * counted once, and a frame that is counted as malformed never reaches the handler.
 */
class FrameAdapterPropertiesTest {

    private static final class Recorder implements MessageHandler {
        final List<Message> applied = new ArrayList<>();

        @Override
        public Outcome onMessage(Message message, int sessionId) {
            applied.add(message);
            return Outcome.APPLIED;
        }
    }

    private static Recorder feed(FrameCounters counters, byte[] frame) {
        Recorder recorder = new Recorder();
        FrameAdapter adapter = new FrameAdapter(new FrameDecoder(PayloadCodec.builtIn()), recorder, counters);
        byte[] padded = new byte[frame.length + 16];
        System.arraycopy(frame, 0, padded, 8, frame.length);
        adapter.onFrame(new UnsafeBuffer(padded), 8, frame.length, 1);
        return recorder;
    }

    @Provide
    Arbitrary<byte[]> validFrames() {
        return Frames.validFrames();
    }

    @Property(tries = 300)
    void shouldCountRandomBytesAsMalformedOrDecodeThem(@ForAll("randomBytes") byte[] frame) {
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, frame);
        assertEquals(1, counters.malformedFrames() + recorder.applied.size());
    }

    @Provide
    Arbitrary<byte[]> randomBytes() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(200);
    }

    @Property(tries = 300)
    void shouldDropEveryTruncatedFrame(@ForAll("validFrames") byte[] frame, @ForAll @IntRange(min = 1, max = 64) int cut) {
        byte[] truncated = Arrays.copyOf(frame, Math.max(0, frame.length - cut));
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, truncated);
        assertEquals(List.of(), recorder.applied);
        assertEquals(1, counters.malformedFrames());
    }

    @Property(tries = 300)
    void shouldDropFrameWithTrailingBytes(@ForAll("validFrames") byte[] frame, @ForAll @IntRange(min = 1, max = 9) int extra) {
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, Arrays.copyOf(frame, frame.length + extra));
        assertEquals(List.of(), recorder.applied);
        assertEquals(1, counters.malformedFrames());
    }

    @Property(tries = 500)
    void shouldNeverThrowOnBitFlips(@ForAll("validFrames") byte[] frame, @ForAll @IntRange(min = 0, max = 100_000) int at,
                                    @ForAll @IntRange(min = 0, max = 7) int bit) {
        byte[] flipped = frame.clone();
        flipped[at % flipped.length] ^= (byte) (1 << bit);
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, flipped);
        assertEquals(1, counters.malformedFrames() + recorder.applied.size());
    }

    @Property(tries = 300)
    void shouldDropEveryBitFlipInSchemaIdOrVersion(@ForAll("validFrames") byte[] frame,
                                                   @ForAll @IntRange(min = 4, max = 7) int at,
                                                   @ForAll @IntRange(min = 0, max = 7) int bit) {
        byte[] flipped = frame.clone();
        flipped[at] ^= (byte) (1 << bit);
        // a flip of the version into another version still read (1 or 2 from 3) is a valid older frame
        int version = (flipped[6] & 0xFF) | (flipped[7] & 0xFF) << 8;
        net.jqwik.api.Assume.that(at < 6 || version < FrameValidator.MIN_VERSION
                || version > io.yatt.controller.internal.sbe.MessageHeaderDecoder.SCHEMA_VERSION);
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, flipped);
        assertEquals(List.of(), recorder.applied);
        assertEquals(1, counters.malformedFrames());
    }

    @Property(tries = 300)
    void shouldDropWrongVersion(@ForAll("validFrames") byte[] frame,
                                @ForAll @IntRange(min = 0, max = 65535) int version) {
        net.jqwik.api.Assume.that(version < FrameValidator.MIN_VERSION
                || version > io.yatt.controller.internal.sbe.MessageHeaderDecoder.SCHEMA_VERSION);
        byte[] wrong = frame.clone();
        wrong[6] = (byte) version;
        wrong[7] = (byte) (version >>> 8);
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, wrong);
        assertEquals(List.of(), recorder.applied);
        assertEquals(1, counters.malformedFrames());
    }

    @Provide
    Arbitrary<byte[]> registersWithSignatures() {
        return Frames.registersWithSignatures();
    }

    @Property(tries = 200)
    void shouldDropRegisterWhoseSignatureFieldIsCut(@ForAll("registersWithSignatures") byte[] frame,
                                                    @ForAll @IntRange(min = 0, max = 1000) int field,
                                                    @ForAll @IntRange(min = 0, max = 1000) int within) {
        List<Integer> fields = RegisterLayout.signatureFields(frame);
        int at = fields.get(field % fields.size());
        int fieldBytes = 4 + ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).getInt(at);
        // cut anywhere from the field's length header to its last byte
        byte[] cut = Arrays.copyOf(frame, at + within % fieldBytes);
        // the validator refuses it before a decoder reads it
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(cut), 0, cut.length));
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, cut);
        assertEquals(List.of(), recorder.applied);
        assertEquals(1, counters.malformedFrames());
    }

    @Property(tries = 200)
    void shouldDropRegisterWhoseSignatureLengthIsTooLong(@ForAll("registersWithSignatures") byte[] frame,
                                                        @ForAll @IntRange(min = 0, max = 1000) int field,
                                                        @ForAll @IntRange(min = 1, max = Integer.MAX_VALUE) int past) {
        List<Integer> fields = RegisterLayout.signatureFields(frame);
        int at = fields.get(field % fields.size());
        ByteBuffer b = ByteBuffer.wrap(frame.clone()).order(ByteOrder.LITTLE_ENDIAN);
        // longer than what is left of the frame, up to lengths above the largest field accepted and 2^32 - 1
        long left = frame.length - at - 4;
        b.putInt(at, (int) Math.min(0xFFFF_FFFFL, left + past));
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(b.array()), 0,
                frame.length));
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, b.array());
        assertEquals(List.of(), recorder.applied);
        assertEquals(1, counters.malformedFrames());
    }

    @Property(tries = 200)
    void shouldDecodeEveryValidFrameExactlyOnce(@ForAll("validFrames") byte[] frame) {
        FrameCounters counters = new FrameCounters();
        Recorder recorder = feed(counters, frame);
        assertEquals(1, recorder.applied.size());
        assertEquals(0, counters.malformedFrames());
    }
}
