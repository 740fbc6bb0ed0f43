package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.internal.sbe.HeartbeatDecoder;
import io.yatt.controller.internal.sbe.MessageHeaderDecoder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class FrameCodecTest {

    @Test
    void shouldRoundTripEveryMessageType() throws MalformedFrameException {
        for (Message message : Frames.samples()) {
            Message decoded = Frames.decode(Frames.encode(message));
            if (message instanceof Message.Invoke invoke && !invoke.awaitInput()) {
                Message.Invoke got = assertInstanceOf(Message.Invoke.class, decoded);
                assertEquals(invoke.correlationId(), got.correlationId());
                assertEquals(invoke.controllerId(), got.controllerId());
                assertEquals(invoke.step(), got.step());
                assertEquals(invoke.group(), got.group());
                assertEquals(invoke.method(), got.method());
                assertEquals(invoke.dispatchMode(), got.dispatchMode());
                assertEquals(false, got.awaitInput());
                assertEquals(invoke.args().subList(0, 4), got.args().subList(0, 4));
                Map<?, ?> map = assertInstanceOf(Map.class, got.args().get(4));
                assertArrayEquals(new float[] {1f}, (float[]) map.get("k"));
            } else {
                assertEquals(message, decoded);
            }
        }
    }

    @Test
    void shouldEncodeHeartbeatAsHeaderPlusSixteenBytes() {
        byte[] frame = Frames.encode(new Message.Heartbeat(1, 2L, 3));
        assertEquals(8 + 4 + 8 + 4, frame.length);
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(16, b.getShort(0));
        assertEquals(3, b.getShort(2));
        assertEquals(1701, b.getShort(4));
        assertEquals(3, b.getShort(6));
    }

    @Test
    void shouldDecodeVersionOneHeartbeatWithoutInFlightCount() throws MalformedFrameException {
        byte[] v2 = Frames.encode(new Message.Heartbeat(4, 55L, 9));
        byte[] v1 = Arrays.copyOf(v2, MessageHeaderDecoder.ENCODED_LENGTH + 12);
        ByteBuffer b = ByteBuffer.wrap(v1).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) 12);
        b.putShort(6, (short) 1);
        assertEquals(new Message.Heartbeat(4, 55L, Message.Heartbeat.IN_FLIGHT_UNKNOWN), Frames.decode(v1));
        assertEquals(2, HeartbeatDecoder.inFlightCallsSinceVersion());
    }

    @Test
    void shouldDecodeVersionOneInvokeAsNotAwaitingInput() throws MalformedFrameException {
        byte[] v2 = Frames.encode(new Message.Invoke(1L, 2L, 3L, "g", "m", "ONE_TO_ALL", false, List.of(5)));
        int v1Block = 24;
        byte[] v1 = new byte[v2.length - 1];
        System.arraycopy(v2, 0, v1, 0, 8 + v1Block);
        System.arraycopy(v2, 8 + v1Block + 1, v1, 8 + v1Block, v2.length - 8 - v1Block - 1);
        ByteBuffer b = ByteBuffer.wrap(v1).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) v1Block);
        b.putShort(6, (short) 1);
        assertEquals(new Message.Invoke(1L, 2L, 3L, "g", "m", "ONE_TO_ALL", false, List.of(5)), Frames.decode(v1));
    }

    @Test
    void shouldRejectInvokeInputInVersionOne() {
        byte[] frame = Frames.encode(new Message.InvokeInput(1L, 2L, false, List.of()));
        assertEquals(12, FrameValidator.validate(new UnsafeBuffer(frame), 0, frame.length));
        ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).putShort(6, (short) 1);
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(frame), 0, frame.length));
    }

    @Test
    void shouldRejectInvokeAwaitingInputThatCarriesArguments() {
        byte[] frame = Frames.encode(new Message.Invoke(1L, 2L, 3L, "g", "m", "ONE_TO_ALL", true, List.of(5)));
        MalformedFrameException e = assertThrows(MalformedFrameException.class, () -> Frames.decode(frame));
        assertEquals("invoke awaiting input carries arguments: count=1", e.getMessage());
    }

    @Test
    void shouldRejectVersionTwoHeartbeatWithVersionOneBlock() {
        byte[] v2 = Frames.encode(new Message.Heartbeat(4, 55L, 9));
        byte[] shortBlock = Arrays.copyOf(v2, MessageHeaderDecoder.ENCODED_LENGTH + 12);
        ByteBuffer.wrap(shortBlock).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) 12);
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(shortBlock), 0,
                shortBlock.length));
    }

    @Test
    void shouldRejectWrongSchemaIdAndFutureVersion() {
        byte[] frame = Frames.encode(new Message.Cancel(1L, 2L));
        byte[] wrongSchema = frame.clone();
        ByteBuffer.wrap(wrongSchema).order(ByteOrder.LITTLE_ENDIAN).putShort(4, (short) 1702);
        byte[] future = frame.clone();
        ByteBuffer.wrap(future).order(ByteOrder.LITTLE_ENDIAN).putShort(6, (short) 4);
        assertEquals(7, FrameValidator.validate(new UnsafeBuffer(frame), 0, frame.length));
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(wrongSchema), 0,
                wrongSchema.length));
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(future), 0, future.length));
    }

    @Test
    void shouldRejectUnknownEnumCodeAsMalformed() {
        byte[] frame = Frames.encode(new Message.RegisterAck(1L, 2, Message.AckStatus.ACCEPTED, 5L, new byte[0], ""));
        frame[8 + 12] = 7;
        MalformedFrameException e = assertThrows(MalformedFrameException.class, () -> Frames.decode(frame));
        assertEquals("unknown register status: status=7", e.getMessage());
    }

    @Test
    void shouldRejectMeshRankOutsideMesh() {
        byte[] frame = Frames.encode(new Message.Register(1, 0, 1L, 2, List.of(),
                List.of(new Message.MeshRegistration("m", 0, 2, true)), List.of(), "h", "c", new byte[0]));
        int meshEntry = 8 + 20 + 4 + 4;
        ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).putInt(meshEntry, 2);
        MalformedFrameException e = assertThrows(MalformedFrameException.class, () -> Frames.decode(frame));
        assertEquals("mesh DP rank out of range: dpRank=2, dpSize=2", e.getMessage());
    }

    @Test
    void shouldRejectInvokeWhoseArgumentsAreNotAList() {
        byte[] frame = Frames.encode(new Message.Invoke(1L, 2L, 3L, "g", "m", "ONE_TO_ALL", false, List.of()));
        frame[frame.length - 5] = (byte) PayloadCodec.TAG_INT;
        byte[] notList = Arrays.copyOf(frame, frame.length);
        MalformedFrameException e = assertThrows(MalformedFrameException.class, () -> Frames.decode(notList));
        assertEquals("invoke arguments are not a list: class=java.lang.Integer", e.getMessage());
    }
}
