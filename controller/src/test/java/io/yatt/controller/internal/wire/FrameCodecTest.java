package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.internal.sbe.HeartbeatDecoder;
import io.yatt.controller.internal.sbe.MessageHeaderDecoder;
import io.yatt.controller.internal.sbe.RegisterDecoder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
        assertEquals(4, b.getShort(6));
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
    void shouldEncodePeerHeartbeatAsHeaderPlusTwentyFiveBytesAndRejectItBeforeVersionThree() {
        byte[] frame = Frames.encode(new Message.PeerHeartbeat(99L, 1, 3, 77L, true));
        assertEquals(8 + 8 + 4 + 4 + 8 + 1, frame.length);
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(25, b.getShort(0));
        assertEquals(13, b.getShort(2));
        assertEquals(99L, b.getLong(8));
        assertEquals(1, b.get(frame.length - 1));
        assertEquals(13, FrameValidator.validate(new UnsafeBuffer(frame), 0, frame.length));
        b.putShort(6, (short) 2);
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(frame), 0, frame.length));
    }

    @Test
    void shouldRejectPeerHeartbeatWithIndexOutsideCountOrBadLeavingFlag() {
        byte[] outside = Frames.encode(new Message.PeerHeartbeat(99L, 1, 3, 77L, false));
        ByteBuffer.wrap(outside).order(ByteOrder.LITTLE_ENDIAN).putInt(16, 3);
        assertEquals("controller index out of range: controllerIndex=3, controllerCount=3",
                assertThrows(MalformedFrameException.class, () -> Frames.decode(outside)).getMessage());
        byte[] flag = Frames.encode(new Message.PeerHeartbeat(99L, 1, 3, 77L, false));
        flag[flag.length - 1] = 2;
        assertEquals("not a boolean: value=2",
                assertThrows(MalformedFrameException.class, () -> Frames.decode(flag)).getMessage());
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
        ByteBuffer.wrap(future).order(ByteOrder.LITTLE_ENDIAN).putShort(6, (short) 5);
        assertEquals(7, FrameValidator.validate(new UnsafeBuffer(frame), 0, frame.length));
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(wrongSchema), 0,
                wrongSchema.length));
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(future), 0, future.length));
    }

    private static Message.Register signedRegister(Message.MethodSignature signature) {
        return new Message.Register(1, 0, 2L, 3, List.of("actor"), List.of(),
                List.of(new Message.MethodEntry("score", "ONE_TO_ALL", Optional.of(signature)),
                        new Message.MethodEntry("ping", "RANK_ZERO")), "h", "c", new byte[] {4});
    }

    @Test
    void shouldEncodeSignatureAsParameterTypesThenReturnTypeAfterTheDispatchMode() {
        byte[] frame = Frames.encode(signedRegister(new Message.MethodSignature(List.of("int[]", "java.lang.String"),
                "java.util.List")));
        List<Integer> fields = RegisterLayout.signatureFields(frame);
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(4, fields.size());
        assertEquals("int[],java.lang.String", text(frame, fields.get(0)));
        assertEquals("java.util.List", text(frame, fields.get(1)));
        // the method without a signature sends two empty fields
        assertEquals(0, b.getInt(fields.get(2)));
        assertEquals(fields.get(2) + 4, (int) fields.get(3));
        assertEquals(0, b.getInt(fields.get(3)));
        assertEquals("RANK_ZERO", new String(frame, fields.get(2) - 9, 9, StandardCharsets.UTF_8));
        assertEquals(4, RegisterDecoder.MethodsDecoder.parameterTypesSinceVersion());
        assertEquals(4, RegisterDecoder.MethodsDecoder.returnTypeSinceVersion());
    }

    private static String text(byte[] frame, int lengthAt) {
        int length = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).getInt(lengthAt);
        return new String(frame, lengthAt + 4, length, StandardCharsets.UTF_8);
    }

    @Test
    void shouldDecodeVersionThreeRegisterWithNamesAndModesOnly() throws MalformedFrameException {
        Message.Register signed = signedRegister(new Message.MethodSignature(List.of("int"), "long"));
        byte[] v4 = Frames.encode(signed);
        byte[] v3 = RegisterLayout.versionThree(v4);
        assertEquals(v4.length - 4 - 3 - 4 - 4 - 4 - 4, v3.length);
        assertEquals(3, ByteBuffer.wrap(v3).order(ByteOrder.LITTLE_ENDIAN).getShort(6));
        assertEquals(new Message.Register(1, 0, 2L, 3, List.of("actor"), List.of(),
                List.of(new Message.MethodEntry("score", "ONE_TO_ALL"), new Message.MethodEntry("ping", "RANK_ZERO")),
                "h", "c", new byte[] {4}), Frames.decode(v3));
    }

    @Test
    void shouldRejectRegisterWhoseSignatureFieldsDoNotMatchItsVersion() {
        byte[] v4 = Frames.encode(signedRegister(new Message.MethodSignature(List.of("int"), "long")));
        byte[] v4AsV3 = v4.clone();
        ByteBuffer.wrap(v4AsV3).order(ByteOrder.LITTLE_ENDIAN).putShort(6, (short) 3);
        byte[] v3AsV4 = RegisterLayout.versionThree(v4);
        ByteBuffer.wrap(v3AsV4).order(ByteOrder.LITTLE_ENDIAN).putShort(6, (short) 4);
        assertEquals(1, FrameValidator.validate(new UnsafeBuffer(v4), 0, v4.length));
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(v4AsV3), 0, v4AsV3.length));
        assertEquals(FrameValidator.MALFORMED, FrameValidator.validate(new UnsafeBuffer(v3AsV4), 0, v3AsV4.length));
    }

    @Test
    void shouldRejectSignatureThatIsNotTypeNames() {
        byte[] frame = Frames.encode(signedRegister(new Message.MethodSignature(List.of("int[]", "java.lang.String"),
                "java.util.List")));
        int parameterTypes = RegisterLayout.signatureFields(frame).getFirst();
        frame[parameterTypes + 4 + 3] = ' ';
        MalformedFrameException e = assertThrows(MalformedFrameException.class, () -> Frames.decode(frame));
        assertEquals("malformed method signature: method=score, parameterTypes=int ],java.lang.String, "
                + "returnType=java.util.List, reason=not a parameter type name: index=0, name=int ]", e.getMessage());
    }

    @Test
    void shouldRejectParameterTypesWithoutReturnType() {
        byte[] signed = Frames.encode(signedRegister(new Message.MethodSignature(List.of("int"), "void")));
        int returnType = RegisterLayout.signatureFields(signed).get(1);
        // the return type emptied: its length 0, its four bytes gone
        byte[] frame = new byte[signed.length - 4];
        System.arraycopy(signed, 0, frame, 0, returnType);
        System.arraycopy(signed, returnType + 8, frame, returnType + 4, signed.length - returnType - 8);
        MalformedFrameException e = assertThrows(MalformedFrameException.class, () -> Frames.decode(frame));
        assertEquals("malformed method signature: method=score, parameterTypes=int, returnType=, "
                + "reason=not a return type name: name=", e.getMessage());
    }

    @Test
    void shouldRejectVoidParameterAndNamesThatAreNotJavaTypeNames() {
        for (String name : List.of("void", "", "java..lang.String", ".int", "int.", "int[", "1st", "a b",
                "java.util.List<java.lang.String>")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new Message.MethodSignature(List.of("int", name), "int"));
            assertEquals("not a parameter type name: index=1, name=" + name, e.getMessage());
        }
        assertEquals("(int[][],java.util.Map$Entry,_x.$y)void", new Message.MethodSignature(
                List.of("int[][]", "java.util.Map$Entry", "_x.$y"), "void").toString());
        assertEquals(new Message.MethodSignature(List.of(), "int"), Message.MethodSignature.parse("", "int"));
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
