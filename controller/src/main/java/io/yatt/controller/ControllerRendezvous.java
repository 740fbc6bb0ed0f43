package io.yatt.controller;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.rendezvous.Rendezvous;
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
        if (config.rank() != 0) {
            throw new IllegalArgumentException("the controller publishes as rendezvous rank 0: rank=" + config.rank());
        }
        try (Rendezvous store = Rendezvous.join(config)) {
            store.broadcast(ENDPOINT_KEY, plane.endpoint().getBytes(StandardCharsets.UTF_8), 0);
            store.barrier(ENDPOINT_KEY + ".received");
        }
    }

    /**
     * Joins the store as a worker rank and returns the controller's endpoint.
     *
     * @throws IllegalArgumentException if the config's rank is 0 (the controller's)
     * @throws io.yatt.collectives.RendezvousException if the store is not reached within the config's timeout
     */
    public static String lookup(RendezvousConfig config) {
        if (config.rank() == 0) {
            throw new IllegalArgumentException("rendezvous rank 0 is the controller's: rank=0");
        }
        try (Rendezvous store = Rendezvous.join(config)) {
            String endpoint = new String(store.broadcast(ENDPOINT_KEY, new byte[0], 0), StandardCharsets.UTF_8);
            store.barrier(ENDPOINT_KEY + ".received");
            return endpoint;
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
