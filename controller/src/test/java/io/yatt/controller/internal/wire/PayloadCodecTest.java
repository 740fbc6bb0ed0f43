package io.yatt.controller.internal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.PayloadType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;

class PayloadCodecTest {

    record Point(int x, int y) {
    }

    private static final PayloadType<Point> POINT = new PayloadType<>(64, Point.class,
            p -> List.of(p.x(), p.y()), w -> new Point((Integer) ((List<?>) w).get(0), (Integer) ((List<?>) w).get(1)));

    private static Object roundTrip(PayloadCodec codec, Object value) throws MalformedFrameException {
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(8);
        int length = codec.encode(value, buffer, 3);
        return codec.decode(buffer, 3, length);
    }

    @Test
    void shouldRoundTripBuiltInValues() throws MalformedFrameException {
        PayloadCodec codec = PayloadCodec.builtIn();
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("a", 1);
        map.put("b", null);
        map.put("c", List.of(2L, -0.5, "x", true, false));
        for (Object value : Arrays.asList(null, true, Integer.MIN_VALUE, Long.MAX_VALUE, Double.NaN, "héllo", "",
                List.of(), map, Arrays.asList(null, List.of(List.of())))) {
            assertEquals(value, roundTrip(codec, value));
        }
        assertArrayEquals(new byte[] {1, -2, 3}, (byte[]) roundTrip(codec, new byte[] {1, -2, 3}));
        assertArrayEquals(new float[] {1.5f, -0f, Float.MAX_VALUE},
                (float[]) roundTrip(codec, new float[] {1.5f, -0f, Float.MAX_VALUE}));
    }

    @Test
    void shouldEncodeIntAsTagAndFourLittleEndianBytes() {
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(8);
        assertEquals(5, PayloadCodec.builtIn().encode(0x01020304, buffer, 0));
        assertEquals(PayloadCodec.TAG_INT, buffer.getByte(0));
        assertEquals(4, buffer.getByte(1));
        assertEquals(1, buffer.getByte(4));
    }

    @Test
    void shouldRoundTripRegisteredTypeNested() throws MalformedFrameException {
        PayloadCodec codec = PayloadCodec.of(List.of(POINT));
        assertEquals(List.of(new Point(1, 2), Map.of("p", new Point(-3, 4))),
                roundTrip(codec, List.of(new Point(1, 2), Map.of("p", new Point(-3, 4)))));
    }

    @Test
    void shouldRejectUnregisteredType() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PayloadCodec.builtIn().encode(new Point(1, 2), new ExpandableArrayBuffer(8), 0));
        assertEquals("unsupported payload value: class=" + Point.class.getName() + ", expected=null, Boolean,"
                + " Integer, Long, Double, String, byte[], float[], List, Map or a registered PayloadType",
                e.getMessage());
    }

    @Test
    void shouldRejectUnknownTagOnDecode() {
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(8);
        int length = PayloadCodec.of(List.of(POINT)).encode(new Point(1, 2), buffer, 0);
        MalformedFrameException e = assertThrows(MalformedFrameException.class,
                () -> PayloadCodec.builtIn().decode(buffer, 0, length));
        assertEquals("unknown payload tag: tag=64", e.getMessage());
    }

    @Test
    void shouldRejectNonStringMapKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PayloadCodec.builtIn().encode(Map.of(1, 2), new ExpandableArrayBuffer(8), 0));
        assertEquals("payload map key must be a String: key=1, class=java.lang.Integer", e.getMessage());
    }

    @Test
    void shouldRejectDuplicateTypeIdAndOutOfRangeId() {
        PayloadType<String[]> other = new PayloadType<>(64, String[].class, List::of, w -> new String[0]);
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class,
                () -> PayloadCodec.of(List.of(POINT, other)));
        assertEquals("duplicate payload type id: typeId=64, javaTypes=" + Point.class.getName()
                + ",[Ljava.lang.String;", dup.getMessage());
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                () -> new PayloadType<>(10, Point.class, p -> p, w -> null));
        assertEquals("payload type id out of range: typeId=10, expected=64..255", range.getMessage());
    }

    @Test
    void shouldRejectCountLargerThanRemainingBytes() {
        ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(8);
        buffer.putByte(0, (byte) PayloadCodec.TAG_FLOATS);
        buffer.putInt(1, 1_000_000_000);
        MalformedFrameException e = assertThrows(MalformedFrameException.class,
                () -> PayloadCodec.builtIn().decode(buffer, 0, 5));
        assertEquals("payload truncated: need=4000000000, left=0", e.getMessage());
    }

    @Test
    void shouldRejectNestingDeeperThanLimit() {
        Object deep = List.of();
        for (int i = 0; i <= PayloadCodec.MAX_DEPTH; i++) {
            List<Object> wrap = new ArrayList<>();
            wrap.add(deep);
            deep = wrap;
        }
        Object tooDeep = deep;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PayloadCodec.builtIn().encode(tooDeep, new ExpandableArrayBuffer(8), 0));
        assertEquals("payload nested too deep: depth=65, max=64", e.getMessage());
    }
}
