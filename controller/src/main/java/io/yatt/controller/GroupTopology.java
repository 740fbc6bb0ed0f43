package io.yatt.controller;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The workers of one group as a dispatch mode sees them: worker {@code i} is {@code workers().get(i)}, with the mesh
 * registrations it announced at start-up.
 *
 * @param workers the group's workers in rank order, {@code workers().get(i).rank() == i}
 */
public record GroupTopology(List<WorkerInfo> workers) {

    /**
     * @throws IllegalArgumentException if the list is empty or a worker's rank is not its index
     */
    public GroupTopology {
        workers = List.copyOf(Objects.requireNonNull(workers, "workers"));
        if (workers.isEmpty()) {
            throw new IllegalArgumentException("a worker group needs at least one worker: workers=[]");
        }
        for (int i = 0; i < workers.size(); i++) {
            if (workers.get(i).rank() != i) {
                throw new IllegalArgumentException("worker rank must equal its index: index=" + i + ", rank="
                        + workers.get(i).rank());
            }
        }
    }

    /** Number of workers. */
    public int size() {
        return workers.size();
    }

    /**
     * A worker's place in a named mesh (for example the actor's training DP mesh).
     *
     * @param dpRank   the DP rank this worker belongs to in the mesh
     * @param dpSize   the number of DP ranks of the mesh
     * @param collect  whether results are taken from this worker (one collect worker per DP rank)
     */
    public record MeshRank(int dpRank, int dpSize, boolean collect) {

        /** @throws IllegalArgumentException if dpRank is outside {@code [0, dpSize)} */
        public MeshRank {
            if (dpSize < 1 || dpRank < 0 || dpRank >= dpSize) {
                throw new IllegalArgumentException("mesh DP rank out of range: dpRank=" + dpRank + ", dpSize="
                        + dpSize);
            }
        }
    }

    /**
     * One worker: its rank in the group and its registrations per mesh name.
     *
     * @param rank   rank in the group
     * @param meshes mesh name to this worker's place in it
     */
    public record WorkerInfo(int rank, Map<String, MeshRank> meshes) {

        /** @throws IllegalArgumentException if rank is negative */
        public WorkerInfo {
            if (rank < 0) {
                throw new IllegalArgumentException("worker rank must be non-negative: rank=" + rank);
            }
            meshes = Map.copyOf(Objects.requireNonNull(meshes, "meshes"));
        }
    }
}
