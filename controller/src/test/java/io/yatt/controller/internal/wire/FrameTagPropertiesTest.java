package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * Frames sealed by a proxy with a session key, then corrupted (bit flips, truncation, another key, no MAC, a replay)
 * or replaced by random bytes, through an adapter whose gate opens them as an endpoint's does: nothing is thrown, a
 * frame that is not exactly what the sender sealed is never applied, and every frame is counted once.
 */
class FrameTagPropertiesTest {

    private static final byte[] KEY = key(1);
    private static final byte[] OTHER_KEY = key(2);

    private static byte[] key(int seed) {
        byte[] k = new byte[32];
        for (int i = 0; i < k.length; i++) {
            k[i] = (byte) (seed * 31 + i);
        }
        return k;
    }

    private static final class Recorder implements MessageHandler {
        final List<Message> applied = new ArrayList<>();

        @Override
        public Outcome onMessage(Message message, int sessionId) {
            applied.add(message);
            return Outcome.APPLIED;
        }
    }

    /** A receiving endpoint: an adapter whose gate opens sealed templates under {@link #KEY}, as the agents' do. */
    private static final class Receiver {
        final FrameCounters counters = new FrameCounters();
        final Recorder recorder = new Recorder();
        final FrameTag opener = FrameTag.of(KEY);
        final FrameAdapter adapter = new FrameAdapter(new FrameDecoder(PayloadCodec.builtIn()), recorder, counters,
                (buffer, offset, length, templateId, sessionId) -> FrameTag.sealed(templateId)
                        ? opener.open(buffer, offset, length) : length);

        void feed(byte[] frame) {
            byte[] padded = new byte[frame.length + 16];
            System.arraycopy(frame, 0, padded, 8, frame.length);
            adapter.onFrame(new UnsafeBuffer(padded), 8, frame.length, 1);
        }

        long counted() {
            return counters.malformedFrames() + counters.unauthenticatedFrames() + counters.droppedFrames()
                    + recorder.applied.size();
        }
    }

    /** The frames a proxy sealed under {@code key} puts on the wire for {@code messages}, in order. */
    private static List<byte[]> sealed(byte[] key, Message... messages) {
        List<byte[]> wire = new ArrayList<>();
        WorkerProxy proxy = new WorkerProxy(PayloadCodec.builtIn(), (buffer, offset, length) -> {
            byte[] frame = new byte[length];
            buffer.getBytes(offset, frame);
            wire.add(frame);
            return true;
        });
        proxy.seal(FrameTag.of(key));
        for (Message m : messages) {
            assertTrue(proxy.send(m));
        }
        return wire;
    }

    @Provide
    Arbitrary<Message> sealedMessages() {
        return Arbitraries.of(Frames.samples().stream()
                .filter(m -> !(m instanceof Message.Register) && !(m instanceof Message.RegisterAck)).toList());
    }

    @Property(tries = 100)
    void shouldOpenEverySealedFrameOnce(@ForAll("sealedMessages") Message message) {
        byte[] frame = sealed(KEY, message).getFirst();
        assertEquals(Frames.encode(message).length + FrameTag.TRAILER_BYTES, frame.length);
        Receiver receiver = new Receiver();
        receiver.feed(frame);
        assertEquals(1, receiver.recorder.applied.size());
        assertEquals(1, receiver.counted());
    }

    @Property(tries = 500)
    void shouldNeverApplyABitFlippedFrame(@ForAll("sealedMessages") Message message,
                                          @ForAll @IntRange(min = 0, max = 100_000) int at,
                                          @ForAll @IntRange(min = 0, max = 7) int bit) {
        byte[] frame = sealed(KEY, message).getFirst();
        frame[at % frame.length] ^= (byte) (1 << bit);
        Receiver receiver = new Receiver();
        receiver.feed(frame);
        assertEquals(List.of(), receiver.recorder.applied);
        assertEquals(1, receiver.counted());
    }

    @Property(tries = 300)
    void shouldNeverApplyATruncatedFrame(@ForAll("sealedMessages") Message message,
                                         @ForAll @IntRange(min = 1, max = 100_000) int cut) {
        byte[] frame = sealed(KEY, message).getFirst();
        byte[] truncated = Arrays.copyOf(frame, frame.length - 1 - (cut % frame.length));
        Receiver receiver = new Receiver();
        receiver.feed(truncated);
        assertEquals(List.of(), receiver.recorder.applied);
        assertEquals(1, receiver.counted());
    }

    @Property(tries = 100)
    void shouldCountFrameSealedUnderAnotherKeyAsUnauthenticated(@ForAll("sealedMessages") Message message) {
        Receiver receiver = new Receiver();
        receiver.feed(sealed(OTHER_KEY, message).getFirst());
        assertEquals(List.of(), receiver.recorder.applied);
        assertEquals(1, receiver.counters.unauthenticatedFrames());
    }

    @Property(tries = 100)
    void shouldCountFrameWithoutMacAsUnauthenticated(@ForAll("sealedMessages") Message message) {
        Receiver receiver = new Receiver();
        receiver.feed(Frames.encode(message));
        assertEquals(List.of(), receiver.recorder.applied);
        assertEquals(1, receiver.counters.unauthenticatedFrames());
    }

    @Property(tries = 100)
    void shouldCountReplayedFrameAsUnauthenticated(@ForAll("sealedMessages") Message first,
                                                   @ForAll("sealedMessages") Message second) {
        List<byte[]> wire = sealed(KEY, first, second);
        Receiver receiver = new Receiver();
        receiver.feed(wire.get(0));
        receiver.feed(wire.get(1));
        receiver.feed(wire.get(0));
        receiver.feed(wire.get(1));
        assertEquals(2, receiver.recorder.applied.size());
        assertEquals(2, receiver.counters.unauthenticatedFrames());
    }

    @Property(tries = 300)
    void shouldApplyRandomBytesOnlyAsRegistration(@ForAll("randomBytes") byte[] frame) {
        Receiver receiver = new Receiver();
        receiver.feed(frame);
        for (Message m : receiver.recorder.applied) {
            assertTrue(m instanceof Message.Register || m instanceof Message.RegisterAck, m.toString());
        }
        assertEquals(1, receiver.counted());
    }

    @Provide
    Arbitrary<byte[]> randomBytes() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
    }
}
