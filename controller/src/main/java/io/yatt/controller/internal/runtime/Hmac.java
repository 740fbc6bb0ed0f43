package io.yatt.controller.internal.runtime;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HMAC-SHA256 of a registration (the controller's nonce, the worker id and rank, keyed by the shared secret) and the
 * keys derived from it: one per direction of a worker's session, and one per controller for its peers' frames.
 */
final class Hmac {

    static final String ALGORITHM = "HmacSHA256";

    /** Label of the key of frames from a worker to its controller. */
    static final String WORKER_TO_CONTROLLER = "yatt-session-w2c";
    /** Label of the key of frames from a controller to a worker. */
    static final String CONTROLLER_TO_WORKER = "yatt-session-c2w";
    private static final String PEER = "yatt-peer";

    private Hmac() {
    }

    /**
     * The key of one direction ({@code label}) of a worker's session: HMAC(secret, label, nonce, worker id, rank), so
     * it follows from the challenge both ends saw and differs per registration and direction.
     */
    static byte[] sessionKey(byte[] secret, String label, byte[] nonce, int workerId, int rank) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(new SecretKeySpec(secret, ALGORITHM));
            mac.update(label.getBytes(StandardCharsets.US_ASCII));
            mac.update(nonce);
            mac.update(ByteBuffer.allocate(8).putInt(workerId).putInt(rank).array());
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable: " + e, e);
        }
    }

    /** The key of frames other controllers send to controller {@code receiverId}: HMAC(secret, label, id). */
    static byte[] peerKey(byte[] secret, long receiverId) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(new SecretKeySpec(secret, ALGORITHM));
            mac.update(PEER.getBytes(StandardCharsets.US_ASCII));
            mac.update(ByteBuffer.allocate(8).putLong(receiverId).array());
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable: " + e, e);
        }
    }

    static byte[] registration(byte[] secret, byte[] nonce, int workerId, int rank) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(new SecretKeySpec(secret, ALGORITHM));
            mac.update(nonce);
            mac.update(ByteBuffer.allocate(8).putInt(workerId).putInt(rank).array());
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable: " + e, e);
        }
    }

    static boolean verify(byte[] secret, byte[] nonce, int workerId, int rank, byte[] mac) {
        return MessageDigest.isEqual(registration(secret, nonce, workerId, rank), mac);
    }
}
