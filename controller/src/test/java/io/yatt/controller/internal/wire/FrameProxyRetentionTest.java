package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.Reference;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class FrameProxyRetentionTest {

    /** A sink that keeps a copy of every frame, and a weak reference to the array the last one was sent from. */
    private static final class CopyingSink implements FrameSink {
        final List<byte[]> frames = new ArrayList<>();
        WeakArray array;

        @Override
        public boolean send(DirectBuffer buffer, int offset, int length) {
            byte[] copy = new byte[length];
            buffer.getBytes(offset, copy);
            frames.add(copy);
            array = new WeakArray(buffer.byteArray());
            return true;
        }

        @Override
        public boolean sendNow(DirectBuffer buffer, int offset, int length) {
            return send(buffer, offset, length);
        }
    }

    /** The array {@code proxy}'s next frame is sent from (a small result). */
    private static byte[] sentFrom(ControllerProxy proxy, CopyingSink sink) {
        assertTrue(proxy.result(6L, 7, 3, 1));
        return sink.array.get();
    }

    private static byte[] payload(int bytes) {
        byte[] data = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            data[i] = (byte) (i * 31 + 7);
        }
        return data;
    }

    @Test
    void shouldDropEncodingBuffersOfAFrameAboveTheRetainedCapacityOnceSent() throws Exception {
        CopyingSink sink = new CopyingSink();
        WorkerProxy proxy = new WorkerProxy(PayloadCodec.builtIn(), sink);
        byte[] data = payload(1 << 20);

        assertTrue(proxy.invoke(5L, 99L, 1L, "actor", "consume", "ONE_TO_ALL", List.of(data)));

        Message.Invoke sent = assertInstanceOf(Message.Invoke.class, Frames.decode(sink.frames.getFirst()));
        assertArrayEquals(data, (byte[]) sent.args().getFirst());
        // the frame buffer and the payload scratch both grew past 1 MiB for it; both start afresh after the send
        assertEquals(2 * FrameEncoder.INITIAL_CAPACITY_BYTES, proxy.retainedBytes());
        // nor does anything else of the proxy (the SBE flyweights that wrote the frame) hold the frame's array
        assertEquals(true, sink.array.collected(), "the proxy still holds the sent frame's buffer");
        Reference.reachabilityFence(proxy);
    }

    @Test
    void shouldKeepEncodingBuffersOfFramesUpToTheRetainedCapacity() throws MalformedFrameException {
        CopyingSink sink = new CopyingSink();
        ControllerProxy proxy = new ControllerProxy(PayloadCodec.builtIn(), sink);
        byte[] data = payload(32 * 1024);

        assertTrue(proxy.result(5L, 7, 3, data));

        Message.Result sent = assertInstanceOf(Message.Result.class, Frames.decode(sink.frames.getFirst()));
        assertArrayEquals(data, (byte[]) sent.value());
        // reused for the next frame: each buffer holds the 32 KiB payload, neither exceeds the retained capacity
        int retained = proxy.retainedBytes();
        assertTrue(retained >= 2 * data.length && retained <= 2 * FrameEncoder.RETAINED_CAPACITY_BYTES,
                "retained=" + retained);
        assertSame(sink.array.get(), sentFrom(proxy, sink));
    }

    @Test
    void shouldTagAFrameLongerThanTheScratchAsHmacOverSequenceAndWholeFrame() throws Exception {
        byte[] key = new byte[32];
        Arrays.fill(key, (byte) 5);
        int length = 3 * FrameTag.SCRATCH_BYTES + 5;
        byte[] frame = payload(length);
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(length + FrameTag.TRAILER_BYTES);
        buffer.putBytes(0, frame);

        int sealed = FrameTag.of(key).startAfter(41L).seal(buffer, length);

        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        mac.update(new byte[] {42, 0, 0, 0, 0, 0, 0, 0});
        byte[] expected = Arrays.copyOf(mac.doFinal(frame), FrameTag.TAG_BYTES);
        byte[] tag = new byte[FrameTag.TAG_BYTES];
        buffer.getBytes(length + Long.BYTES, tag);
        assertEquals(length + FrameTag.TRAILER_BYTES, sealed);
        assertEquals(42L, buffer.getLong(length, ByteOrder.LITTLE_ENDIAN));
        assertArrayEquals(expected, tag);
        byte[] copy = new byte[sealed];
        buffer.getBytes(0, copy);
        assertEquals(length, FrameTag.of(key).startAfter(41L).open(new UnsafeBuffer(copy), 0, sealed));
        copy[2 * FrameTag.SCRATCH_BYTES + 1] ^= 1;
        assertEquals(FrameTag.NOT_AUTHENTIC, FrameTag.of(key).startAfter(41L).open(new UnsafeBuffer(copy), 0, sealed));
    }
}
