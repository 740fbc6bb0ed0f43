package io.yatt.bench.controller;

import io.aeron.Aeron;
import io.grpc.Server;
import io.yatt.controller.ControlPlane;
import io.yatt.controller.Worker;
import io.yatt.controller.WorkerMethods;
import java.lang.invoke.MethodHandles;
import java.util.List;

/**
 * A worker JVM of {@code yatt bench control}, started by {@link io.yatt.controller.WorkerProcesses}: serves
 * {@link EchoWorker} on the control plane, runs raw pong {@code rank} on the controller's driver and, if given a port
 * for its rank, the gRPC echo. Arguments: idle, ping channel, reply channel, worker counts (comma-separated), gRPC
 * ports (comma-separated, or {@code -}).
 */
public final class WorkerMain {

    private WorkerMain() {
    }

    /**
     * Runs until the controller shuts its workers down.
     *
     * @param args idle, ping channel, reply channel, worker counts, gRPC ports
     * @throws InterruptedException if interrupted while waiting for shutdown
     * @throws IllegalArgumentException if the arguments do not parse, naming them
     */
    public static void main(String[] args) throws InterruptedException {
        if (args.length != 5) {
            throw new IllegalArgumentException("expected 5 arguments (idle, ping channel, reply channel, worker counts,"
                    + " gRPC ports): got=" + List.of(args));
        }
        Worker.Context ctx = Worker.Context.fromEnvironment(System.getenv());
        ControlPlane.Idle idle = ControlPlane.Idle.valueOf(args[0]);
        RawPingPong.Channels channels = new RawPingPong.Channels(args[1], args[2]);
        List<Integer> counts = ControlBenchCommand.parseInts("worker counts", args[3]);
        List<Integer> grpcPorts = args[4].equals("-") ? List.of() : ControlBenchCommand.parseInts("gRPC ports",
                args[4]);
        int rank = ctx.rank();
        Server grpc = rank < grpcPorts.size() ? GrpcEcho.serve(grpcPorts.get(rank)) : null;
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(ctx.externalDriverDirectory()));
             RawPingPong.Pong pong = RawPingPong.pong(aeron, channels, rank, idle);
             Worker worker = Worker.start(ctx.roles(ControlBenchCommand.echoRoles(rank, counts)).idle(idle)
                     .methods(WorkerMethods.annotated(new EchoWorker(), MethodHandles.lookup())))) {
            worker.awaitShutdown();
        } finally {
            if (grpc != null) {
                grpc.shutdownNow();
            }
        }
    }
}
