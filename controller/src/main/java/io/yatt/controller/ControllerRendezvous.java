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
 * The controllers' endpoints through the collectives' rendezvous store, for jobs launched by torchrun, Slurm or Open
 * MPI ({@link RendezvousConfig#fromEnvironment}): the C controllers are rendezvous ranks 0 to C - 1 (rank 0 serves the
 * store), the workers ranks C to world size - 1 (worker rank = rendezvous rank - C). Parallel controllers that run as separate
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
        publish(config, 1, plane, job);
    }

    /**
     * Controller {@code config.rank()} of {@code controllers} publishes its endpoint to the workers of a launch whose
     * first {@code controllers} rendezvous ranks are controllers and the rest workers (rank 0 serves the store):
     * every controller's {@link ControlPlane#peer()} is all-gathered over the whole store (the workers give nothing),
     * controller 0 broadcasts {@code job} under {@link #JOB_KEY} (the others' {@code job} is ignored), and this
     * returns, once every rank has both, the controllers' peers in index order, as {@link ControllerMesh#join} takes
     * them. A worker reads them with {@link #lookupJob}.
     *
     * @throws IllegalArgumentException if {@code controllers} is not in {@code [1, worldSize - 1]}, the config's rank
     *     is not a controller's, or a rank's contribution does not match its place (a worker that sent a peer, a
     *     controller that sent none), naming it
     * @throws io.yatt.collectives.RendezvousException if not every rank arrives within the config's timeout (its
     *     {@code missingRanks} are the rendezvous ranks that did not)
     */
    public static List<ControllerMesh.Peer> publish(RendezvousConfig config, int controllers, ControlPlane plane,
                                                    byte[] job) {
        return publish(config, controllers, plane, job, false);
    }

    private static List<ControllerMesh.Peer> publish(RendezvousConfig config, int controllers, ControlPlane plane,
                                                     byte[] job, boolean served) {
        if (controllers < 1 || controllers >= config.worldSize()) {
            throw new IllegalArgumentException("controllers must leave a worker rank: controllers=" + controllers
                    + ", worldSize=" + config.worldSize());
        }
        if (config.rank() >= controllers) {
            throw new IllegalArgumentException("rendezvous rank is a worker's, not a controller's: rank="
                    + config.rank() + ", controllers=" + controllers);
        }
        try (Rendezvous store = served ? Rendezvous.connect(config) : Rendezvous.join(config)) {
            byte[][] all = store.allGather(ENDPOINT_KEY, peerBytes(plane.peer()));
            store.broadcast(JOB_KEY, config.rank() == 0 ? job.clone() : new byte[0], 0);
            store.barrier(ENDPOINT_KEY + ".received");
            List<ControllerMesh.Peer> peers = controllerPeers(all);
            if (peers.size() != controllers) {
                throw new IllegalArgumentException("rendezvous ranks disagree on the controllers: expected="
                        + controllers + ", found=" + peers.size() + " (the first ranks of the launch, in order)");
            }
            return peers;
        }
    }

    /**
     * What a worker finds in the store: the controllers' endpoints in index order and the job description controller
     * 0 published (empty when it published none).
     *
     * @param endpoints the controllers' channels, controller 0 first
     * @param job the job description's bytes
     */
    public record Published(List<String> endpoints, byte[] job) {
        /** Copies the list. */
        public Published {
            endpoints = List.copyOf(endpoints);
        }

        /** Controller 0's channel (the only one of a single-controller launch). */
        public String endpoint() {
            return endpoints.getFirst();
        }
    }

    /**
     * Joins the store as a worker rank and returns the controllers' endpoints and the job description.
     *
     * @throws IllegalArgumentException if the config's rank is 0 (a controller's), or the controllers' contributions
     *     are not a prefix of the ranks that holds this one
     * @throws io.yatt.collectives.RendezvousException if the store is not reached within the config's timeout
     */
    public static Published lookupJob(RendezvousConfig config) {
        if (config.rank() == 0) {
            throw new IllegalArgumentException("rendezvous rank 0 is the controller's: rank=0");
        }
        try (Rendezvous store = Rendezvous.join(config)) {
            byte[][] all = store.allGather(ENDPOINT_KEY, new byte[0]);
            byte[] job = store.broadcast(JOB_KEY, new byte[0], 0);
            store.barrier(ENDPOINT_KEY + ".received");
            List<ControllerMesh.Peer> peers = controllerPeers(all);
            if (config.rank() < peers.size()) {
                throw new IllegalArgumentException("rendezvous rank is a controller's, not a worker's: rank="
                        + config.rank() + ", controllers=" + peers.size());
            }
            return new Published(peers.stream().map(ControllerMesh.Peer::endpoint).toList(), job);
        }
    }

    /**
     * Joins the store as a worker rank and returns controller 0's endpoint.
     *
     * @throws IllegalArgumentException if the config's rank is 0 (the controller's)
     * @throws io.yatt.collectives.RendezvousException if the store is not reached within the config's timeout
     */
    public static String lookup(RendezvousConfig config) {
        return lookupJob(config).endpoint();
    }

    /** The controllers' peers of a gather: the non-empty contributions, which must be the first ranks. */
    private static List<ControllerMesh.Peer> controllerPeers(byte[][] all) {
        List<ControllerMesh.Peer> peers = new ArrayList<>();
        for (int r = 0; r < all.length; r++) {
            if (all[r].length == 0) {
                continue;
            }
            if (r != peers.size()) {
                throw new IllegalArgumentException("a controller's peer from a worker rank: rank=" + r
                        + ", controllers before it=" + peers.size() + " (controllers are the first ranks)");
            }
            peers.add(peer(r, all[r]));
        }
        if (peers.isEmpty()) {
            throw new IllegalArgumentException("no controller in the rendezvous: worldSize=" + all.length
                    + " (rank 0 must run the controller)");
        }
        return peers;
    }

    /** A peer's bytes: id, pid, host length, host (UTF-8), endpoint (UTF-8), little-endian. */
    private static byte[] peerBytes(ControllerMesh.Peer me) {
        byte[] host = me.host().getBytes(StandardCharsets.UTF_8);
        byte[] endpoint = me.endpoint().getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(PEER_FIXED_BYTES + host.length + endpoint.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(me.controllerId()).putLong(me.pid()).putInt(host.length).put(host).put(endpoint).array();
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

        /**
         * As {@link ControllerRendezvous#publish(RendezvousConfig, int, ControlPlane, byte[])} through this store,
         * served by the launcher (rank 0 connects like every other rank instead of serving one): closing the store
         * fails the ranks still waiting in it at once, so a launcher that sees one of its processes exit need not
         * wait out the config's timeout. {@code config} must name this store's port.
         *
         * @throws IllegalArgumentException if {@code config.masterPort()} is not this store's port, or as {@code
         *     publish}
         * @throws io.yatt.collectives.RendezvousException as {@code publish}, or once the store is closed
         */
        public List<ControllerMesh.Peer> publish(RendezvousConfig config, int controllers, ControlPlane plane,
                                                 byte[] job) {
            if (config.masterPort() != server.port()) {
                throw new IllegalArgumentException("rendezvous config names another store: masterPort="
                        + config.masterPort() + ", store port=" + server.port());
            }
            return ControllerRendezvous.publish(config, controllers, plane, job, true);
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
            byte[][] all = store.allGather(PEERS_KEY, peerBytes(plane.peer()));
            for (int i = 0; i < all.length; i++) {
                peers.add(peer(i, all[i]));
            }
            store.barrier(PEERS_KEY + ".received");
        }
        return ControllerMesh.join(plane, config.rank(), peers, timeoutNs);
    }
}
