package io.yatt.trainer.cli;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.controller.ControllerRendezvous;
import io.yatt.controller.GroupTopology;
import io.yatt.controller.Worker;
import io.yatt.trainer.launch.ExternalJob;
import io.yatt.trainer.launch.WorkerJvms;
import io.yatt.trainer.launch.WorkerKind;
import io.yatt.trainer.launch.WorkerKinds;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code yatt worker}: one worker process of a job. Started by {@link WorkerJvms} (its environment names the
 * controller, the driver directory, the rank and, for {@code --world shm}, the shm rendezvous), connected to the
 * controller given by {@code --controller}, or found through the rendezvous store of a torchrun, Slurm or Open MPI
 * launch (the C controllers are rendezvous ranks 0 to C - 1 and publish their endpoints there; this worker's rank is
 * its rendezvous rank - C, and a yatt train job tells it which controller to register with). Serves the methods of a {@link WorkerKinds worker kind}; with a world it first joins the world
 * communicator and registers it for lost-worker aborts. Runs until the controller shuts it down (exit 0) or is lost
 * (exit 1); an unknown kind or world also exits 1, with one line on stderr that a launcher can quote.
 */
@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Run a worker process: connect to the controller (--controller, the environment a yatt launcher "
                + "sets, or the rendezvous of torchrun/Slurm/Open MPI variables, MASTER_ADDR/MASTER_PORT), build the "
                + "world communicator (--world shm), register and serve the kind's methods until shut down. The shared secret, if the controller needs one, is read from "
                + WorkerCommand.ENV_SECRET + ".")
final class WorkerCommand implements Callable<Integer> {

    /** Environment variable with the controller's shared secret (UTF-8). */
    static final String ENV_SECRET = WorkerJvms.ENV_CONTROLLER_SECRET;

    @Spec
    CommandSpec spec;

    @Option(names = "--controller", description = "The controller's channel, e.g. aeron:udp?endpoint=host:port "
            + "(default: from the rendezvous store).")
    String controller;

    @Option(names = "--rank", description = "Rank in the worker's groups (default: RANK as a yatt launcher sets it, "
            + "else rendezvous rank - C, C the controllers of the launch).")
    Integer rank;

    @Option(names = "--worker-id", description = "Unique worker id in the job (default: --worker-id-base + rank).")
    Integer workerId;

    @Option(names = "--worker-id-base", defaultValue = "0", description = "Added to the rank for the default worker "
            + "id, so that several groups of launched workers share one controller (default: ${DEFAULT-VALUE}).")
    int workerIdBase;

    @Option(names = "--role", description = "Role (group) served; repeat for colocated roles (default: the kind).")
    List<String> roles;

    @Option(names = "--mesh", description = "A mesh registration NAME=DP_RANK/DP_SIZE/COLLECT (COLLECT: true or "
            + "false), for MESH(NAME) dispatch; repeat for several meshes.")
    List<String> meshes;

    @Option(names = "--kind", defaultValue = "echo", description = "Methods served: a kind of the table "
            + "io.yatt.trainer.launch.WorkerKinds, e.g. echo, collective (default: ${DEFAULT-VALUE}).")
    String kind;

    @Option(names = "--world", description = "World communicator built before registering: none or shm (default: "
            + WorkerJvms.ENV_WORLD + " as the launcher sets it, else none).")
    String world;

    @Option(names = "--peer-loss-wait-ms", description = "With a world: how long a call "
            + "that failed because a peer was lost waits for the controller to name the lost worker before it "
            + "reports its own error (default: the controller's, under trainer.launch=external, else 5000).")
    Long peerLossWaitMs;

    @Option(names = "--reply-host", defaultValue = "127.0.0.1",
            description = "Address the controller reaches this worker at over udp (default: ${DEFAULT-VALUE}).")
    String replyHost;

    @Option(names = "--aeron-dir", description = "A running media driver's directory (default: an embedded driver "
            + "of this worker, deleted on exit).")
    String aeronDir;

    @Option(names = "--controller-timeout-ms", defaultValue = "10000",
            description = "Exit when the controller is silent this long (default: ${DEFAULT-VALUE}).")
    long controllerTimeoutMs;

