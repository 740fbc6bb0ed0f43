package io.yatt.controller;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.rendezvous.Rendezvous;
import java.nio.charset.StandardCharsets;

/**
 * The controller's endpoint through the collectives' rendezvous store, for jobs launched by torchrun, Slurm or Open
 * MPI ({@link RendezvousConfig#fromEnvironment}): the controller is rendezvous rank 0 (it serves the store), the
 * workers ranks 1 to world size - 1 (worker rank = rendezvous rank - 1). Stateless.
 */
public final class ControllerRendezvous {

    /** The store key the endpoint is broadcast under. */
    public static final String ENDPOINT_KEY = "yatt.controller.endpoint";

    private ControllerRendezvous() {
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
}
