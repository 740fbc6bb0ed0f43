package io.yatt.controller;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.rendezvous.Rendezvous;
import io.yatt.collectives.rendezvous.TcpStoreServer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The controller's endpoint through the collectives' rendezvous store, for jobs launched by torchrun, Slurm or Open
 * MPI ({@link RendezvousConfig#fromEnvironment}): the controller is rendezvous rank 0 (it serves the store), the
 * workers ranks 1 to world size - 1 (worker rank = rendezvous rank - 1). Parallel controllers that run as separate
 * processes exchange their endpoints and ids through a store of their own ({@link #joinMesh}). Stateless.
 */
public final class ControllerRendezvous {

    /** The store key the endpoint is broadcast under. */
    public static final String ENDPOINT_KEY = "yatt.controller.endpoint";

    /** The store key the job description is broadcast under (after the endpoint; empty when there is none). */
    public static final String JOB_KEY = "yatt.controller.job";

    /** The store key the controllers of a mesh gather their peers under. */
    public static final String PEERS_KEY = "yatt.controller.peers";

    /** Bytes of a gathered peer before its host and endpoint: id (8), pid (8), host length (4). */
    private static final int PEER_FIXED_BYTES = 20;

    private ControllerRendezvous() {
    }

    /** Peer {@code index} from its gathered bytes: id, pid, host length, host, endpoint (the rest, at least a byte). */
    private static ControllerMesh.Peer peer(int index, byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int hostLength = bytes.length < PEER_FIXED_BYTES ? -1 : b.getInt(16);
        if (hostLength < 0 || hostLength > bytes.length - PEER_FIXED_BYTES - 1) {
            throw new IllegalArgumentException("malformed controller peer: index=" + index + ", bytes="
                    + bytes.length + ", expected a controller id, a pid, a host and an endpoint");
        }
        String host = new String(bytes, PEER_FIXED_BYTES, hostLength, StandardCharsets.UTF_8);
        int endpointAt = PEER_FIXED_BYTES + hostLength;
        return new ControllerMesh.Peer(new String(bytes, endpointAt, bytes.length - endpointAt,
                StandardCharsets.UTF_8), b.getLong(0), b.getLong(8), host);
    }

    /**
     * Serves the store as rank 0, broadcasts {@code plane}'s endpoint and returns once every rank has it.
     *
     * @throws IllegalArgumentException if the config's rank is not 0
     * @throws io.yatt.collectives.RendezvousException if not every rank arrives within the config's timeout
     */
    public static void publish(RendezvousConfig config, ControlPlane plane) {
        publish(config, plane, new byte[0]);
    }

    /**
     * As {@link #publish(RendezvousConfig, ControlPlane)}, and broadcasts {@code job} (what the workers need beyond
     * the endpoint, in a format of the caller's) under {@link #JOB_KEY}; workers read both with {@link #lookupJob}.
     *
     * @throws IllegalArgumentException if the config's rank is not 0
     * @throws io.yatt.collectives.RendezvousException if not every rank arrives within the config's timeout (its
     *     {@code missingRanks} are the rendezvous ranks that did not)
     */
    public static void publish(RendezvousConfig config, ControlPlane plane, byte[] job) {
        if (config.rank() != 0) {
            throw new IllegalArgumentException("the controller publishes as rendezvous rank 0: rank=" + config.rank());
        }
        try (Rendezvous store = Rendezvous.join(config)) {
            store.broadcast(ENDPOINT_KEY, plane.endpoint().getBytes(StandardCharsets.UTF_8), 0);
            store.broadcast(JOB_KEY, job.clone(), 0);
            store.barrier(ENDPOINT_KEY + ".received");
        }
    }

    /**
     * What a worker finds in the store: the controller's endpoint and the job description it published (empty when
     * it published none).
     *
     * @param endpoint the controller's channel
     * @param job the job description's bytes
     */
    public record Published(String endpoint, byte[] job) {
    }

    /**
     * Joins the store as a worker rank and returns the controller's endpoint and job description.
     *
     * @throws IllegalArgumentException if the config's rank is 0 (the controller's)
     * @throws io.yatt.collectives.RendezvousException if the store is not reached within the config's timeout
     */
    public static Published lookupJob(RendezvousConfig config) {
        if (config.rank() == 0) {
            throw new IllegalArgumentException("rendezvous rank 0 is the controller's: rank=0");
        }
        try (Rendezvous store = Rendezvous.join(config)) {
            String endpoint = new String(store.broadcast(ENDPOINT_KEY, new byte[0], 0), StandardCharsets.UTF_8);
            byte[] job = store.broadcast(JOB_KEY, new byte[0], 0);
            store.barrier(ENDPOINT_KEY + ".received");
            return new Published(endpoint, job);
        }
    }

    /**
     * Joins the store as a worker rank and returns the controller's endpoint.
     *
     * @throws IllegalArgumentException if the config's rank is 0 (the controller's)
     * @throws io.yatt.collectives.RendezvousException if the store is not reached within the config's timeout
     */
    public static String lookup(RendezvousConfig config) {
        return lookupJob(config).endpoint();
    }

    /**
     * A rendezvous store served by this process for {@code worldSize} ranks that only connect to it (a launcher's
     * store: the workers of an external launch build their world over it), on an ephemeral port of {@code
     * bindAddress}. Close it once the ranks have met.
     */
    public static final class Store implements AutoCloseable {
        private final TcpStoreServer server;

        private Store(TcpStoreServer server) {
            this.server = server;
        }

        /**
         * Starts the store.
         *
         * @throws IllegalArgumentException if {@code worldSize < 1}
         * @throws io.yatt.collectives.RendezvousException if {@code bindAddress} cannot be bound
         */
        public static Store serve(String bindAddress, int worldSize, String secret) {
            if (worldSize < 1) {
                throw new IllegalArgumentException("worldSize must be positive: worldSize=" + worldSize);
            }
            return new Store(TcpStoreServer.start(bindAddress, 0, worldSize, secret));
        }

        /** The port the store listens on. */
        public int port() {
            return server.port();
        }

        /** Stops serving. */
        @Override
        public void close() {
            server.close();
        }
    }

    /**
     * Joins {@code plane} to the mesh of parallel controllers that run as separate processes: controller {@code i} is
     * rendezvous rank {@code i} of a store of the controllers only (world size = C; rank 0 serves it), every controller
     * contributes its {@link ControlPlane#peer()} (id, pid, host and endpoint, which must be reachable from the
     * others: udp), and each gets every peer in index order, as {@link ControllerMesh#join} takes them.
     *
     * @throws IllegalArgumentException if a gathered peer is malformed, or as {@link ControllerMesh#join}
     * @throws io.yatt.collectives.RendezvousException if not every controller arrives within the config's timeout
     */
    public static ControllerMesh joinMesh(RendezvousConfig config, ControlPlane plane, long timeoutNs) {
        List<ControllerMesh.Peer> peers = new ArrayList<>();
        try (Rendezvous store = Rendezvous.join(config)) {
            ControllerMesh.Peer me = plane.peer();
            byte[] host = me.host().getBytes(StandardCharsets.UTF_8);
            byte[] endpoint = me.endpoint().getBytes(StandardCharsets.UTF_8);
            byte[] mine = ByteBuffer.allocate(PEER_FIXED_BYTES + host.length + endpoint.length)
                    .order(ByteOrder.LITTLE_ENDIAN).putLong(me.controllerId()).putLong(me.pid()).putInt(host.length)
                    .put(host).put(endpoint).array();
            byte[][] all = store.allGather(PEERS_KEY, mine);
            for (int i = 0; i < all.length; i++) {
                peers.add(peer(i, all[i]));
            }
            store.barrier(PEERS_KEY + ".received");
        }
        return ControllerMesh.join(plane, config.rank(), peers, timeoutNs);
    }
}
