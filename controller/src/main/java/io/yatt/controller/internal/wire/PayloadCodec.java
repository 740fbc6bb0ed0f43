package io.yatt.controller.internal.wire;

import io.yatt.controller.PayloadType;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Encodes call arguments and results: a tag byte per value, little-endian numbers, u32 lengths and counts. Decoding
 * checks every length and count against the bytes that are left and nests at most {@link #MAX_DEPTH} deep, so a
 * corrupt payload is a {@link MalformedFrameException}, never an allocation sized by the attacker or a stack overflow.
 * Immutable and thread-safe.
 */
public final class PayloadCodec {

    /** Deepest nesting of lists, maps and registered types. */
    public static final int MAX_DEPTH = 64;

    static final int TAG_NULL = 0;
    static final int TAG_FALSE = 1;
    static final int TAG_TRUE = 2;
    static final int TAG_INT = 3;
    static final int TAG_LONG = 4;
    static final int TAG_DOUBLE = 5;
    static final int TAG_STRING = 6;
    static final int TAG_BYTES = 7;
    static final int TAG_FLOATS = 8;
    static final int TAG_LIST = 9;
    static final int TAG_MAP = 10;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final PayloadCodec BUILT_IN = new PayloadCodec(Map.of(), Map.of());

    private final Map<Class<?>, PayloadType<?>> byClass;
    private final Map<Integer, PayloadType<?>> byId;
    private final LongAdder encodedBytes = new LongAdder();
    private final LongAdder decodedBytes = new LongAdder();

    private PayloadCodec(Map<Class<?>, PayloadType<?>> byClass, Map<Integer, PayloadType<?>> byId) {
        this.byClass = byClass;
        this.byId = byId;
    }

    /** The codec of the built-in types only. */
    public static PayloadCodec builtIn() {
        return BUILT_IN;
    }

    /**
     * A codec of the built-in types and {@code types}.
     *
     * @throws IllegalArgumentException if two types share an id or a Java class, or a type claims a built-in class
     */
    public static PayloadCodec of(List<PayloadType<?>> types) {
        Map<Class<?>, PayloadType<?>> byClass = new HashMap<>();
        Map<Integer, PayloadType<?>> byId = new HashMap<>();
        for (PayloadType<?> type : types) {
            if (isBuiltIn(type.javaType())) {
                throw new IllegalArgumentException("payload type must not claim a built-in class: typeId="
                        + type.typeId() + ", javaType=" + type.javaType().getName());
            }
            PayloadType<?> previous = byId.putIfAbsent(type.typeId(), type);
            if (previous != null) {
                throw new IllegalArgumentException("duplicate payload type id: typeId=" + type.typeId()
                        + ", javaTypes=" + previous.javaType().getName() + "," + type.javaType().getName());
            }
            previous = byClass.putIfAbsent(type.javaType(), type);
            if (previous != null) {
                throw new IllegalArgumentException("duplicate payload type class: javaType="
                        + type.javaType().getName() + ", typeIds=" + previous.typeId() + "," + type.typeId());
            }
        }
        return new PayloadCodec(Map.copyOf(byClass), Map.copyOf(byId));
    }

    private static boolean isBuiltIn(Class<?> type) {
        return type == Boolean.class || type == Integer.class || type == Long.class || type == Double.class
                || type == String.class || type == byte[].class || type == float[].class
                || List.class.isAssignableFrom(type) || Map.class.isAssignableFrom(type);
    }

    /**
     * Writes {@code value} at {@code offset} (the buffer must grow on demand, as agrona's expandable buffers do).
     *
     * @return the number of bytes written
     * @throws IllegalArgumentException if a value (at any depth) is of a type that is neither built in nor registered,
     *         a map key is not a String, or nesting is deeper than {@link #MAX_DEPTH}
     */
    public int encode(Object value, MutableDirectBuffer buffer, int offset) {
        int length = write(value, buffer, offset, 0) - offset;
        encodedBytes.add(length);
        return length;
    }

    /** Payload bytes this codec has encoded so far (what its endpoint handled on the way out). */
    public long encodedBytes() {
        return encodedBytes.sum();
    }

    /** Payload bytes this codec has decoded so far, malformed payloads included. */
    public long decodedBytes() {
        return decodedBytes.sum();
    }

    private int write(Object value, MutableDirectBuffer buffer, int pos, int depth) {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException("payload nested too deep: depth=" + depth + ", max=" + MAX_DEPTH);
        }
        switch (value) {
            case null -> {
                buffer.putByte(pos, (byte) TAG_NULL);
                return pos + 1;
            }
            case Boolean b -> {
                buffer.putByte(pos, (byte) (b ? TAG_TRUE : TAG_FALSE));
                return pos + 1;
            }
            case Integer i -> {
                buffer.putByte(pos, (byte) TAG_INT);
                buffer.putInt(pos + 1, i, LE);
                return pos + 5;
            }
            case Long l -> {
                buffer.putByte(pos, (byte) TAG_LONG);
                buffer.putLong(pos + 1, l, LE);
                return pos + 9;
            }
            case Double d -> {
                buffer.putByte(pos, (byte) TAG_DOUBLE);
                buffer.putDouble(pos + 1, d, LE);
                return pos + 9;
            }
            case String s -> {
                buffer.putByte(pos, (byte) TAG_STRING);
                return writeString(s, buffer, pos + 1);
            }
            case byte[] bytes -> {
                buffer.putByte(pos, (byte) TAG_BYTES);
                buffer.putInt(pos + 1, bytes.length, LE);
                buffer.putBytes(pos + 5, bytes);
                return pos + 5 + bytes.length;
            }
            case float[] floats -> {
                buffer.putByte(pos, (byte) TAG_FLOATS);
                buffer.putInt(pos + 1, floats.length, LE);
                int p = pos + 5;
                for (float f : floats) {
                    buffer.putFloat(p, f, LE);
                    p += Float.BYTES;
                }
                return p;
            }
            case List<?> list -> {
                buffer.putByte(pos, (byte) TAG_LIST);
                buffer.putInt(pos + 1, list.size(), LE);
                int p = pos + 5;
                for (Object element : list) {
                    p = write(element, buffer, p, depth + 1);
                }
                return p;
            }
            case Map<?, ?> map -> {
                buffer.putByte(pos, (byte) TAG_MAP);
                buffer.putInt(pos + 1, map.size(), LE);
                int p = pos + 5;
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    if (!(entry.getKey() instanceof String key)) {
                        throw new IllegalArgumentException("payload map key must be a String: key="
                                + entry.getKey() + ", class="
                                + (entry.getKey() == null ? "null" : entry.getKey().getClass().getName()));
                    }
                    p = writeString(key, buffer, p);
                    p = write(entry.getValue(), buffer, p, depth + 1);
                }
                return p;
            }
            default -> {
                return writeRegistered(value, buffer, pos, depth);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private int writeRegistered(Object value, MutableDirectBuffer buffer, int pos, int depth) {
        PayloadType<Object> type = (PayloadType<Object>) byClass.get(value.getClass());
        if (type == null) {
            throw new IllegalArgumentException("unsupported payload value: class=" + value.getClass().getName()
                    + ", expected=null, Boolean, Integer, Long, Double, String, byte[], float[], List, Map or a"
                    + " registered PayloadType");
        }
        buffer.putByte(pos, (byte) type.typeId());
        return write(type.toWire().apply(value), buffer, pos + 1, depth + 1);
    }

    private static int writeString(String s, MutableDirectBuffer buffer, int pos) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        buffer.putInt(pos, utf8.length, LE);
        buffer.putBytes(pos + 4, utf8);
        return pos + 4 + utf8.length;
    }

    /**
     * Reads exactly one value from {@code [offset, offset + length)}.
     *
     * @throws MalformedFrameException if the bytes are not one well-formed value that fills the range, or a registered
     *         type's {@code fromWire} rejects its input
     */
    public Object decode(DirectBuffer buffer, int offset, int length) throws MalformedFrameException {
        if (offset < 0 || length < 0 || (long) offset + length > buffer.capacity()) {
            throw new MalformedFrameException("payload outside buffer: offset=" + offset + ", length=" + length
                    + ", capacity=" + buffer.capacity());
        }
        decodedBytes.add(length);
        Reader reader = new Reader(buffer, offset, offset + length);
        Object value = reader.read(0);
        if (reader.pos != reader.end) {
            throw new MalformedFrameException("payload has trailing bytes: trailing=" + (reader.end - reader.pos));
        }
        return value;
    }

    private final class Reader {
        private final DirectBuffer buffer;
        private final int end;
        private int pos;

        Reader(DirectBuffer buffer, int pos, int end) {
            this.buffer = buffer;
            this.pos = pos;
            this.end = end;
        }

        private void need(long bytes) throws MalformedFrameException {
            if (bytes < 0 || bytes > end - pos) {
                throw new MalformedFrameException("payload truncated: need=" + bytes + ", left=" + (end - pos));
            }
        }

        private int count(int minBytesEach) throws MalformedFrameException {
            need(4);
            long count = buffer.getInt(pos, LE) & 0xFFFF_FFFFL;
            pos += 4;
            need(count * minBytesEach);
            return (int) count;
        }

        private String string() throws MalformedFrameException {
            int length = count(1);
            String s = buffer.getStringWithoutLengthUtf8(pos, length);
            pos += length;
            return s;
        }

        Object read(int depth) throws MalformedFrameException {
            if (depth > MAX_DEPTH) {
                throw new MalformedFrameException("payload nested too deep: depth=" + depth);
            }
            need(1);
            int tag = buffer.getByte(pos) & 0xFF;
            pos++;
            switch (tag) {
                case TAG_NULL:
                    return null;
                case TAG_FALSE:
                    return Boolean.FALSE;
                case TAG_TRUE:
                    return Boolean.TRUE;
                case TAG_INT: {
                    need(4);
                    int v = buffer.getInt(pos, LE);
                    pos += 4;
                    return v;
                }
                case TAG_LONG: {
                    need(8);
                    long v = buffer.getLong(pos, LE);
                    pos += 8;
                    return v;
                }
                case TAG_DOUBLE: {
                    need(8);
                    double v = buffer.getDouble(pos, LE);
                    pos += 8;
                    return v;
                }
                case TAG_STRING:
                    return string();
                case TAG_BYTES: {
                    int length = count(1);
                    byte[] bytes = new byte[length];
                    buffer.getBytes(pos, bytes);
                    pos += length;
                    return bytes;
                }
                case TAG_FLOATS: {
                    int count = count(Float.BYTES);
                    float[] floats = new float[count];
                    for (int i = 0; i < count; i++) {
                        floats[i] = buffer.getFloat(pos, LE);
                        pos += Float.BYTES;
                    }
                    return floats;
                }
                case TAG_LIST: {
                    int count = count(1);
                    List<Object> list = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) {
                        list.add(read(depth + 1));
                    }
                    return Collections.unmodifiableList(list);
                }
                case TAG_MAP: {
                    int count = count(5);
                    Map<String, Object> map = LinkedHashMap.newLinkedHashMap(count);
                    for (int i = 0; i < count; i++) {
                        String key = string();
                        if (map.containsKey(key)) {
                            throw new MalformedFrameException("payload map has a duplicate key: key=" + key);
                        }
                        map.put(key, read(depth + 1));
                    }
                    return Collections.unmodifiableMap(map);
                }
                default:
                    return readRegistered(tag, depth);
            }
        }

        private Object readRegistered(int tag, int depth) throws MalformedFrameException {
            PayloadType<?> type = byId.get(tag);
            if (type == null) {
                throw new MalformedFrameException("unknown payload tag: tag=" + tag);
            }
            Object wire = read(depth + 1);
            try {
                return type.fromWire().apply(wire);
            } catch (RuntimeException e) {
                throw new MalformedFrameException("payload type rejected its value: typeId=" + tag + ", error="
                        + e);
            }
        }
    }
}
