package io.yatt.controller.internal.wire;

import java.nio.charset.StandardCharsets;
import org.agrona.DirectBuffer;

/**
 * The few strings a frame repeats on every call (group, method and dispatch mode names), decoded from and encoded to
 * UTF-8 once: {@link #decode} returns the cached string whose bytes equal the frame's, {@link #encode} the cached bytes
 * of a string seen before (by identity, then by value). A small round-robin table; a miss costs what decoding or
 * encoding the string without it would. Confined to one thread, as the codecs that hold it.
 */
final class Utf8Cache {

    /** Entries kept; a worker serves a few groups and methods, so a miss is rare after the first calls. */
    static final int ENTRIES = 32;
    /** Strings longer than this are not cached (names are short; a long one is decoded each time). */
    static final int MAX_CACHED_BYTES = 256;

    private static final byte[] EMPTY = new byte[0];

    private final byte[][] bytes = new byte[ENTRIES][];
    private final String[] strings = new String[ENTRIES];
    private int next;

    /** The string of the UTF-8 bytes {@code [offset, offset + length)} of {@code buffer}. */
    String decode(DirectBuffer buffer, int offset, int length) {
        if (length == 0) {
            return "";
        }
        if (length <= MAX_CACHED_BYTES) {
            for (int i = 0; i < ENTRIES; i++) {
                byte[] b = bytes[i];
                if (b != null && b.length == length && equal(buffer, offset, b)) {
                    return strings[i];
                }
            }
        }
        byte[] copy = new byte[length];
        buffer.getBytes(offset, copy, 0, length);
        String s = new String(copy, StandardCharsets.UTF_8);
        if (length <= MAX_CACHED_BYTES) {
            put(copy, s);
        }
        return s;
    }

    /** The UTF-8 bytes of {@code s} (the caller must not change them); none for {@code null}. */
    byte[] encode(String s) {
        if (s == null || s.isEmpty()) {
            return EMPTY;
        }
        for (int i = 0; i < ENTRIES; i++) {
            if (strings[i] == s) {
                return bytes[i];
            }
        }
        for (int i = 0; i < ENTRIES; i++) {
            if (s.equals(strings[i])) {
                return bytes[i];
            }
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= MAX_CACHED_BYTES) {
            put(b, s);
        }
        return b;
    }

    private void put(byte[] b, String s) {
        bytes[next] = b;
        strings[next] = s;
        next = (next + 1) % ENTRIES;
    }

    private static boolean equal(DirectBuffer buffer, int offset, byte[] b) {
        for (int i = 0; i < b.length; i++) {
            if (buffer.getByte(offset + i) != b[i]) {
                return false;
            }
        }
        return true;
    }
}
