package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.controller.internal.sbe.MessageHeaderEncoder;
import io.yatt.controller.internal.sbe.ReferenceAnswerEncoder;
import io.yatt.controller.internal.sbe.ReferenceAnswerStatus;
import io.yatt.controller.internal.sbe.ReferenceChunkEncoder;
import io.yatt.controller.internal.sbe.ReferenceClaimKind;
import io.yatt.controller.internal.sbe.ReferenceRequestEncoder;
import io.yatt.controller.internal.sbe.ReferenceRequestKind;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The reference data plane's frames (templates 14 to 16) under the validator and the frame tag: a whole frame passes,
 * every truncation, trailing byte and older version is malformed, and a sealed frame with any bit flipped does not
 * verify.
 */
class ReferenceFramePropertiesTest {

    private static final byte[] KEY = new byte[32];

    @Provide
    Arbitrary<byte[]> referenceFrames() {
        return Arbitraries.integers().between(0, 2).flatMap(kind -> Arbitraries.longs().flatMap(id ->
                Arbitraries.strings().ofMaxLength(40).map(text -> encode(kind, id, text))));
    }

    private static byte[] encode(int kind, long id, String text) {
        UnsafeBuffer b = new UnsafeBuffer(new byte[4096]);
        MessageHeaderEncoder header = new MessageHeaderEncoder();
        int length = MessageHeaderEncoder.ENCODED_LENGTH;
        switch (kind) {
            case 0 -> length += new ReferenceRequestEncoder().wrapAndApplyHeader(b, 0, header).requestId(id)
                    .consumerWorkerId(9).ownerWorkerId(7).kind(ReferenceRequestKind.FETCH).regionId(1).byteOffset(0)
                    .rowStrideBytes(4).rows(3).rowBytes(4).claim(ReferenceClaimKind.LAST).dispatch(id).pulls(1)
                    .dtype(0).replyChannel("aeron:udp?endpoint=127.0.0.1:4" + text.length()).encodedLength();
            case 1 -> {
                byte[] data = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                length += new ReferenceChunkEncoder().wrapAndApplyHeader(b, 0, header).requestId(id)
                        .ownerWorkerId(7).consumerWorkerId(9).byteOffset(0).putData(data, 0, data.length)
                        .encodedLength();
            }
            default -> length += new ReferenceAnswerEncoder().wrapAndApplyHeader(b, 0, header).requestId(id)
                    .ownerWorkerId(7).consumerWorkerId(9).status(ReferenceAnswerStatus.FAILURE).message(text)
                    .encodedLength();
        }
        return Arrays.copyOf(b.byteArray(), length);
    }

    @Property(tries = 200)
    void shouldValidateWholeFrameAndRejectEveryTruncationAndTrailingByte(@ForAll("referenceFrames") byte[] frame,
            @ForAll @IntRange(min = 0, max = 10_000) int cut) {
        int template = FrameValidator.validate(new UnsafeBuffer(frame), 0, frame.length);
        assertEquals(13 + frameKind(frame), template);
        int shorter = cut % frame.length;
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(frame), 0, shorter));
        byte[] longer = Arrays.copyOf(frame, frame.length + 1);
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(longer), 0, longer.length));
    }

    @Property(tries = 100)
    void shouldRejectReferenceFramesOfAVersionBeforeThree(@ForAll("referenceFrames") byte[] frame,
            @ForAll @IntRange(min = 1, max = 2) int version) {
        byte[] older = frame.clone();
        older[6] = (byte) version;
        older[7] = 0;
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(older), 0, older.length));
    }

    @Property(tries = 300)
    void shouldNotVerifySealedFrameWithAnyBitFlipped(@ForAll("referenceFrames") byte[] frame,
            @ForAll @IntRange(min = 0, max = 1 << 20) int position, @ForAll @IntRange(min = 0, max = 7) int bit) {
        UnsafeBuffer b = new UnsafeBuffer(new byte[frame.length + FrameTag.TRAILER_BYTES]);
        b.putBytes(0, frame);
        int sealed = FrameTag.of(KEY).seal(b, frame.length);
        assertEquals(frame.length, FrameTag.of(KEY).verify(b, 0, sealed));
        int at = position % sealed;
        b.putByte(at, (byte) (b.getByte(at) ^ (1 << bit)));
        assertEquals(FrameTag.NOT_AUTHENTIC, FrameTag.of(KEY).verify(b, 0, sealed));
    }

    private static int frameKind(byte[] frame) {
        return (frame[2] & 0xFF) - 13;
    }
}
