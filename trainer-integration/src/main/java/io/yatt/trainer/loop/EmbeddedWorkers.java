package io.yatt.trainer.loop;

import io.yatt.collectives.InProcessWorld;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.Worker;
import io.yatt.controller.WorkerGroup;
import io.yatt.controller.WorkerMethods;
import io.yatt.hybrid.HybridLayout;
import io.yatt.trainer.task.Task;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The embedded launch: one controller ({@link ControlPlane} with its embedded media driver, workers on
 * {@code aeron:ipc}) and one {@link RlhfWorker} per rank as threads of this JVM, each given its in-process
 * communicator (registered with its {@link Worker}, so a lost worker aborts its peers' collectives). Every worker
 * serves every role (colocated); {@link #group(String)} is the driver's {@link WorkerGroup} of a role.
 */
final class EmbeddedWorkers implements AutoCloseable {
    /** Roles every worker registers: all colocated on the same ranks. */
    static final List<String> ROLES = List.of("actor", "rollout", "ref", "critic", "cost_critic", "reward");
    /** The role split placement moves to ranks of its own. */
    static final String ROLLOUT = "rollout";
    /** First worker id; worker {@code r} is {@code WORKER_ID_BASE + r}. */
    static final int WORKER_ID_BASE = 100;
    /** How long forming a group waits for its workers to register. */
    static final long GROUP_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);
    /** Heartbeat timeout: long steps on a loaded two-core machine must not count an embedded worker as lost. */
    static final long HEARTBEAT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);

    private final ControlPlane plane;
    private final InProcessWorld world;
    private final List<RlhfWorker> roles;
    private final List<Worker> workers;
    private final Map<String, WorkerGroup> groups = new LinkedHashMap<>();
    /** Split placement: the trainers' and rollout ranks' world, and the rollout ranks (empty when colocated). */
    private final InProcessWorld syncWorld;
    private final List<SplitRolloutRank> rollouts;

    private EmbeddedWorkers(ControlPlane plane, InProcessWorld world, List<RlhfWorker> roles, List<Worker> workers,
                            InProcessWorld syncWorld, List<SplitRolloutRank> rollouts) {
        this.plane = plane;
        this.world = world;
        this.roles = roles;
        this.workers = workers;
        this.syncWorld = syncWorld;
        this.rollouts = rollouts;
    }

    /**
     * Starts the controller and {@code layout.worldSize()} workers and forms every role's group.
     *
     * @param task the task the workers score with (an object of this JVM)
     */
    static EmbeddedWorkers start(HybridLayout layout, Task task) {
        return start(layout, 0, task);
    }

    /**
     * Starts the controller and the workers and forms every role's group: with {@code rolloutSize > 0} (split
     * placement) the {@code layout.worldSize()} trainers serve every role but {@code rollout}, which
     * {@code rolloutSize} {@link SplitRolloutRank}s serve; the trainers keep their own in-process world for training
     * and share a second one, trainers first, with the rollout ranks for weight sync.
     *
     * @param task the task the workers score with (an object of this JVM)
     */
    static EmbeddedWorkers start(HybridLayout layout, int rolloutSize, Task task) {
        int size = layout.worldSize();
        boolean split = rolloutSize > 0;
        List<String> trainerRoles = split ? ROLES.stream().filter(r -> !r.equals(ROLLOUT)).toList() : ROLES;
        ControlPlane plane = ControlPlane.launch(new ControlPlane.Context().heartbeatTimeoutNs(HEARTBEAT_TIMEOUT_NS));
        InProcessWorld world = null;
        InProcessWorld syncWorld = null;
        List<RlhfWorker> roles = new ArrayList<>(size);
        List<SplitRolloutRank> rollouts = new ArrayList<>(rolloutSize);
        List<Worker> workers = new ArrayList<>(size + rolloutSize);
        EmbeddedWorkers out = null;
        try {
            world = InProcessWorld.create(size);
            syncWorld = split ? InProcessWorld.create(size + rolloutSize) : null;
            for (int rank = 0; rank < size; rank++) {
                RlhfWorker w = split
                        ? RlhfWorker.embeddedSplit(rank, world.communicator(rank), syncWorld.communicator(rank), task)
                        : RlhfWorker.embedded(rank, world.communicator(rank), task);
                roles.add(w);
                workers.add(Worker.start(new Worker.Context().workerId(WORKER_ID_BASE + rank).rank(rank)
                        .roles(trainerRoles).meshes(RlhfWorker.meshes(layout, rank)).allocator(w.allocator())
                        .methods(WorkerMethods.annotated(w, MethodHandles.lookup()))
                        .communicators(split ? List.of(world.communicator(rank), syncWorld.communicator(rank))
                                : List.of(world.communicator(rank)))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            for (int j = 0; j < rolloutSize; j++) {
                SplitRolloutRank r = SplitRolloutRank.create(j, syncWorld.communicator(size + j));
                rollouts.add(r);
                workers.add(Worker.start(new Worker.Context().workerId(WORKER_ID_BASE + size + j).rank(j)
                        .roles(List.of(ROLLOUT)).meshes(SplitRolloutRank.meshes(layout, rolloutSize, j))
                        .allocator(r.allocator()).methods(WorkerMethods.annotated(r, MethodHandles.lookup()))
                        .communicators(List.of(syncWorld.communicator(size + j)))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            out = new EmbeddedWorkers(plane, world, roles, workers, syncWorld, rollouts);
            for (String role : trainerRoles) {
                out.groups.put(role, plane.group(role, size, GROUP_TIMEOUT_NS));
            }
            if (split) {
                out.groups.put(ROLLOUT, plane.group(ROLLOUT, rolloutSize, GROUP_TIMEOUT_NS));
            }
            return out;
        } catch (RuntimeException | Error e) {
            if (out != null) {
                out.close();
            } else {
                closeAll(plane, world, roles, workers, syncWorld, rollouts);
            }
            throw e;
        }
    }

    /** The driver's group of {@code role}. */
    WorkerGroup group(String role) {
        WorkerGroup g = groups.get(role);
        if (g == null) {
            throw new IllegalArgumentException("unknown role: role=" + role + ", roles=" + ROLES);
        }
        return g;
    }

    @Override
    public void close() {
        closeAll(plane, world, roles, workers, syncWorld, rollouts);
    }

    private static void closeAll(ControlPlane plane, InProcessWorld world, List<RlhfWorker> roles,
                                 List<Worker> workers, InProcessWorld syncWorld, List<SplitRolloutRank> rollouts) {
        try {
            for (Worker w : workers) {
                w.close();
            }
        } finally {
            try {
                plane.close();
            } finally {
                try {
                    for (RlhfWorker r : roles) {
                        r.close();
                    }
                    for (SplitRolloutRank r : rollouts) {
                        r.close();
                    }
                } finally {
                    if (world != null) {
                        world.close();
                    }
                    if (syncWorld != null) {
                        syncWorld.close();
                    }
                }
            }
        }
    }
}
