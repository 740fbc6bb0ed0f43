package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.aeron.ControlledFragmentAssembler;
import io.aeron.FragmentAssembler;
import io.aeron.logbuffer.ControlledFragmentHandler.Action;
import io.aeron.logbuffer.Header;
import io.aeron.protocol.DataHeaderFlyweight;
import java.lang.ref.Reference;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class ReassemblyTest {

    private static final int SESSION = 77;
    /** Payload bytes per fragment, as an MTU of 1408 bytes leaves them. */
    private static final int FRAGMENT_PAYLOAD = 1376;

    /** A message as Aeron lays it out in a term: data frames of at most {@link #FRAGMENT_PAYLOAD} bytes, aligned. */
    private record Fragmented(UnsafeBuffer term, List<Integer> frameOffsets, List<Integer> payloadLengths) {

        static Fragmented of(byte[] message) {
            int frames = (message.length + FRAGMENT_PAYLOAD - 1) / FRAGMENT_PAYLOAD;
            UnsafeBuffer term = new UnsafeBuffer(new byte[BitUtil.align(message.length
                    + frames * (DataHeaderFlyweight.HEADER_LENGTH + 32), 32)]);
            List<Integer> offsets = new ArrayList<>();
            List<Integer> lengths = new ArrayList<>();
            int at = 0;
            for (int done = 0, i = 0; done < message.length; i++) {
                int n = Math.min(FRAGMENT_PAYLOAD, message.length - done);
                int flags = (i == 0 ? DataHeaderFlyweight.BEGIN_FLAG : 0)
                        | (done + n == message.length ? DataHeaderFlyweight.END_FLAG : 0);
                term.putInt(at, DataHeaderFlyweight.HEADER_LENGTH + n, ByteOrder.LITTLE_ENDIAN);
                term.putByte(at + 5, (byte) flags);
                term.putShort(at + 6, (short) DataHeaderFlyweight.HDR_TYPE_DATA, ByteOrder.LITTLE_ENDIAN);
                term.putInt(at + DataHeaderFlyweight.TERM_OFFSET_FIELD_OFFSET, at, ByteOrder.LITTLE_ENDIAN);
                term.putInt(at + DataHeaderFlyweight.SESSION_ID_FIELD_OFFSET, SESSION, ByteOrder.LITTLE_ENDIAN);
                term.putBytes(at + DataHeaderFlyweight.HEADER_LENGTH, message, done, n);
                offsets.add(at);
                lengths.add(n);
                done += n;
                at = BitUtil.align(at + DataHeaderFlyweight.HEADER_LENGTH + n, 32);
            }
            return new Fragmented(term, offsets, lengths);
        }

        Header header(int frame) {
            Header header = new Header(0, 16);
            header.buffer(term);
            header.offset(frameOffsets.get(frame));
            return header;
        }

        int frames() {
            return frameOffsets.size();
        }

        Action deliver(ControlledFragmentAssembler assembler, int frame) {
            return assembler.onFragment(term, frameOffsets.get(frame) + DataHeaderFlyweight.HEADER_LENGTH,
                    payloadLengths.get(frame), header(frame));
        }

        void deliver(FragmentAssembler assembler, int frame) {
            assembler.onFragment(term, frameOffsets.get(frame) + DataHeaderFlyweight.HEADER_LENGTH,
                    payloadLengths.get(frame), header(frame));
        }
    }

    /** What a handler saw of the last whole frame: its bytes, and a weak reference to the array that held them. */
    private static final class Seen {
        WeakArray array;
        byte[] bytes;
        int calls;

        void saw(DirectBuffer buffer, int offset, int length) {
            calls++;
            bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            array = new WeakArray(buffer.byteArray());
        }
    }

    private static byte[] message(int bytes) {
        byte[] data = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            data[i] = (byte) (i * 13 + 1);
        }
        return data;
    }

    @Test
    void shouldLetTheReassemblyBufferOfAFrameAboveTheRetainedCapacityGoOnceHandled() throws InterruptedException {
        Seen seen = new Seen();
        ControlledFragmentAssembler assembler = Reassembly.controlled((buffer, offset, length, header) -> {
            seen.saw(buffer, offset, length);
            return Action.CONTINUE;
        });
        byte[] message = message(FrameEncoder.RETAINED_CAPACITY_BYTES + 1);
        Fragmented fragmented = Fragmented.of(message);

        for (int i = 0; i < fragmented.frames(); i++) {
            assertEquals(Action.CONTINUE, fragmented.deliver(assembler, i));
        }

        assertEquals(1, seen.calls);
        assertArrayEquals(message, seen.bytes);
        // the assembler stays reachable: only what it holds itself is in question
        assertEquals(true, seen.array.collected(), "the assembler still holds the frame's buffer");
        Reference.reachabilityFence(assembler);
    }

    @Test
    void shouldLetThePlainReassemblyBufferOfAFrameAboveTheRetainedCapacityGoOnceHandled() throws InterruptedException {
        Seen seen = new Seen();
        FragmentAssembler assembler = Reassembly.plain((buffer, offset, length, header) -> seen.saw(buffer, offset,
                length));
        byte[] message = message(4 * FrameEncoder.RETAINED_CAPACITY_BYTES);
        Fragmented fragmented = Fragmented.of(message);

        for (int i = 0; i < fragmented.frames(); i++) {
            fragmented.deliver(assembler, i);
        }

        assertEquals(1, seen.calls);
        assertArrayEquals(message, seen.bytes);
        // the assembler stays reachable: only what it holds itself is in question
        assertEquals(true, seen.array.collected(), "the assembler still holds the frame's buffer");
        Reference.reachabilityFence(assembler);
    }

    @Test
    void shouldKeepTheReassemblyBufferOfAFrameUpToTheRetainedCapacityForTheNext() throws InterruptedException {
        Seen seen = new Seen();
        ControlledFragmentAssembler assembler = Reassembly.controlled((buffer, offset, length, header) -> {
            seen.saw(buffer, offset, length);
            return Action.CONTINUE;
        });
        byte[] message = message(FrameEncoder.RETAINED_CAPACITY_BYTES / 2);
        Fragmented fragmented = Fragmented.of(message);

        for (int i = 0; i < fragmented.frames(); i++) {
            fragmented.deliver(assembler, i);
        }
        byte[] first = seen.array.get();
        for (int i = 0; i < fragmented.frames(); i++) {
            fragmented.deliver(assembler, i);
        }

        assertEquals(2, seen.calls);
        assertArrayEquals(message, seen.bytes);
        assertSame(first, seen.array.get());
    }

    @Test
    void shouldKeepTheReassemblyOfAnAbortedLargeFrameForItsRedelivery() {
        Seen seen = new Seen();
        boolean[] abort = {true};
        ControlledFragmentAssembler assembler = Reassembly.controlled((buffer, offset, length, header) -> {
            if (abort[0]) {
                abort[0] = false;
                return Action.ABORT;
            }
            seen.saw(buffer, offset, length);
            return Action.CONTINUE;
        });
        byte[] message = message(2 * FrameEncoder.RETAINED_CAPACITY_BYTES);
        Fragmented fragmented = Fragmented.of(message);
        int last = fragmented.frames() - 1;
        for (int i = 0; i < last; i++) {
            fragmented.deliver(assembler, i);
        }

        assertEquals(Action.ABORT, fragmented.deliver(assembler, last));
        assertEquals(Action.CONTINUE, fragmented.deliver(assembler, last));

        assertEquals(1, seen.calls);
        assertArrayEquals(message, seen.bytes);
    }

    @Test
    void shouldLetTheDecoderDropAnAssembledResultAboveTheRetainedCapacity() throws InterruptedException {
        List<Message> decoded = new ArrayList<>();
        FrameAdapter adapter = new FrameAdapter(new FrameDecoder(PayloadCodec.builtIn()), (message, sessionId) -> {
            decoded.add(message);
            return MessageHandler.Outcome.APPLIED;
        }, new FrameCounters());
        WeakArray[] array = new WeakArray[1];
        FragmentAssembler assembler = Reassembly.plain((buffer, offset, length, header) -> {
            array[0] = new WeakArray(buffer.byteArray());
            adapter.onFragment(buffer, offset, length, header);
        });
        byte[] value = message(1 << 20);
        Fragmented fragmented = Fragmented.of(Frames.encode(new Message.Result(5L, 7, 3, value)));

        for (int i = 0; i < fragmented.frames(); i++) {
            fragmented.deliver(assembler, i);
        }

        Message.Result result = assertInstanceOf(Message.Result.class, decoded.getFirst());
        assertArrayEquals(value, (byte[]) result.value());
        // the decoder's flyweights refer to the buffer the frame came in: it must not keep the array either
        assertEquals(true, array[0].collected(), "the assembler or the decoder still holds the frame's buffer");
        Reference.reachabilityFence(assembler);
        Reference.reachabilityFence(adapter);
    }
}
