package io.yatt.controller.internal.runtime;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** HMAC-SHA256 of a registration: the controller's nonce, the worker id and rank, keyed by the shared secret. */
final class Hmac {

    static final String ALGORITHM = "HmacSHA256";

    private Hmac() {
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
