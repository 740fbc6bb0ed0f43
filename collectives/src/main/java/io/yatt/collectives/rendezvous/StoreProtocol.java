package io.yatt.collectives.rendezvous;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Wire format of the rendezvous TCP store (version {@value #VERSION}); every frame is big-endian.
 *
 * <pre>
 * server -> client  greeting : int MAGIC, int VERSION, int worldSize, byte[NONCE_BYTES] nonce
 * client -> server  hello    : int rank, int worldSize, bytes proof (HMAC-SHA256(secret, nonce || rank), empty without secret)
 * server -> client  welcome  : int status (STATUS_OK | STATUS_REFUSED), utf message
 * client -> server  gather   : int OP_GATHER, utf key, bytes value, long timeoutMs
 * server -> client  result   : int STATUS_OK, int n, n x bytes   |   int STATUS_TIMEOUT, int m, m x int missingRank
 *                              |   int STATUS_ERROR, utf message
 * client -> server  bye      : int OP_BYE
 * </pre>
 * {@code bytes} is an int length followed by that many bytes.
 */
final class StoreProtocol {
    static final int MAGIC = 0x59415454; // "YATT"
    static final int VERSION = 1;
    static final int NONCE_BYTES = 32;
    static final int MAX_VALUE_BYTES = 1 << 20;
    static final int OP_GATHER = 1;
    static final int OP_BYE = 2;
    static final int STATUS_OK = 0;
    static final int STATUS_REFUSED = 1;
    static final int STATUS_TIMEOUT = 2;
    static final int STATUS_ERROR = 3;

    private StoreProtocol() {
    }

    static byte[] proof(String secret, byte[] nonce, int rank) {
        if (secret == null) {
            return new byte[0];
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update(nonce);
            mac.update(new byte[] {(byte) (rank >>> 24), (byte) (rank >>> 16), (byte) (rank >>> 8), (byte) rank});
            return mac.doFinal();
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    static void writeBytes(DataOutputStream out, byte[] value) throws IOException {
        out.writeInt(value.length);
        out.write(value);
    }

    static byte[] readBytes(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > MAX_VALUE_BYTES) {
            throw new IOException("rendezvous frame too large: length=" + length + ", max=" + MAX_VALUE_BYTES);
        }
        byte[] value = new byte[length];
        in.readFully(value);
        return value;
    }
}
