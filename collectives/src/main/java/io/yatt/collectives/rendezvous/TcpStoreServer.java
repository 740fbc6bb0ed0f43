package io.yatt.collectives.rendezvous;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.RendezvousException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The rendezvous store: a small TCP server that lets {@code worldSize} ranks exchange byte values under a key
 * (an all-gather with a deadline). Rank 0 or the launcher serves it; it binds loopback unless told otherwise, and a
 * server given a secret refuses every peer that cannot prove it knows the secret (HMAC-SHA256 of a fresh nonce).
 *
 * <p>Thread-safe; one daemon thread accepts, one daemon thread serves each connection.
 */
public final class TcpStoreServer implements AutoCloseable {
    /** How long {@link #close()} waits for connected peers to leave. */
    static final long CLOSE_GRACE_MS = 2000;
    private final ServerSocket socket;
    private final int worldSize;
    private final String secret;
    private final SecureRandom random = new SecureRandom();
    private final Map<String, byte[][]> values = new HashMap<>();
    private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;
    private volatile int refusedCount;

    private TcpStoreServer(ServerSocket socket, int worldSize, String secret) {
        this.socket = socket;
        this.worldSize = worldSize;
        this.secret = secret;
        this.acceptor = Thread.ofPlatform().daemon().name("yatt-rendezvous-accept").start(this::acceptLoop);
    }

    /**
     * Starts a store for {@code worldSize} ranks on {@code bindAddress:port} ({@code port} 0 picks a free port).
     *
     * @param secret shared secret every peer must prove; required (non-null) when {@code bindAddress} is not loopback
     * @throws IllegalArgumentException if a non-loopback address has no secret or {@code worldSize < 1}
     * @throws RendezvousException if the port cannot be bound
     */
    public static TcpStoreServer start(String bindAddress, int port, int worldSize, String secret) {
        Objects.requireNonNull(bindAddress, "bindAddress");
        if (worldSize < 1) {
            throw new IllegalArgumentException("worldSize must be positive: worldSize=" + worldSize);
        }
        if (secret == null && !RendezvousConfig.isLoopback(bindAddress)) {
            throw new IllegalArgumentException("rendezvous secret required: bindAddress=" + bindAddress
                + " is not loopback");
        }
        try {
            ServerSocket server = new ServerSocket();
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(InetAddress.getByName(bindAddress), port), 256);
            return new TcpStoreServer(server, worldSize, secret);
        } catch (IOException e) {
            throw new RendezvousException("rendezvous store bind failed: bindAddress=" + bindAddress + ", port=" + port
                + ", error=" + e.getMessage(), List.of(), e);
        }
    }

    /** The bound port (useful when started with port 0). */
    public int port() {
        return socket.getLocalPort();
    }

    /** Number of peers refused so far (failed authentication or wrong world size). */
    public int refusedCount() {
        return refusedCount;
    }

    /**
     * Stops accepting, lets connected peers finish their current exchange and leave (up to
     * {@value #CLOSE_GRACE_MS} ms), then closes every connection; idempotent.
     */
    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing a listening socket: nothing to recover
        }
        long deadline = System.nanoTime() + CLOSE_GRACE_MS * 1_000_000L;
        while (!connections.isEmpty() && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        closed = true;
        for (Socket s : connections) {
            try {
                s.close();
            } catch (IOException ignored) {
                // best effort
            }
        }
        synchronized (values) {
            values.notifyAll();
        }
        try {
            acceptor.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = socket.accept();
                s.setTcpNoDelay(true);
                connections.add(s);
                Thread.ofPlatform().daemon().name("yatt-rendezvous-conn").start(() -> serve(s));
            } catch (IOException e) {
                if (closed || socket.isClosed()) {
                    return;
                }
            }
        }
    }

    private void serve(Socket s) {
        try (s;
             DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
             DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()))) {
            byte[] nonce = new byte[StoreProtocol.NONCE_BYTES];
            random.nextBytes(nonce);
            out.writeInt(StoreProtocol.MAGIC);
            out.writeInt(StoreProtocol.VERSION);
            out.writeInt(worldSize);
            out.write(nonce);
            out.flush();
            s.setSoTimeout(30_000);
            int rank = in.readInt();
            int peerWorldSize = in.readInt();
            byte[] proof = StoreProtocol.readBytes(in);
            String refusal = null;
            if (secret != null && !MessageDigest.isEqual(proof, StoreProtocol.proof(secret, nonce, rank))) {
                refusal = "rendezvous refused: authentication failed: rank=" + rank
                    + ", peer=" + s.getRemoteSocketAddress();
            } else if (peerWorldSize != worldSize) {
                refusal = "rendezvous refused: worldSize mismatch: peer=" + peerWorldSize + ", store=" + worldSize;
            } else if (rank < 0 || rank >= worldSize) {
                refusal = "rendezvous refused: rank out of range: rank=" + rank + ", worldSize=" + worldSize;
            }
            if (refusal != null) {
                refusedCount++;
                out.writeInt(StoreProtocol.STATUS_REFUSED);
                out.writeUTF(refusal);
                out.flush();
                return;
            }
            out.writeInt(StoreProtocol.STATUS_OK);
            out.writeUTF("welcome");
            out.flush();
            s.setSoTimeout(0);
            while (true) {
                int op = in.readInt();
                if (op == StoreProtocol.OP_BYE) {
                    return;
                }
                if (op != StoreProtocol.OP_GATHER) {
                    out.writeInt(StoreProtocol.STATUS_ERROR);
                    out.writeUTF("rendezvous protocol error: unknown op=" + op);
                    out.flush();
                    return;
                }
                if (closed) {
                    return;
                }
                String key = in.readUTF();
                byte[] value = StoreProtocol.readBytes(in);
                long timeoutMs = in.readLong();
                gather(out, key, rank, value, timeoutMs);
                out.flush();
            }
        } catch (IOException e) {
            // the peer went away; its absence shows up as a missing rank for the others
        } finally {
            connections.remove(s);
        }
    }

    private void gather(DataOutputStream out, String key, int rank, byte[] value, long timeoutMs) throws IOException {
        byte[][] result;
        List<Integer> missing = new ArrayList<>();
        String error = null;
        synchronized (values) {
            byte[][] slot = values.computeIfAbsent(key, k -> new byte[worldSize][]);
            if (slot[rank] != null) {
                error = "rendezvous key reused: key=" + key + ", rank=" + rank;
            } else {
                slot[rank] = value;
                values.notifyAll();
                long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
                while (!closed && !complete(slot)) {
                    long leftMs = (deadline - System.nanoTime()) / 1_000_000L;
                    if (leftMs <= 0) {
                        break;
                    }
                    try {
                        values.wait(leftMs);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
                for (int r = 0; r < worldSize; r++) {
                    if (slot[r] == null) {
                        missing.add(r);
                    }
                }
            }
            result = slot.clone();
        }
        if (error != null) {
            out.writeInt(StoreProtocol.STATUS_ERROR);
            out.writeUTF(error);
        } else if (!missing.isEmpty()) {
            out.writeInt(StoreProtocol.STATUS_TIMEOUT);
            out.writeInt(missing.size());
            for (int r : missing) {
                out.writeInt(r);
            }
        } else {
            out.writeInt(StoreProtocol.STATUS_OK);
            out.writeInt(result.length);
            for (byte[] v : result) {
                StoreProtocol.writeBytes(out, v);
            }
        }
    }

    private static boolean complete(byte[][] slot) {
        for (byte[] v : slot) {
            if (v == null) {
                return false;
            }
        }
        return true;
    }
}
