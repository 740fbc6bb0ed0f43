package io.yatt.trainer.launch;

import io.yatt.controller.ControlPlane;
import io.yatt.controller.ControllerLostException;
import io.yatt.controller.WorkerCallException;
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
        return cause(failure, WorkerLostException.class, t -> true);
    }

    /** The first of {@code failure} and its causes (each once) that is a {@code type} and passes {@code test}. */
    private static <T extends Throwable> Optional<T> cause(Throwable failure, Class<T> type,
                                                           java.util.function.Predicate<T> test) {
        Set<Throwable> seen = new HashSet<>();
        for (Throwable t = failure; t != null && seen.add(t); t = t.getCause()) {
            if (type.isInstance(t) && test.test(type.cast(t))) {
                return Optional.of(type.cast(t));
            }
        }
        return Optional.empty();
    }

    /**
     * Reports a run that stopped because a worker, or another controller process of its mesh, was lost, or a worker's
     * collective found a peer process dead: {@code yatt: <the loss, naming role, rank, pid, host and heartbeat age, the
     * controller's index, pid and host, or the failed call with the dead ranks and pids>} and {@code yatt: the run
     * stopped; its workers were stopped (continue with --resume auto)} on {@code err}.
     *
     * @return {@link #LOST_WORKER_EXIT}, or empty (nothing printed) if {@code failure} was not such a loss
     */
    public static Optional<Integer> reportLostWorker(Throwable failure, PrintWriter err) {
        Optional<RuntimeException> lost = lostWorker(failure).map(RuntimeException.class::cast)
                .or(() -> lostController(failure)).or(() -> deadPeer(failure))
                .or(() -> cause(failure, JvmExitedException.class, t -> true));
        if (lost.isEmpty()) {
            return Optional.empty();
        }
        err.println("yatt: " + lost.get().getMessage());
        err.println("yatt: the run stopped; its workers were stopped (continue with --resume auto)");
        err.flush();
        return Optional.of(LOST_WORKER_EXIT);
    }

    /**
     * Class name of the shm backend's exception for a peer process found dead in a collective: a worker's call that
     * failed with it lost a process of the job, even if that process was another controller's worker (parallel
     * controllers as processes: only the dead worker's own controller names it as lost).
     */
    static final String SHM_PEER_DEAD = "io.yatt.collectives.shm.ShmPeerDeadException";

    /** The {@link WorkerCallException} of {@code failure}'s causes that a dead peer process made, if any. */
    static Optional<RuntimeException> deadPeer(Throwable failure) {
        return cause(failure, WorkerCallException.class, call -> call.type().equals(SHM_PEER_DEAD))
                .map(RuntimeException.class::cast);
    }

    /** The {@link ControllerLostException} that {@code failure} is or was caused by, if any. */
    static Optional<RuntimeException> lostController(Throwable failure) {
        return cause(failure, ControllerLostException.class, t -> true).map(RuntimeException.class::cast);
    }
}
