package io.yatt.trainer.launch;

import io.yatt.collectives.Communicator;
import io.yatt.controller.WorkerMethods;
import java.lang.invoke.MethodHandles;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A kind of worker process ({@code yatt worker --kind NAME}): how to build the object whose
 * {@link io.yatt.controller.WorkerMethod} methods a worker of this rank serves, given its rank and its world
 * communicator. Immutable.
 *
 * @param name        the name on the command line
 * @param description one line for {@code yatt worker --help}
 * @param needsWorld  whether the factory needs a world communicator ({@code --world shm})
 * @param factory     builds the worker object of one rank
 * @param lookup      a lookup with access to the worker object's annotated methods
 */
public record WorkerKind(String name, String description, boolean needsWorld, Factory factory,
                         MethodHandles.Lookup lookup) {

    /** Builds the worker object of one rank; {@code world} is null for a kind without a world. */
    @FunctionalInterface
    public interface Factory {
        /**
         * The worker object of {@code rank}, over {@code world} (null when the worker has none); communicators it
         * makes later (splits of the world) go to {@code registrar}, so a lost peer aborts collectives on them too.
         */
        Object create(int rank, Communicator world, Consumer<Communicator> registrar);
    }

    /**
     * A kind.
     *
     * @throws IllegalArgumentException if the name is not lower-case letters, digits and '-'
     */
    public WorkerKind {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(factory, "factory");
        Objects.requireNonNull(lookup, "lookup");
        if (!name.matches("[a-z][a-z0-9-]*")) {
            throw new IllegalArgumentException("worker kind name must be lower-case letters, digits and '-': name="
                    + name);
        }
    }

    /**
     * How long a call that failed because a collective lost a peer waits for the controller's verdict (the
     * controller's heartbeat timeout, 1.5 s by default, plus room) before it reports its own error.
     */
    public static final long DEFAULT_PEER_LOSS_WAIT_NS = TimeUnit.SECONDS.toNanos(5);

    /**
     * The method table of rank {@code rank}'s worker object; with a world, a call that fails because a collective
     * lost a peer waits up to {@link #DEFAULT_PEER_LOSS_WAIT_NS} (or until the controller aborts it) before it
     * reports, so that the controller's call fails with the lost worker's name, not with the symptom.
     *
     * @param world the rank's world communicator, or null when the worker runs without one
     * @throws IllegalArgumentException if the kind needs a world and {@code world} is null, or the worker object has
     *         no accessible annotated methods
     */
    public WorkerMethods methods(int rank, Communicator world) {
        return methods(rank, world, DEFAULT_PEER_LOSS_WAIT_NS);
    }

    /**
     * As {@link #methods(int, Communicator)} with {@code peerLossWaitNs} for the wait.
     *
     * @throws IllegalArgumentException as {@link #methods(int, Communicator)}, or if the wait is negative
     */
    public WorkerMethods methods(int rank, Communicator world, long peerLossWaitNs) {
        return methods(rank, world, peerLossWaitNs, c -> { });
    }

    /**
     * As {@link #methods(int, Communicator, long)}, with the communicators the worker object makes later handed to
     * {@code registrar} (for example {@code Worker::registerCommunicator} of the worker that serves it).
     *
     * @throws IllegalArgumentException as {@link #methods(int, Communicator, long)}
     */
    public WorkerMethods methods(int rank, Communicator world, long peerLossWaitNs,
                                 Consumer<Communicator> registrar) {
        if (needsWorld && world == null) {
            throw new IllegalArgumentException("worker kind needs a world communicator: kind=" + name
                    + ", expected --world shm");
        }
        if (peerLossWaitNs < 0) {
            throw new IllegalArgumentException("peer loss wait must be non-negative: peerLossWaitNs="
                    + peerLossWaitNs);
        }
        Object target = factory.create(rank, world, Objects.requireNonNull(registrar, "registrar"));
        WorkerMethods methods = WorkerMethods.annotated(target, lookup);
        return world == null ? methods : PeerLossVerdict.wrap(methods, target, peerLossWaitNs);
    }
}
