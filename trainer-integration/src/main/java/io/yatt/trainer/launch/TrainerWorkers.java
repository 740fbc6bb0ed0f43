package io.yatt.trainer.launch;

import io.yatt.controller.ControlPlane;
import io.yatt.controller.ControllerLostException;
import io.yatt.controller.WorkerLostException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code yatt train} uses for {@code trainer.backend=shm}: one worker JVM per rank of a kind, logs in the run
 * folder, and the exit of a run that lost a worker (exit code {@value #LOST_WORKER_EXIT}, a message naming the
 * worker). Stateless.
 */
public final class TrainerWorkers {

    /**
     * Exit code of {@code yatt} when a run stopped because a worker or a controller process was lost (1: error, 2:
     * usage, 130: SIGINT).
     */
    public static final int LOST_WORKER_EXIT = 3;
    /** Folder of the run folder that holds each worker's {@code rank-R.out} and {@code rank-R.err}. */
    public static final String LOG_FOLDER = "workers";

    private TrainerWorkers() {
    }

    /**
     * Starts {@code worldSize} JVMs of {@code yatt worker --kind kind --world shm} for {@code plane} and returns once
     * all registered (role: the kind's name; {@link WorkerJvms#group()} is the group of all ranks). Close the result
     * before the plane: it stops every worker and removes the job's shared-memory files; the logs stay in
     * {@code runDirectory/}{@value #LOG_FOLDER}.
     *
     * @throws IllegalArgumentException if worldSize is not positive
     * @throws IllegalStateException if a worker JVM fails during startup or does not register in time (see
     *         {@link WorkerJvms#start})
     */
    public static WorkerJvms start(ControlPlane plane, int worldSize, String kind, Path runDirectory) {
        return WorkerJvms.start(plane, new WorkerJvms.Context().kind(kind).count(worldSize)
                .world(WorkerJvms.World.SHM).logDirectory(runDirectory.resolve(LOG_FOLDER)));
    }

    /** The {@link WorkerLostException} that {@code failure} is or was caused by, if any. */
    public static Optional<WorkerLostException> lostWorker(Throwable failure) {
        Set<Throwable> seen = new HashSet<>();
        for (Throwable t = failure; t != null && seen.add(t); t = t.getCause()) {
            if (t instanceof WorkerLostException lost) {
                return Optional.of(lost);
            }
        }
        return Optional.empty();
    }

    /**
     * Reports a run that stopped because a worker, or another controller process of its mesh, was lost: {@code yatt:
     * <the loss, naming role, rank, pid, host and heartbeat age, or the controller's index, pid and host>} and {@code
     * yatt: the run stopped; its workers were stopped (continue with --resume auto)} on {@code err}.
     *
     * @return {@link #LOST_WORKER_EXIT}, or empty (nothing printed) if {@code failure} was not such a loss
     */
    public static Optional<Integer> reportLostWorker(Throwable failure, PrintWriter err) {
        Optional<RuntimeException> lost = lostWorker(failure).map(RuntimeException.class::cast)
                .or(() -> lostController(failure));
        if (lost.isEmpty()) {
            return Optional.empty();
        }
        err.println("yatt: " + lost.get().getMessage());
        err.println("yatt: the run stopped; its workers were stopped (continue with --resume auto)");
        err.flush();
        return Optional.of(LOST_WORKER_EXIT);
    }

    /** The {@link ControllerLostException} that {@code failure} is or was caused by, if any. */
    static Optional<RuntimeException> lostController(Throwable failure) {
        Set<Throwable> seen = new HashSet<>();
        for (Throwable t = failure; t != null && seen.add(t); t = t.getCause()) {
            if (t instanceof ControllerLostException lost) {
                return Optional.of(lost);
            }
        }
        return Optional.empty();
    }
}