    @Option(names = "--inline-limit-bytes", description = "Largest result tensor sent inline; larger ones travel as "
            + "references (default: 65536).")
    Long inlineLimitBytes;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, String> env = System.getenv();
        // a runtime error (exit 1, one line on stderr), not a usage error: a launcher quotes the tail of stderr
        WorkerKind workerKind = WorkerKinds.of(kind);
        WorkerJvms.World worldKind = world != null ? WorkerJvms.World.of(world) : null;
        ExternalJob job = null;
        Map<String, String> worldEnv = env;
        boolean launched = controller == null && env.containsKey(Worker.ENV_CONTROLLER);
        Worker.Context ctx;
        String channel;
        int workerRank;
        // the worker's rank in its controller's groups (differs from its world rank under several controllers)
        Integer groupRank = null;
        if (launched) {
            // started by WorkerJvms (WorkerProcesses): controller, driver directory and rank from the environment
            ctx = Worker.Context.fromEnvironment(env);
            if (rank != null) {
                ctx.rank(rank);
            }
            ctx.workerId(workerId != null ? workerId : workerIdBase + ctx.rank());
            channel = ctx.controller();
            workerRank = ctx.rank();
        } else if (controller == null) {
            RendezvousConfig config = RendezvousConfig.fromEnvironment(env);
            ControllerRendezvous.Published published = ControllerRendezvous.lookupJob(config);
            channel = published.endpoint();
            // the first ranks are the controllers: worker rank = rendezvous rank - C
            workerRank = rank != null ? rank : config.rank() - published.endpoints().size();
            if (published.job().length > 0) {
                // yatt train controllers with trainer.launch=external: the shm world, roles, meshes and which
                // controller each worker registers with are theirs
                job = ExternalJob.decode(published.job());
                if (job.controllers() != published.endpoints().size()) {
                    throw new IllegalArgumentException("the job's controllers differ from the rendezvous': job="
                            + job.controllers() + ", rendezvous=" + published.endpoints().size());
                }
                worldEnv = job.worldEnvironment(env, workerRank, config.masterAddr());
                worldKind = worldKind != null ? worldKind : WorkerJvms.World.SHM;
                channel = published.endpoints().get(job.controllerOf().get(workerRank));
                groupRank = job.groupRank(workerRank);
            } else if (worldKind != null && worldKind != WorkerJvms.World.NONE) {
                throw new IllegalArgumentException("--world " + worldKind.cliName()
                        + " needs the launcher's environment (missing " + Worker.ENV_CONTROLLER
                        + ") or a controller started with trainer.launch=external");
            }
            ctx = new Worker.Context().controller(channel).workerId(workerId != null ? workerId : workerIdBase + workerRank);
        } else {
            if (rank == null) {
                throw new IllegalArgumentException("--rank is required with --controller");
            }
            channel = controller;
            workerRank = rank;
            ctx = new Worker.Context().controller(channel).workerId(workerId != null ? workerId : workerIdBase + workerRank);
        }
        if (worldKind == null) {
            worldKind = WorkerJvms.World.of(env.getOrDefault(WorkerJvms.ENV_WORLD, "none"));
        }
        List<String> defaultRoles = job != null ? job.roles() : List.of(workerKind.name());
        List<String> defaultMeshes = job != null ? job.meshArguments().get(workerRank) : List.of();
        long lossWaitMs = peerLossWaitMs != null ? peerLossWaitMs : job != null ? job.peerLossWaitMs() : 5000;
        ctx.rank(groupRank != null ? groupRank : workerRank).roles(roles != null ? roles : defaultRoles).replyHost(replyHost)
                .meshes(parseMeshes(meshes != null ? meshes : defaultMeshes))
                .controllerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(controllerTimeoutMs));
        if (inlineLimitBytes != null) {
            ctx.inlineLimitBytes(inlineLimitBytes);
        }
        String secret = env.get(ENV_SECRET);
        if (secret != null && !secret.isEmpty()) {
            ctx.sharedSecret(secret.getBytes(StandardCharsets.UTF_8));
        }
        if (aeronDir != null) {
            ctx.externalDriverDirectory(aeronDir);
        }
        // the world first (a collective call of every rank), so that the controller never sees a rank without it
        Communicator worldComm = worldKind == WorkerJvms.World.SHM
                ? Communicators.fromEnvironment(worldEnv, new Communicator.Context()) : null;
        try {
            // the worker object's rank is its world rank (its group rank differs under several controllers)
            CompletableFuture<Worker> self = new CompletableFuture<>();
            ctx.methods(workerKind.methods(worldComm != null ? worldComm.rank() : workerRank, worldComm,
                    TimeUnit.MILLISECONDS.toNanos(lossWaitMs), c -> self.join().registerCommunicator(c)));
            if (worldComm != null) {
                ctx.communicators(List.of(worldComm));
            }
            try (Worker worker = Worker.start(ctx)) {
                self.complete(worker);
                out.println("worker " + worker.workerId() + " (rank " + workerRank + ")" + WorkerJvms.REGISTERED_MARK
                        + channel);
                out.flush();
                String reason = worker.awaitShutdown();
                out.println("worker " + worker.workerId() + " stopped: " + reason);
                out.flush();
                return reason.startsWith("controller shutdown") ? 0 : 1;
            }
        } finally {
            if (worldComm != null) {
                worldComm.close();
            }
        }
    }

    /**
     * The mesh registrations of {@code --mesh NAME=DP_RANK/DP_SIZE/COLLECT} arguments.
     *
     * @throws IllegalArgumentException for an argument of another form or a repeated name
     */
    static Map<String, GroupTopology.MeshRank> parseMeshes(List<String> args) {
        Map<String, GroupTopology.MeshRank> out = new LinkedHashMap<>();
        for (String a : args) {
            String[] nv = a.split("=", 2);
            String[] parts = nv.length == 2 ? nv[1].split("/", -1) : new String[0];
            if (nv[0].isEmpty() || parts.length != 3 || !parts[0].matches("[0-9]+") || !parts[1].matches("[0-9]+")
                    || !(parts[2].equals("true") || parts[2].equals("false"))) {
                throw new IllegalArgumentException("bad --mesh: mesh=" + a
                        + ", expected NAME=DP_RANK/DP_SIZE/COLLECT, e.g. train=0/2/true");
            }
            GroupTopology.MeshRank m = new GroupTopology.MeshRank(Integer.parseInt(parts[0]),
                    Integer.parseInt(parts[1]), Boolean.parseBoolean(parts[2]));
            if (out.putIfAbsent(nv[0], m) != null) {
                throw new IllegalArgumentException("--mesh repeated: name=" + nv[0]);
            }
        }
        return out;
    }
}
