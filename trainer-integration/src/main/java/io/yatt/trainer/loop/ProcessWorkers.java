package io.yatt.trainer.loop;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.RendezvousException;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.ControllerRendezvous;
import io.yatt.controller.ControllerMesh;
import io.yatt.controller.GroupTopology;
import io.yatt.controller.ParallelControllers;
import io.yatt.hybrid.HybridLayout;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.launch.ExternalJob;
import io.yatt.trainer.launch.JvmExitedException;
import io.yatt.trainer.launch.LocalLaunch;
import io.yatt.trainer.launch.TrainerWorkers;
import io.yatt.trainer.launch.WorkerJvms;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The launch of {@code trainer.backend=shm}: one {@code yatt worker --kind rlhf} JVM per rank, the world of all ranks
 * over shared memory, and C controllers. Each JVM registers every colocated role ({@link EmbeddedWorkers#ROLES}) and
 * its mesh ranks with the controller of its training DP slice; the task is built by each worker from the config
 * ({@link RlhfWorker#init}). With one controller ({@link #start}, C = 1) it is this JVM's and the workers are one
 * {@link WorkerJvms} launch; with C > 1 controllers 1 to C - 1 are {@code yatt train} JVMs too, started with the
 * workers by a {@link LocalLaunch}, and this JVM is controller 0 of what is then an external launch ({@link
 * #external}) whose launcher it is. Either way the ranks share one shm job (one rendezvous, one set of files removed
 * on close).
 */
final class ProcessWorkers implements AutoCloseable {
    /**
     * Heartbeat timeout of the controllers: a worker JVM's heartbeats come from its own transport thread, so a lost
     * one is named within seconds while long steps on a loaded machine still do not count as a loss.
     */
    static final long HEARTBEAT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);
    /** A worker's wait for the controller's verdict after a collective lost a peer: above the heartbeat timeout. */
    static final long PEER_LOSS_WAIT_NS = TimeUnit.SECONDS.toNanos(20);

    /**
     * How long, after a run, the processes of a local launch with C > 1 get to end by themselves (controllers 1 to C -
     * 1 finish their last step's work and shut their workers down) before they are stopped and named.
     */
    static final long LOCAL_EXIT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);
    /** The rendezvous timeout of a local launch with C > 1: every JVM starts within it (as {@link WorkerJvms}). */
    static final long LOCAL_RENDEZVOUS_TIMEOUT_NS = WorkerJvms.DEFAULT_REGISTRATION_TIMEOUT_NS;
    /** The file controllers 1 to C - 1 of a local launch read the run's config from, in the loop's scratch folder. */
    static final String CONTROLLER_CONFIG_FILE = "controller-config.yaml";

    private final List<EmbeddedWorkers.Controller> controllers = new ArrayList<>();
    private WorkerJvms jvms;
    /** The controller and worker JVMs of a local launch with C > 1 (started by this JVM, controller 0). */
    private LocalLaunch local;
    /** Set by {@link #abort()}: the run failed, so {@link #close()} stops the local launch's processes at once. */
    private volatile boolean aborted;
    /**
     * The first JVM of a local launch with C > 1 that exited with an error, when no controller of this process can
     * name it (a worker of another controller): the run's cause ({@link #jobFailure()}).
     */
    private volatile JvmExitedException jobFailure;
    /** The store of the workers' shm world, served while they join it ({@code launch=external} only). */
    private ControllerRendezvous.Store worldStore;

    private ProcessWorkers() {
    }

    /**
     * Job name of controller {@code index} of a run in the JVM {@code pid}: its Aeron directory is Aeron's default
     * directory plus {@code -yatt-<jobName>-<random id>}, removed when the run ends.
     */
    static String jobName(long pid, int index) {
        return "rlhf-" + pid + "-controller-" + index;
    }

    /** Where the workers' logs go: {@code <runs_dir>/<experiment_name>/workers}, the run folder's. */
    static Path logDirectory(TrainConfig config) {
        return Path.of(config.trainer().runsDir(), config.trainer().experimentName())
                .resolve(TrainerWorkers.LOG_FOLDER);
    }

    /**
     * The launch of {@code trainer.launch=local}: {@code config}'s {@code trainer.controllers} controllers and {@code
     * parallel.world_size} worker JVMs, every role's group formed. With C = 1 the controller is this JVM's ({@link
     * #start}); with C > 1 this JVM starts controllers 1 to C - 1 as {@code yatt train} JVMs (the config, written to
     * {@value #CONTROLLER_CONFIG_FILE} in {@code scratch} with {@code trainer.launch=external}, and {@code
     * policyDir} as their starting policy) and the workers with torchrun's variables, and runs controller 0 of that launch ({@link
     * #external}); the logs of all go to {@link #logDirectory}.
     *
     * @throws IllegalArgumentException as {@link #start} or {@link #external}
     * @throws IllegalStateException if a JVM fails during startup (naming it, its exit code and the tail of its
     *     standard error) or does not join in time
     */
    static ProcessWorkers local(TrainConfig config, Path policyDir, Path scratch) {
        HybridLayout layout = config.parallel().layout();
        int controllers = config.trainer().controllers();
        long inlineLimitBytes = config.trainer().inlineLimitBytes();
        List<String> jvmOptions = config.trainer().jvmOptionList();
        if (controllers == 1) {
            return start(layout, logDirectory(config), inlineLimitBytes, jvmOptions);
        }
        // checked before any process starts, as the external launch checks it
        ParallelControllers pc = ParallelControllers.of(controllers, layout.train().d());
        Path configFile = scratch.resolve(CONTROLLER_CONFIG_FILE);
        try {
            Files.writeString(configFile, config.withOverrides(List.of("trainer.launch=external")).toYaml(),
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the controllers' config: path=" + configFile, e);
        }
        LocalLaunch launch = LocalLaunch.start(controllers, layout.worldSize(), List.of("--config",
                configFile.toString(), "--sft-checkpoint", policyDir.toString()), rank -> List.of("--kind", "rlhf",
                "--worker-id", Integer.toString(EmbeddedWorkers.WORKER_ID_BASE + rank)), logDirectory(config),
                LOCAL_RENDEZVOUS_TIMEOUT_NS, new WorkerJvms.Context().jvmFlags(jvmOptions));
        try {
            ProcessWorkers out = launch.watch(() -> external(layout, launch.rendezvous(), launch.store(), controllers,
                    RendezvousConfig.DEFAULT_MASTER_ADDR, launch.controllerSecret(), inlineLimitBytes,
                    launch.worldJobId()));
            out.local = launch;
            out.reportFailedExits(pc, layout, Thread.currentThread());
            return out;
        } catch (RuntimeException | Error e) {
            closeAfter(launch::close, e);
            throw e;
        }
    }

    /**
     * Tells controller 0 (this JVM's, driven by {@code driver}) at once when a JVM of the local launch exits with an
     * error: its own worker is lost at the plane's next liveness check, a controller at the mesh's; the first JVM to
     * fail, if it is a worker of another controller (which only that controller could name, after its heartbeat
     * timeout), becomes the run's cause ({@link #jobFailure()}): the calls in flight are aborted and {@code driver}
     * interrupted, so the run stops now instead of when its collectives give up on the dead peer.
     */
    private void reportFailedExits(ParallelControllers pc, HybridLayout layout, Thread driver) {
        EmbeddedWorkers.Controller first = controllers.getFirst();
        AtomicBoolean seen = new AtomicBoolean();
        local.onFailedExit(exit -> {
            boolean firstFailure = seen.compareAndSet(false, true);
            if (exit.controller()) {
                first.mesh.processExited(exit.pid());
            } else if (pc.controllerOf(layout.coordinates(exit.index()).dp()) == 0) {
                first.plane.processExited(exit.pid());
            } else if (firstFailure) {
                jobFailure = new JvmExitedException(exit.description(), exit.pid());
                // the interrupt before the abort: whatever the abort makes fail then finds it set, and clears it
                driver.interrupt();
                abort();
            }
        });
    }

    /**
     * The run's cause when a JVM of the local launch that no controller here could name exited first (see {@link
     * #reportFailedExits}), else null: a run that failed after it reports it instead of the symptom.
     */
    JvmExitedException jobFailure() {
        return jobFailure;
    }

    /**
     * Starts one controller in this JVM and {@code layout.worldSize()} worker JVMs (with {@code jvmOptions} after the
     * project's flags) and forms every role's group.
     *
     * @throws IllegalStateException if a worker JVM fails during startup or does not register in time
     */
    static ProcessWorkers start(HybridLayout layout, Path logDirectory, long inlineLimitBytes,
                                List<String> jvmOptions) {
        int size = layout.worldSize();
        ProcessWorkers out = new ProcessWorkers();
        try {
            ControlPlane.Context ctx = new ControlPlane.Context().heartbeatTimeoutNs(HEARTBEAT_TIMEOUT_NS)
                    .jobName(jobName(ProcessHandle.current().pid(), 0)).inlineLimitBytes(inlineLimitBytes);
            EmbeddedWorkers.Controller controller = new EmbeddedWorkers.Controller(ControlPlane.launch(ctx));
            out.controllers.add(controller);
            out.jvms = WorkerJvms.start(controller.plane, new WorkerJvms.Context().kind("rlhf")
                    .roles(EmbeddedWorkers.ROLES).count(size).world(WorkerJvms.World.SHM)
                    .workerIdBase(EmbeddedWorkers.WORKER_ID_BASE).peerLossWaitNs(PEER_LOSS_WAIT_NS)
                    .logDirectory(logDirectory).jvmFlags(jvmOptions)
                    .rankArguments(rank -> workerArguments(RlhfWorker.meshes(layout, rank), inlineLimitBytes)));
            for (String role : EmbeddedWorkers.ROLES) {
                controller.groups.put(role, controller.plane.group(role, size, EmbeddedWorkers.GROUP_TIMEOUT_NS));
            }
            return out;
        } catch (RuntimeException | Error e) {
            closeAfter(out::close, e);
            throw e;
        }
    }

    /** {@code yatt worker} arguments of one rank: its mesh registrations and the inline limit of its results. */
    static List<String> workerArguments(Map<String, GroupTopology.MeshRank> meshes, long inlineLimitBytes) {
        List<String> args = meshArguments(meshes);
        args.add("--inline-limit-bytes");
        args.add(Long.toString(inlineLimitBytes));
        return args;
    }

    /**
     * The launch of {@code trainer.launch=external}, in controller {@code rendezvous.rank()} of {@code controllers}:
     * the first {@code controllers} rendezvous ranks are {@code yatt train} controllers (rank 0 serves the store), the
     * other {@code layout.worldSize()} ranks {@code yatt worker --kind rlhf} processes started by the cluster's launcher
     * (worker rank = rendezvous rank - C). This controller's control plane binds udp on {@code controlHost} (with
     * {@code secret} when given; arguments above {@code inlineLimitBytes} go by reference); controller 0 also serves a second store for the workers' shm world and publishes an
     * {@link ExternalJob} (world store port, shm job id, each rank's meshes relative to its controller and its
     * controller, which is that of its training DP slice as with {@link #start}); every controller publishes its
     * endpoint through the rendezvous, joins the others in a {@link ControllerMesh} (C > 1) and returns once its
     * roles' groups over its {@code worldSize / C} workers are complete. The rest is as {@link #start}, with this one
     * controller.
     *
     * @throws IllegalArgumentException if {@code controlHost} is not loopback and there is no secret, the rendezvous
     *     rank is not a controller's, the rendezvous world size is not the layout's world size + C, or the controllers
     *     do not divide the training DP size
     * @throws IllegalStateException if a worker does not join the rendezvous within its timeout (naming the missing
     *     worker ranks) or does not register in time
     */
    static ProcessWorkers external(HybridLayout layout, RendezvousConfig rendezvous, int controllers,
                                   String controlHost, String secret, long inlineLimitBytes) {
        byte[] nonce = new byte[4];
        new SecureRandom().nextBytes(nonce);
        return external(layout, rendezvous, null, controllers, controlHost, secret, inlineLimitBytes,
                "x" + ProcessHandle.current().pid() + "." + HexFormat.of().formatHex(nonce));
    }

    /**
     * As {@link #external(HybridLayout, RendezvousConfig, int, String, String, long)}, publishing through {@code
     * store} when a launcher in this JVM serves it (null: rank 0 serves the rendezvous), the workers' shm world named
     * {@code worldJobId}.
     */
    private static ProcessWorkers external(HybridLayout layout, RendezvousConfig rendezvous,
                                           ControllerRendezvous.Store store, int controllers, String controlHost,
                                           String secret, long inlineLimitBytes, String worldJobId) {
        if ((secret == null || secret.isEmpty()) && !RendezvousConfig.isLoopback(controlHost)) {
            throw new IllegalArgumentException("controller secret required: trainer.control_host=" + controlHost
                    + " is not loopback; set " + WorkerJvms.ENV_CONTROLLER_SECRET);
        }
        int size = layout.worldSize();
        int index = rendezvous.rank();
        if (index >= controllers) {
            throw new IllegalArgumentException("trainer.launch=external runs the controllers as rendezvous ranks 0 to "
                    + (controllers - 1) + ": rank=" + index + " (start yatt worker on the other ranks)");
        }
        if (rendezvous.worldSize() != size + controllers) {
            throw new IllegalArgumentException("trainer.launch=external needs trainer.controllers controllers and "
                    + "parallel.world_size workers: rendezvous worldSize=" + rendezvous.worldSize() + ", expected "
                    + (size + controllers) + " (parallel.world_size=" + size + ", plus ranks 0 to " + (controllers - 1)
                    + ", the controllers)");
        }
        ParallelControllers pc = ParallelControllers.of(controllers, layout.train().d());
        List<List<String>> meshes = new ArrayList<>();
        List<Integer> controllerOf = new ArrayList<>();
        for (int rank = 0; rank < size; rank++) {
            int c = pc.controllerOf(layout.coordinates(rank).dp());
            controllerOf.add(c);
            List<String> args = meshArguments(RlhfWorker.meshes(layout, rank, c, controllers));
            List<String> values = new ArrayList<>();
            for (int i = 1; i < args.size(); i += 2) {
                values.add(args.get(i));
            }
            meshes.add(values);
        }
        ProcessWorkers out = new ProcessWorkers();
        try {
            ControlPlane.Context ctx = new ControlPlane.Context().heartbeatTimeoutNs(HEARTBEAT_TIMEOUT_NS)
                    .jobName(jobName(ProcessHandle.current().pid(), index)).udp(controlHost, 0)
                    .inlineLimitBytes(inlineLimitBytes);
            if (secret != null && !secret.isEmpty()) {
                ctx.sharedSecret(secret.getBytes(StandardCharsets.UTF_8));
            }
            EmbeddedWorkers.Controller controller = new EmbeddedWorkers.Controller(ControlPlane.launch(ctx));
            out.controllers.add(controller);
            byte[] job = new byte[0];
            if (index == 0) {
                out.worldStore = ControllerRendezvous.Store.serve(rendezvous.bindAddress(), size, rendezvous.secret());
                job = new ExternalJob(out.worldStore.port(), worldJobId, EmbeddedWorkers.ROLES,
                        TimeUnit.NANOSECONDS.toMillis(PEER_LOSS_WAIT_NS), meshes, controllerOf)
                        .encode();
            }
            List<ControllerMesh.Peer> peers;
            try {
                peers = store != null ? store.publish(rendezvous, controllers, controller.plane, job)
                        : ControllerRendezvous.publish(rendezvous, controllers, controller.plane, job);
            } catch (RendezvousException e) {
                List<Integer> missing = e.missingRanks().stream().filter(r -> r >= controllers)
                        .map(r -> r - controllers).toList();
                throw new IllegalStateException("workers did not join the rendezvous: missingWorkerRanks=" + missing
                        + ", workers=" + size + ", master=" + rendezvous.master() + ", timeoutMs="
                        + TimeUnit.NANOSECONDS.toMillis(rendezvous.timeoutNs()) + " (worker rank = rendezvous rank - "
                        + controllers + ")", e);
            }
            if (controllers > 1) {
                controller.mesh = ControllerMesh.join(controller.plane, index, peers, EmbeddedWorkers.MESH_TIMEOUT_NS);
            }
            for (String role : EmbeddedWorkers.ROLES) {
                controller.groups.put(role, controller.plane.group(role, size / controllers,
                        EmbeddedWorkers.GROUP_TIMEOUT_NS));
            }
            if (out.worldStore != null) {
                out.worldStore.close();
                out.worldStore = null;
            }
            return out;
        } catch (RuntimeException | Error e) {
            closeAfter(out::close, e);
            throw e;
        }
    }

    /** Closes what a failed launch started; a failed close is suppressed in {@code failure}, which the caller throws. */
    private static void closeAfter(Runnable close, Throwable failure) {
        try {
            close.run();
        } catch (RuntimeException cleanup) {
            failure.addSuppressed(cleanup);
        }
    }

    /** {@code yatt worker --mesh} arguments of one rank's registrations. */
    static List<String> meshArguments(Map<String, GroupTopology.MeshRank> meshes) {
        List<String> args = new ArrayList<>();
        for (Map.Entry<String, GroupTopology.MeshRank> e : meshes.entrySet()) {
            GroupTopology.MeshRank m = e.getValue();
            args.add("--mesh");
            args.add(e.getKey() + "=" + m.dpRank() + "/" + m.dpSize() + "/" + m.collect());
        }
        return args;
    }

    /** The controllers, in index order. */
    List<EmbeddedWorkers.Controller> controllers() {
        return controllers;
    }

    /**
     * Fails every call in flight on every controller and tells the worker JVMs to abort theirs (the multi-process
     * counterpart of {@link EmbeddedWorkers#abort()}: the workers' communicators live in their own processes).
     * Idempotent; any thread.
     */
    void abort() {
        aborted = true;
        for (EmbeddedWorkers.Controller c : controllers) {
            c.plane.abort("another controller failed");
        }
    }

    /** The worker JVMs (processes in rank order, log folder, shm job id). */
    WorkerJvms jvms() {
        return jvms;
    }

    /**
     * Stops the worker JVMs (removing the job's shm files), then the controllers' meshes and planes. A local launch
     * with C > 1 stops its processes first when the run was aborted; otherwise it closes controller 0 (its workers are
     * told to stop) and gives its processes {@link #LOCAL_EXIT_TIMEOUT_NS} to end by themselves, then stops what still
     * runs.
     *
     * @throws IllegalStateException after a run that was not aborted, if a process of a local launch with C > 1 did
     *     not end within the timeout or exited with a code other than 0 (naming it)
     */
    @Override
    public void close() {
        // closing waits for processes and drivers: an interrupt pending here would cut those waits short (SIGKILL
        // instead of SIGTERM), so it is set aside and restored after
        boolean interrupted = Thread.interrupted();
        try {
            closeAll();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void closeAll() {
        try {
            if (worldStore != null) {
                worldStore.close();
            }
            if (jvms != null) {
                jvms.close();
            }
            if (local != null && aborted) {
                // stopped before the planes close, so that closing finds their Aeron directories dead and removes them
                local.close();
            }
        } finally {
            try {
                for (EmbeddedWorkers.Controller c : controllers) {
                    if (c.mesh != null) {
                        c.mesh.close();
                    }
                    c.plane.close();
                }
            } finally {
                if (local != null && !aborted) {
                    try {
                        local.awaitExit(LOCAL_EXIT_TIMEOUT_NS);
                    } finally {
                        local.close();
                    }
                }
            }
        }
    }
}
