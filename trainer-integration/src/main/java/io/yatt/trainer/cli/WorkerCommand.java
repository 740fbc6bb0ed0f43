package io.yatt.trainer.cli;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.controller.ControllerRendezvous;
import io.yatt.controller.Worker;
import io.yatt.controller.WorkerMethod;
import io.yatt.controller.WorkerMethods;
import java.io.PrintWriter;
import java.lang.invoke.MethodHandles;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code yatt worker}: one worker process of a job, connected to its controller given by {@code --controller} or
 * found through the rendezvous store of a torchrun, Slurm or Open MPI launch (the controller is rendezvous rank 0 and
 * publishes its endpoint there; this worker's rank is its rendezvous rank - 1). Runs until the controller shuts it
 * down (exit 0) or is lost (exit 1).
 */
@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Run a worker process: connect to the controller (--controller, or through the rendezvous of "
                + "torchrun/Slurm/Open MPI variables, MASTER_ADDR/MASTER_PORT), register and serve calls until "
                + "shut down. The shared secret, if the controller needs one, is read from "
                + WorkerCommand.ENV_SECRET + ".")
final class WorkerCommand implements Callable<Integer> {

    /** Environment variable with the controller's shared secret (UTF-8). */
    static final String ENV_SECRET = "YATT_CONTROLLER_SECRET";

    @Spec
    CommandSpec spec;

    @Option(names = "--controller", description = "The controller's channel, e.g. aeron:udp?endpoint=host:port "
            + "(default: from the rendezvous store).")
    String controller;

    @Option(names = "--rank", description = "Rank in the worker's groups (default: rendezvous rank - 1).")
    Integer rank;

    @Option(names = "--worker-id", description = "Unique worker id in the job (default: the rank).")
    Integer workerId;

    @Option(names = "--role", description = "Role (group) served; repeat for colocated roles (default: echo).")
    List<String> roles = List.of("echo");

    @Option(names = "--kind", defaultValue = "echo", description = "Methods served: ${COMPLETION-CANDIDATES}.")
    Kind kind;

    @Option(names = "--reply-host", defaultValue = "127.0.0.1",
            description = "Address the controller reaches this worker at over udp (default: ${DEFAULT-VALUE}).")
    String replyHost;

    @Option(names = "--aeron-dir", description = "A running media driver's directory (default: an embedded driver "
            + "of this worker, deleted on exit).")
    String aeronDir;

    @Option(names = "--controller-timeout-ms", defaultValue = "10000",
            description = "Exit when the controller is silent this long (default: ${DEFAULT-VALUE}).")
    long controllerTimeoutMs;

    /** The method sets a worker process can serve. */
    enum Kind {
        /** {@code ping} (rank, pid, host) and {@code echo} (its argument back): launch and transport checks. */
        echo
    }

    /** The {@code echo} kind's methods. */
    static final class EchoMethods {
        private final int rank;

        EchoMethods(int rank) {
            this.rank = rank;
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        Map<String, Object> ping() {
            return Map.of("rank", rank, "pid", ProcessHandle.current().pid());
        }

        @WorkerMethod(dispatch = "ONE_TO_ALL")
        Object echo(Object value) {
            return value;
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, String> env = System.getenv();
        String channel = controller;
        int workerRank;
        if (channel == null) {
            RendezvousConfig config = RendezvousConfig.fromEnvironment(env);
            channel = ControllerRendezvous.lookup(config);
            workerRank = rank != null ? rank : config.rank() - 1;
        } else {
            if (rank == null) {
                throw new IllegalArgumentException("--rank is required with --controller");
            }
            workerRank = rank;
        }
        Worker.Context ctx = new Worker.Context().workerId(workerId != null ? workerId : workerRank).rank(workerRank)
                .roles(roles).controller(channel).replyHost(replyHost)
                .controllerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(controllerTimeoutMs))
                .methods(switch (kind) {
                    case echo -> WorkerMethods.annotated(new EchoMethods(workerRank), MethodHandles.lookup());
                });
        String secret = env.get(ENV_SECRET);
        if (secret != null && !secret.isEmpty()) {
            ctx.sharedSecret(secret.getBytes(StandardCharsets.UTF_8));
        }
        if (aeronDir != null) {
            ctx.externalDriverDirectory(aeronDir);
        }
        try (Worker worker = Worker.start(ctx)) {
            out.println("worker " + worker.workerId() + " (rank " + workerRank + ") registered with " + channel);
            out.flush();
            String reason = worker.awaitShutdown();
            out.println("worker " + worker.workerId() + " stopped: " + reason);
            out.flush();
            return reason.startsWith("controller shutdown") ? 0 : 1;
        }
    }
}
