package io.yatt.controller.internal.wire;

import io.yatt.controller.internal.sbe.RegisterAckDecoder;
import io.yatt.controller.internal.sbe.RegisterDecoder;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The message authentication of frames after registration: a trailer of a sequence number (u64, little-endian) and
 * the first {@value #TAG_BYTES} bytes of HMAC-SHA256(key, sequence, frame). One instance seals the frames of one
 * sender (a proxy, under its lock) or opens those of one sender (the polling thread); not thread-safe. Register and
 * RegisterAck frames carry no trailer: registration authenticates itself with the challenge.
 */
public final class FrameTag {

    /** Bytes of the truncated HMAC. */
    public static final int TAG_BYTES = 16;
    /** Bytes of the trailer: sequence number and tag. */
    public static final int TRAILER_BYTES = Long.BYTES + TAG_BYTES;
    /** What {@link #open} and {@link #verify} return for a frame that is not authentic. */
    public static final int NOT_AUTHENTIC = -1;

    /** Bytes of the copy buffer the MAC reads a frame through, a piece at a time (fixed, whatever the frame). */
    static final int SCRATCH_BYTES = 4096;
    private static final String ALGORITHM = "HmacSHA256";
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final Mac mac;
    private final byte[] sequenceBytes = new byte[Long.BYTES];
    private final byte[] digest = new byte[32];
    private final byte[] scratch = new byte[SCRATCH_BYTES];
    private long sequence;
    private long verifiedSequence;

    private FrameTag(byte[] key) {
        try {
            mac = Mac.getInstance(ALGORITHM);
            mac.init(new SecretKeySpec(key, ALGORITHM));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable: " + e, e);
        }
    }

    /** Tags under {@code key} (a session or peer key, 32 bytes). */
    public static FrameTag of(byte[] key) {
        return new FrameTag(key);
    }

    /**
     * Starts sealing after sequence number {@code sequence} (a sender that may restart under the same key starts
     * above what it sent before, e.g. at the wall clock in nanoseconds), and opening above it.
     */
    public FrameTag startAfter(long sequence) {
        this.sequence = sequence;
        return this;
    }

    /** Whether frames of {@code templateId} carry a trailer once a key is set (all but Register and RegisterAck). */
    public static boolean sealed(int templateId) {
        return templateId != RegisterDecoder.TEMPLATE_ID && templateId != RegisterAckDecoder.TEMPLATE_ID;
    }

    /**
     * Appends the trailer to {@code buffer[0, length)} with the next sequence number.
     *
     * @return the length with the trailer
     */
    public int seal(MutableDirectBuffer buffer, int length) {
        long next = ++sequence;
        buffer.putLong(length, next, LE);
        compute(buffer, 0, length, next);
        buffer.putBytes(length + Long.BYTES, digest, 0, TAG_BYTES);
        return length + TRAILER_BYTES;
    }

    /**
     * Checks the trailer of {@code buffer[offset, offset + length)}: the tag must verify and the sequence number exceed
     * the last one opened here (a replayed frame does not).
     *
     * @return the frame's length without the trailer, or {@link #NOT_AUTHENTIC}
     */
    public int open(DirectBuffer buffer, int offset, int length) {
        int body = verify(buffer, offset, length);
        if (body == NOT_AUTHENTIC || verifiedSequence <= sequence) {
            return NOT_AUTHENTIC;
        }
        sequence = verifiedSequence;
        return body;
    }

    /**
     * Checks only the tag (for a receiver that orders sequence numbers per sender itself, see
     * {@link #verifiedSequence()}).
     *
     * @return the frame's length without the trailer, or {@link #NOT_AUTHENTIC}
     */
    public int verify(DirectBuffer buffer, int offset, int length) {
        int body = length - TRAILER_BYTES;
        if (body <= 0) {
            return NOT_AUTHENTIC;
        }
        long seq = buffer.getLong(offset + body, LE);
        compute(buffer, offset, body, seq);
        int diff = 0;
        for (int i = 0; i < TAG_BYTES; i++) {
            diff |= digest[i] ^ buffer.getByte(offset + body + Long.BYTES + i);
        }
        if (diff != 0) {
            return NOT_AUTHENTIC;
        }
        verifiedSequence = seq;
        return body;
    }

    /** The sequence number of the frame that last verified. */
    public long verifiedSequence() {
        return verifiedSequence;
    }

    private void compute(DirectBuffer buffer, int offset, int length, long seq) {
        for (int i = 0; i < Long.BYTES; i++) {
            sequenceBytes[i] = (byte) (seq >>> (8 * i));
        }
        mac.update(sequenceBytes);
        // through a fixed scratch: a buffer grown to the largest frame would stay with the tag for good
        for (int done = 0; done < length; done += SCRATCH_BYTES) {
            int n = Math.min(SCRATCH_BYTES, length - done);
            buffer.getBytes(offset + done, scratch, 0, n);
            mac.update(scratch, 0, n);
        }
        try {
            mac.doFinal(digest, 0);
        } catch (ShortBufferException e) {
            throw new IllegalStateException("HmacSHA256 digest buffer too short: bytes=" + digest.length, e);
        }
    }
}
