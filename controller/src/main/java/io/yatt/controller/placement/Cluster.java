package io.yatt.controller.placement;

import java.util.Objects;

/**
 * A homogeneous cluster: {@code nodes} machines of {@code gpusPerNode} GPUs of one {@link DeviceProfile}, GPUs
 * inside a node joined by NVLink, nodes by the network. Global GPU {@code g} sits on node {@code g / gpusPerNode}.
 * Immutable and thread-safe.
 *
 * @param nodes machines
 * @param gpusPerNode GPUs per machine
 * @param profile the GPU
 */
public record Cluster(int nodes, int gpusPerNode, DeviceProfile profile) {

    /** GPUs per node when none is given: every profile we ship is an 8-GPU HGX/DGX board. */
    public static final int DEFAULT_GPUS_PER_NODE = 8;

    /**
     * @throws IllegalArgumentException if a count is not positive
     */
    public Cluster {
        Objects.requireNonNull(profile, "profile");
        if (nodes <= 0 || gpusPerNode <= 0) {
            throw new IllegalArgumentException(
                    "cluster sizes must be positive: nodes=" + nodes + ", gpusPerNode=" + gpusPerNode);
        }
    }

    /**
     * The cluster of {@code gpus} GPUs in nodes of {@code gpusPerNode}.
     *
     * @throws IllegalArgumentException if {@code gpus} is not a positive multiple of {@code gpusPerNode}
     */
    public static Cluster of(int gpus, int gpusPerNode, DeviceProfile profile) {
        if (gpusPerNode <= 0) {
            throw new IllegalArgumentException("GPUs per node must be positive: gpusPerNode=" + gpusPerNode);
        }
        if (gpus <= 0 || gpus % gpusPerNode != 0) {
            throw new IllegalArgumentException("GPUs must be a positive multiple of the node size: gpus=" + gpus
                    + ", gpusPerNode=" + gpusPerNode);
        }
        return new Cluster(gpus / gpusPerNode, gpusPerNode, profile);
    }

    /** All GPUs: {@code nodes * gpusPerNode}. */
    public int gpus() {
        return nodes * gpusPerNode;
    }
}
