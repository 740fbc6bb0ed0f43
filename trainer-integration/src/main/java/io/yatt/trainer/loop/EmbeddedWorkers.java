package io.yatt.trainer.loop;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.InProcessWorld;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ControllerMesh;
import io.yatt.controller.ParallelControllers;
import io.yatt.controller.TensorRef;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The embedded launch: C controllers ({@link ControlPlane}s with their own embedded media drivers; one controller
 * talks to its workers over {@code aeron:ipc}, several over udp loopback and meet in a {@link ControllerMesh}) and one
 * {@link RlhfWorker} per rank as threads of this JVM, each given its in-process communicator (registered with its
 * {@link Worker}, as are the group communicators the worker's init makes, so a lost worker aborts its peers'
 * collectives). Controller {@code i} gets the workers of training
 * DP slice {@code i} (ParallelControllers). Every worker serves every role (colocated); each controller holds one
 * {@link WorkerGroup} per role over its workers.
 */
final class EmbeddedWorkers implements AutoCloseable {
    /** Roles every worker registers: all colocated on the same ranks. */
    static final List<String> ROLES = List.of("actor", "rollout", "ref", "critic", "cost_critic", "reward");
    /** The role split placement moves to ranks of its own. */
    static final String ROLLOUT = "rollout";
    /** Auto placement: the trainers' colocated rollout, served beside the rollout ranks' {@link #ROLLOUT}. */
    static final String ROLLOUT_COLOCATED = "rollout_colocated";
    /** First worker id; worker {@code r} is {@code WORKER_ID_BASE + r}. */
    static final int WORKER_ID_BASE = 100;
    /** How long forming a group waits for its workers to register. */
    static final long GROUP_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);
    /** Heartbeat timeout: long steps on a loaded two-core machine must not count an embedded worker as lost. */
    static final long HEARTBEAT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);
    /** How long a controller waits for the others at a step barrier or reduction. */
    static final long MESH_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(300);

    /** One controller: its plane, its mesh link (null for a single controller) and its role groups. */
    static final class Controller {
        final ControlPlane plane;
        ControllerMesh mesh;
        final Map<String, WorkerGroup> groups = new LinkedHashMap<>();

        Controller(ControlPlane plane) {
            this.plane = plane;
        }

        /** The group of {@code role} over this controller's workers. */
        WorkerGroup group(String role) {
            WorkerGroup g = groups.get(role);
            if (g == null) {
                throw new IllegalArgumentException("unknown role: role=" + role + ", roles=" + ROLES);
            }
            return g;
        }

        /** How this controller shares per-sample quantities with the others. */
        Exchange exchange() {
            return mesh == null ? Exchange.single() : Exchange.over(mesh);
        }
    }

    private final List<Controller> controllers = new ArrayList<>();
    private final List<RlhfWorker> roles = new ArrayList<>();
    private final List<Worker> workers = new ArrayList<>();
    /** Every communicator the workers use (world and the groups their init makes), for {@link #abort()}. */
    private final List<Communicator> communicators = new CopyOnWriteArrayList<>();
    private InProcessWorld world;
    /** Split placement: the trainers' and rollout ranks' world, and the rollout ranks (empty when colocated). */
    private InProcessWorld syncWorld;
    private final List<SplitRolloutRank> rollouts = new ArrayList<>();

    private EmbeddedWorkers() {
    }

    /**
     * Starts {@code controllers} controllers and {@code layout.worldSize()} workers and forms every role's group.
     *
     * @param task the task the workers score with (an object of this JVM)
     * @throws IllegalArgumentException if the controllers do not divide the training DP size, or a controller's
     *     generation replicas are not one contiguous block of the replicas
     */
    static EmbeddedWorkers start(HybridLayout layout, Task task, int controllers) {
        return start(layout, task, controllers, 0);
    }

    /**
     * As {@link #start(HybridLayout, Task, int)}; with {@code rolloutSize > 0} (split placement, one controller) the
     * {@code layout.worldSize()} trainers serve every role but {@code rollout}, which {@code rolloutSize}
     * {@link SplitRolloutRank}s serve; the trainers keep their own in-process world for training and share a second
     * one, trainers first, with the rollout ranks for weight sync.
     *
     * @throws IllegalArgumentException also if a split placement asks for more than one controller
     */
    static EmbeddedWorkers start(HybridLayout layout, Task task, int controllers, int rolloutSize) {
        return start(layout, task, controllers, rolloutSize, false);
    }

    /**
     * As {@link #start(HybridLayout, Task, int, int)}; with {@code auto} (auto placement, {@code rolloutSize > 0})
     * the trainers also serve {@link #ROLLOUT_COLOCATED}, the colocated rollout, so the driver can pick either
     * placement for each step.
     */
    static EmbeddedWorkers start(HybridLayout layout, Task task, int controllers, int rolloutSize, boolean auto) {
        return start(layout, task, controllers, rolloutSize, auto, TensorRef.DEFAULT_INLINE_LIMIT_BYTES);
    }

    /**
     * As {@link #start(HybridLayout, Task, int, int, boolean)}, every worker sending result tensors above
     * {@code inlineLimitBytes} as references ({@code trainer.inline_limit_bytes}).
     *
     * @throws IllegalArgumentException also if {@code inlineLimitBytes} is negative
     */
    static EmbeddedWorkers start(HybridLayout layout, Task task, int controllers, int rolloutSize, boolean auto,
                                 long inlineLimitBytes) {
        if (inlineLimitBytes < 0) {
            throw new IllegalArgumentException("inline limit must be non-negative: trainer.inline_limit_bytes="
                    + inlineLimitBytes);
        }
        boolean split = rolloutSize > 0;
        if (split && controllers != 1) {
            throw new IllegalArgumentException("split placement runs with one controller: trainer.controllers="
                    + controllers + ", placement.rollout_world_size=" + rolloutSize);
        }
        List<String> trainerRoles = split ? ROLES.stream().map(r -> r.equals(ROLLOUT) ? ROLLOUT_COLOCATED : r)
                .filter(r -> auto || !r.equals(ROLLOUT_COLOCATED)).toList() : ROLES;
        int size = layout.worldSize();
        ParallelControllers pc = ParallelControllers.of(controllers, layout.train().d());
        EmbeddedWorkers out = new EmbeddedWorkers();
        try {
            for (int i = 0; i < controllers; i++) {
                // the controller's arguments follow the same inline limit as the workers' results
                ControlPlane.Context ctx = new ControlPlane.Context().heartbeatTimeoutNs(HEARTBEAT_TIMEOUT_NS)
                        .inlineLimitBytes(inlineLimitBytes);
                if (controllers > 1) {
                    ctx.udp("127.0.0.1", 0).jobName("rlhf-controller-" + i);
                }
                out.controllers.add(new Controller(ControlPlane.launch(ctx)));
            }
            if (controllers > 1) {
                List<ControllerMesh.Peer> peers = out.controllers.stream().map(c -> c.plane.peer()).toList();
                for (int i = 0; i < controllers; i++) {
                    Controller c = out.controllers.get(i);
                    c.mesh = ControllerMesh.join(c.plane, i, peers, MESH_TIMEOUT_NS);
                }
            }
            out.world = InProcessWorld.create(size);
            out.syncWorld = split ? InProcessWorld.create(size + rolloutSize) : null;
            out.communicators.addAll(out.world.communicators());
            if (out.syncWorld != null) {
                out.communicators.addAll(out.syncWorld.communicators());
            }
            int[] localRank = new int[controllers];
            for (int rank = 0; rank < size; rank++) {
                int ci = pc.controllerOf(layout.coordinates(rank).dp());
                Controller c = out.controllers.get(ci);
                AtomicReference<Worker> self = new AtomicReference<>();
                Consumer<Communicator> registrar = comm -> {
                    out.communicators.add(comm);
                    self.get().registerCommunicator(comm);
                };
                RlhfWorker w = split
                        ? RlhfWorker.embeddedSplit(rank, out.world.communicator(rank),
                                out.syncWorld.communicator(rank), task, registrar)
                        : RlhfWorker.embedded(rank, out.world.communicator(rank), task, registrar);
                out.roles.add(w);
                self.set(Worker.start(new Worker.Context().workerId(WORKER_ID_BASE + rank)
                        .inlineLimitBytes(inlineLimitBytes)
                        .rank(localRank[ci]++).roles(trainerRoles).meshes(RlhfWorker.meshes(layout, rank, ci, controllers))
                        .allocator(w.allocator()).methods(WorkerMethods.annotated(w, MethodHandles.lookup()))
                        .communicators(split ? List.of(out.world.communicator(rank), out.syncWorld.communicator(rank))
                                : List.of(out.world.communicator(rank)))
                        .controller(c.plane.endpoint()).externalDriverDirectory(c.plane.driverDirectory())));
                out.workers.add(self.get());
            }
            for (int j = 0; j < rolloutSize; j++) {
                SplitRolloutRank r = SplitRolloutRank.create(j, out.syncWorld.communicator(size + j), task);
                out.rollouts.add(r);
                ControlPlane plane = out.controllers.getFirst().plane;
                out.workers.add(Worker.start(new Worker.Context().workerId(WORKER_ID_BASE + size + j).rank(j)
                        .inlineLimitBytes(inlineLimitBytes)
                        .roles(List.of(ROLLOUT)).meshes(SplitRolloutRank.meshes(layout, rolloutSize, j))
                        .allocator(r.allocator()).methods(WorkerMethods.annotated(r, MethodHandles.lookup()))
                        .communicators(List.of(out.syncWorld.communicator(size + j)))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            for (Controller c : out.controllers) {
                for (String role : trainerRoles) {
                    c.groups.put(role, c.plane.group(role, size / controllers, GROUP_TIMEOUT_NS));
                }
                if (split) {
                    c.groups.put(ROLLOUT, c.plane.group(ROLLOUT, rolloutSize, GROUP_TIMEOUT_NS));
                }
            }
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /** The controllers, in index order. */
    List<Controller> controllers() {
        return controllers;
    }

    /**
     * Aborts every worker communicator (the world's and the groups' their init made), so a worker waiting in a
     * collective for a peer of a failed controller fails at once. Idempotent; any thread.
     */
    void abort() {
        for (Communicator c : communicators) {
            c.abort();
        }
    }

    @Override
    public void close() {
        try {
            for (Worker w : workers) {
                w.close();
            }
        } finally {
            try {
                for (Controller c : controllers) {
                    if (c.mesh != null) {
                        c.mesh.close();
                    }
                    c.plane.close();
                }
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
