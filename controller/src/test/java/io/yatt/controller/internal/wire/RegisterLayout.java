package io.yatt.controller.internal.wire;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Walks an encoded version-4 Register frame by its own lengths: where each method's signature fields are, and the
 * same registration as a version-3 sender writes it (no signature fields). For the wire and the proxy tests.
 */
public final class RegisterLayout {

    private static final int HEADER_BYTES = 8;

    private RegisterLayout() {
    }

    /** Offsets of the length headers of each method's parameterTypes and returnType fields, in frame order. */
    public static List<Integer> signatureFields(byte[] frame) {
        List<Integer> offsets = new ArrayList<>();
        walk(frame, (from, to) -> {
            offsets.add(from);
            offsets.add(from + 4 + length(frame, from));
        });
        return offsets;
    }

    /** {@code frame} (a version-4 Register) as version 3 writes it: header version 3, no signature fields. */
    public static byte[] versionThree(byte[] frame) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int[] copied = {0};
        walk(frame, (from, to) -> {
            out.write(frame, copied[0], from - copied[0]);
            copied[0] = to;
        });
        out.write(frame, copied[0], frame.length - copied[0]);
        byte[] v3 = out.toByteArray();
        ByteBuffer.wrap(v3).order(ByteOrder.LITTLE_ENDIAN).putShort(6, (short) 3);
        return v3;
    }

    private interface SignatureSpan {
        void at(int from, int to);
    }

    /** Calls {@code span} with each method entry's signature fields, {@code [from, to)}. */
    private static void walk(byte[] frame, SignatureSpan span) {
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        int pos = HEADER_BYTES + (b.getShort(0) & 0xFFFF);
        for (int group = 0; group < 3; group++) {
            int entryBlock = b.getShort(pos) & 0xFFFF;
            int count = b.getShort(pos + 2) & 0xFFFF;
            pos += 4;
            for (int i = 0; i < count; i++) {
                pos += entryBlock;
                pos = skip(frame, pos, group == 2 ? 2 : 1);
                if (group == 2) {
                    int end = skip(frame, pos, 2);
                    span.at(pos, end);
                    pos = end;
                }
            }
        }
    }

    private static int skip(byte[] frame, int pos, int fields) {
        for (int f = 0; f < fields; f++) {
            pos += 4 + length(frame, pos);
        }
        return pos;
    }

    private static int length(byte[] frame, int pos) {
        return ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).getInt(pos);
    }
}
