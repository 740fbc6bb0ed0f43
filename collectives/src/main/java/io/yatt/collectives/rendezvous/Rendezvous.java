package io.yatt.collectives.rendezvous;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.RendezvousException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * One rank's session with the rendezvous store: all-gather, broadcast and barrier of small byte values under
 * string keys, each with the configured deadline. Used to exchange pids, shm region names and the NCCL unique id.
 *
 * <p>{@link #join(RendezvousConfig)} makes rank 0 serve the store; {@link #connect(RendezvousConfig)} only connects
 * (for a store served by a launcher). Confined to one thread at a time.
 */
public final class Rendezvous implements AutoCloseable {
    private static final long CONNECT_RETRY_MS = 20;
    private static final long READ_SLACK_MS = 10_000;

    private final RendezvousConfig config;
    private final TcpStoreServer server;
    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private boolean closed;

    private Rendezvous(RendezvousConfig config, TcpStoreServer server, Socket socket) throws IOException {
        this.config = config;
        this.server = server;
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
    }

    /**
     * Joins the job: rank 0 starts the store on {@code bindAddress:masterPort}, every rank connects to
     * {@code masterAddr:masterPort}, authenticates, and returns once connected.
     *
     * @throws RendezvousException if the store cannot be reached before the deadline or refuses this rank
     */
    public static Rendezvous join(RendezvousConfig config) {
        Objects.requireNonNull(config, "config");
        TcpStoreServer server = config.rank() == 0
            ? TcpStoreServer.start(config.bindAddress(), config.masterPort(), config.worldSize(), config.secret())
            : null;
        try {
            RendezvousConfig effective = server != null && config.masterPort() == 0
                ? config.withMaster(config.masterAddr(), server.port()) : config;
            return open(effective, server);
        } catch (RuntimeException e) {
            if (server != null) {
                server.close();
            }
            throw e;
        }
    }

    /**
     * Connects to a store served elsewhere (e.g. by the launcher) without serving one.
     *
     * @throws RendezvousException if the store cannot be reached before the deadline or refuses this rank
     */
    public static Rendezvous connect(RendezvousConfig config) {
        Objects.requireNonNull(config, "config");
        return open(config, null);
    }

    private static Rendezvous open(RendezvousConfig config, TcpStoreServer server) {
        long deadline = System.nanoTime() + config.timeoutNs();
        IOException last = null;
        while (true) {
            Socket s = new Socket();
            try {
                long leftMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
                s.connect(new InetSocketAddress(config.masterAddr(), config.masterPort()),
                    (int) Math.min(leftMs, Integer.MAX_VALUE));
                s.setTcpNoDelay(true);
                s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, leftMs + READ_SLACK_MS));
                Rendezvous r = new Rendezvous(config, server, s);
                r.handshake();
                return r;
            } catch (RendezvousException e) {
                closeQuietly(s);
                throw e;
            } catch (IOException e) {
                closeQuietly(s);
                last = e;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new RendezvousException("rendezvous timed out: cannot reach master=" + config.master()
                    + ", rank=" + config.rank() + ", timeoutMs=" + TimeUnit.NANOSECONDS.toMillis(config.timeoutNs())
                    + ", error=" + last.getMessage(), List.of(0), last);
            }
            try {
                Thread.sleep(CONNECT_RETRY_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RendezvousException("rendezvous interrupted: master=" + config.master(), List.of(), e);
            }
        }
    }

    private void handshake() throws IOException {
        int magic = in.readInt();
        int version = in.readInt();
        int storeWorldSize = in.readInt();
        if (magic != StoreProtocol.MAGIC || version != StoreProtocol.VERSION) {
            throw new RendezvousException("rendezvous refused: not a yatt store: master=" + config.master()
                + ", magic=" + Integer.toHexString(magic) + ", version=" + version, List.of(), null);
        }
        byte[] nonce = new byte[StoreProtocol.NONCE_BYTES];
        in.readFully(nonce);
        out.writeInt(config.rank());
        out.writeInt(config.worldSize());
        StoreProtocol.writeBytes(out, StoreProtocol.proof(config.secret(), nonce, config.rank()));
        out.flush();
        int status = in.readInt();
        String message = in.readUTF();
        if (status != StoreProtocol.STATUS_OK) {
            throw new RendezvousException(message + ", master=" + config.master() + ", storeWorldSize="
                + storeWorldSize, List.of(), null);
        }
    }

    /** This rank's configuration (with the actual store port when rank 0 served an ephemeral one). */
    public RendezvousConfig config() {
        return config;
    }

    /** This rank. */
    public int rank() {
        return config.rank();
    }

    /** Number of ranks. */
    public int worldSize() {
        return config.worldSize();
    }

    /**
     * Contributes {@code value} under {@code key} and returns every rank's value, indexed by rank.
     *
     * @throws RendezvousException naming the missing ranks if not all arrive within the deadline
     */
    public byte[][] allGather(String key, byte[] value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        if (closed) {
            throw new IllegalStateException("rendezvous closed: rank=" + config.rank());
        }
        long timeoutMs = TimeUnit.NANOSECONDS.toMillis(config.timeoutNs());
        try {
            out.writeInt(StoreProtocol.OP_GATHER);
            out.writeUTF(key);
            StoreProtocol.writeBytes(out, value);
            out.writeLong(timeoutMs);
            out.flush();
            int status = in.readInt();
            switch (status) {
                case StoreProtocol.STATUS_OK -> {
                    int n = in.readInt();
                    byte[][] result = new byte[n][];
                    for (int i = 0; i < n; i++) {
                        result[i] = StoreProtocol.readBytes(in);
                    }
                    return result;
                }
                case StoreProtocol.STATUS_TIMEOUT -> {
                    int m = in.readInt();
                    List<Integer> missing = new ArrayList<>(m);
                    for (int i = 0; i < m; i++) {
                        missing.add(in.readInt());
                    }
                    throw new RendezvousException("rendezvous timed out: missing ranks=" + missing + ", master="
                        + config.master() + ", key=" + key + ", rank=" + config.rank() + ", timeoutMs=" + timeoutMs,
                        missing, null);
                }
                default -> throw new RendezvousException(in.readUTF() + ", master=" + config.master(), List.of(), null);
            }
        } catch (SocketTimeoutException e) {
            throw new RendezvousException("rendezvous timed out: store did not answer: master=" + config.master()
                + ", key=" + key + ", rank=" + config.rank() + ", timeoutMs=" + timeoutMs, List.of(), e);
        } catch (IOException e) {
            throw new RendezvousException("rendezvous failed: lost the store: master=" + config.master() + ", key="
                + key + ", rank=" + config.rank() + ", error=" + e, List.of(0), e);
        }
    }

    /**
     * Returns {@code root}'s value under {@code key} on every rank ({@code value} is ignored on other ranks and may
     * be empty).
     *
     * @throws RendezvousException naming the missing ranks if not all arrive within the deadline
     */
    public byte[] broadcast(String key, byte[] value, int root) {
        if (root < 0 || root >= config.worldSize()) {
            throw new IllegalArgumentException("root out of range: root=" + root + ", worldSize=" + config.worldSize());
        }
        return allGather(key, config.rank() == root ? value : new byte[0])[root];
    }

    /** Convenience: all-gather of UTF-8 strings. */
    public List<String> allGatherStrings(String key, String value) {
        byte[][] all = allGather(key, value.getBytes(StandardCharsets.UTF_8));
        List<String> result = new ArrayList<>(all.length);
        for (byte[] v : all) {
            result.add(new String(v, StandardCharsets.UTF_8));
        }
        return result;
    }

    /**
     * Waits until every rank reached this barrier.
     *
     * @throws RendezvousException naming the missing ranks if not all arrive within the deadline
     */
    public void barrier(String key) {
        allGather(key, new byte[0]);
    }

    /** Leaves the store; rank 0 also stops serving it. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            out.writeInt(StoreProtocol.OP_BYE);
            out.flush();
        } catch (IOException ignored) {
            // the store may already be gone
        }
        closeQuietly(socket);
        if (server != null) {
            server.close();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // best effort
        }
    }
}
