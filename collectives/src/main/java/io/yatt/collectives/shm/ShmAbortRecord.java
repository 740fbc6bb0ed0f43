package io.yatt.collectives.shm;

import io.yatt.collectives.CollectiveMismatchException;
import io.yatt.collectives.CollectiveTimeoutException;
import io.yatt.collectives.CommunicatorAbortedException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.yatt.collectives.shm.ShmCommDescriptor.*;

/**
 * The abort record of a channel block: what a failed rank writes (kind, op, seq, missing ranks, message) before it
 * raises its abort word, and how a peer rebuilds that failure from it. Stateless; the channel block's owner writes,
 * peers read.
 */
final class ShmAbortRecord {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LNG = ValueLayout.JAVA_LONG;

    private ShmAbortRecord() {
    }

    /** Writes the record for {@code cause} at {@code a} (the channel's ABORT_OFFSET) of {@code own}. */
    static void write(MemorySegment own, long a, Throwable cause, String opName, long opSeq, long timeoutNs) {
        int kind = ABORT_KIND_OTHER;
        List<Integer> missing = List.of();
        String op = opName;
        long seq = opSeq;
        if (cause instanceof ShmPeerDeadException e) {
            kind = ABORT_KIND_DEAD;
            missing = e.missingRanks();
            op = e.op();
            seq = e.seq();
        } else if (cause instanceof CollectiveTimeoutException e) {
            kind = ABORT_KIND_TIMEOUT;
            missing = e.missingRanks();
            op = e.op();
            seq = e.seq();
        } else if (cause instanceof CollectiveMismatchException) {
            kind = ABORT_KIND_MISMATCH;
        }
        own.set(INT, a + ABORT_KIND, kind);
        int m = Math.min(missing.size(), MAX_ABORT_MISSING);
        own.set(INT, a + ABORT_MISSING_COUNT, m);
        own.set(LNG, a + ABORT_SEQ, seq);
        own.set(LNG, a + ABORT_TIMEOUT_NS, timeoutNs);
        for (int i = 0; i < m; i++) {
            own.set(INT, a + ABORT_MISSING + 4L * i, missing.get(i));
        }
        writeString(own, a + ABORT_OP, op, ABORT_OP_MAX_BYTES);
        String message = cause == null ? "aborted" : String.valueOf(cause.getMessage());
        writeString(own, a + ABORT_MESSAGE, message, ABORT_MESSAGE_MAX_BYTES);
    }

    /** The failure recorded at {@code a} of a peer's region {@code s}. */
    static RuntimeException read(MemorySegment s, long a) {
        int kind = s.get(INT, a + ABORT_KIND);
        String op = op(s, a);
        String message = readString(s, a + ABORT_MESSAGE, ABORT_MESSAGE_MAX_BYTES);
        long seq = seq(s, a);
        int m = Math.max(0, Math.min(MAX_ABORT_MISSING, s.get(INT, a + ABORT_MISSING_COUNT)));
        List<Integer> missing = new ArrayList<>(m);
        for (int i = 0; i < m; i++) {
            missing.add(s.get(INT, a + ABORT_MISSING + 4L * i));
        }
        return switch (kind) {
            case ABORT_KIND_TIMEOUT -> new CollectiveTimeoutException(op, seq, missing, s.get(LNG, a + ABORT_TIMEOUT_NS));
            case ABORT_KIND_MISMATCH -> new CollectiveMismatchException(message);
            default -> new CommunicatorAbortedException(message, null);
        };
    }

    /** The op name of the record at {@code a} of {@code s}. */
    static String op(MemorySegment s, long a) {
        return readString(s, a + ABORT_OP, ABORT_OP_MAX_BYTES);
    }

    /** The call sequence number of the record at {@code a} of {@code s}. */
    static long seq(MemorySegment s, long a) {
        return s.get(LNG, a + ABORT_SEQ);
    }

    private static void writeString(MemorySegment own, long off, String value, int maxBytes) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(bytes.length, maxBytes);
        own.set(INT, off, n);
        MemorySegment.copy(bytes, 0, own, ValueLayout.JAVA_BYTE, off + 4, n);
    }

    private static String readString(MemorySegment s, long off, int maxBytes) {
        int n = Math.max(0, Math.min(maxBytes, s.get(INT, off)));
        byte[] bytes = new byte[n];
        MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off + 4, bytes, 0, n);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
