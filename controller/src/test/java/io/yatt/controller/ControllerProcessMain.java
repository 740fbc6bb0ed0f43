package io.yatt.controller;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.tensor.Allocator;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One parallel controller as a process of its own, for {@link ControllerProcessesTest}: it finds the other controllers
 * through the rendezvous store (RANK = controller index, WORLD_SIZE = C, MASTER_ADDR/MASTER_PORT), drives the workers of
 * its DP slice (threads of this JVM) through {@link ControllerMeshTest}'s seeded pipeline and prints its run, every
 * double as its raw bits.
 */
final class ControllerProcessMain {

    private ControllerProcessMain() {
    }

    /** Controller {@code config.rank()} of {@code config.worldSize()}: its pipeline run. */
    static ControllerMeshTest.Run run(RendezvousConfig config) {
        int index = config.rank();
        ParallelControllers pc = ParallelControllers.of(config.worldSize(), ControllerMeshTest.DP);
        List<Allocator> allocators = new ArrayList<>();
        List<Worker> workers = new ArrayList<>();
        ControlPlane plane = ControlPlane.launch(TestWorkers.context().udp("127.0.0.1", 0)
                .jobName("mesh-process-" + index).threading(ControlPlane.Threading.INVOKER));
        ControllerMesh mesh = null;
        try {
            mesh = ControllerRendezvous.joinMesh(config, plane, ControllerMesh.DEFAULT_TIMEOUT_NS);
            for (int d = 0; d < ControllerMeshTest.DP; d++) {
                if (pc.controllerOf(d) != index) {
                    continue;
                }
                Allocator a = Allocator.root("mesh-process-worker-" + d);
                allocators.add(a);
                workers.add(Worker.start(new Worker.Context().workerId(500 + d).rank(d % pc.dpRanksPerController())
                        .roles(List.of("actor")).allocator(a)
                        .methods(WorkerMethods.annotated(new ControllerMeshTest.Methods(a), MethodHandles.lookup()))
                        .controller(plane.endpoint()).externalDriverDirectory(plane.driverDirectory())));
            }
            Allocator a = Allocator.root("mesh-process-controller-" + index);
            allocators.add(a);
            return ControllerMeshTest.controller(pc, index, plane, mesh, a);
        } finally {
            for (Worker w : workers) {
                w.close();
            }
            if (mesh != null) {
                mesh.close();
            }
            plane.close();
            for (Allocator a : allocators) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (a.allocatedBytes() != 0 && System.nanoTime() - deadline < 0) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                }
                a.close();
            }
        }
    }

    /** The run as lines: {@code score <step> <prompt> <bits>} and {@code metric <step> <name> <bits>}. */
    static List<String> lines(ControllerMeshTest.Run run) {
        List<String> lines = new ArrayList<>();
        for (int s = 0; s < run.scores().length; s++) {
            for (int p = 0; p < run.scores()[s].length; p++) {
                lines.add("score " + s + " " + p + " " + Long.toHexString(Double.doubleToRawLongBits(
                        run.scores()[s][p])));
            }
        }
        for (int s = 0; s < run.metrics().size(); s++) {
            for (Map.Entry<String, Double> m : run.metrics().get(s).entrySet()) {
                lines.add("metric " + s + " " + m.getKey() + " " + Long.toHexString(Double.doubleToRawLongBits(
                        m.getValue())));
            }
        }
        return lines;
    }

    /**
     * Controller {@code config.rank()} joins the mesh with a plane of {@link #heartbeating} (INVOKER threading, peer
     * heartbeats at their defaults), prints {@code joined <driver directory>} and heartbeats until it is killed.
     */
    static void hold(RendezvousConfig config) {
        ControlPlane plane = ControlPlane.launch(heartbeating(config.rank()));
        ControllerRendezvous.joinMesh(config, plane, ControllerMesh.DEFAULT_TIMEOUT_NS);
        System.out.println("joined " + plane.driverDirectory());
        System.out.flush();
        while (true) {
            LockSupport.park();
        }
    }

    /** A controller plane of the kill test: udp loopback, INVOKER, the default peer heartbeat interval and timeout. */
    static ControlPlane.Context heartbeating(int index) {
        return TestWorkers.context().udp("127.0.0.1", 0).jobName("mesh-kill-" + index)
                .threading(ControlPlane.Threading.INVOKER)
                .peerHeartbeatIntervalNs(ControlPlane.DEFAULT_HEARTBEAT_INTERVAL_NS)
                .peerHeartbeatTimeoutNs(ControlPlane.DEFAULT_HEARTBEAT_TIMEOUT_NS);
    }

    public static void main(String[] args) {
        RendezvousConfig config = RendezvousConfig.fromEnvironment(System.getenv());
        if (args.length == 1 && args[0].equals("hold")) {
            hold(config);
        }
        for (String line : lines(run(config))) {
            System.out.println(line);
        }
    }
}
