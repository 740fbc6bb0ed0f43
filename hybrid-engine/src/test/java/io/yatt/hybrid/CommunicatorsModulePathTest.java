package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorWorld;
import io.yatt.collectives.Communicators;
import io.yatt.collectives.ReduceOp;
import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.ShmContext;
import io.yatt.ffi.cuda.Cuda;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import io.yatt.tensor.Device;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An embedder's view of the collectives: this module requires {@code io.yatt.collectives} and uses its exported
 * package alone ({@link Communicators}), and a surefire execution of this module runs this class on the module path
 * (see the pom), so a backend that only a non-exported type could create would fail here. Every backend that can run
 * on this machine creates a world and all-reduces; the GPU ones, without a device, fail with their message.
 */
class CommunicatorsModulePathTest {
    private static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);

    /** Rank r all-reduces (sum) {r + 1, 2(r + 1), 3(r + 1)}; returns what it got. */
    private static double[] allReduceOnRank(Communicator comm, Device device) {
        int r = comm.rank();
        try (Allocator allocator = Allocator.root("embedder-rank" + r);
             Tensor host = Tensor.allocate(allocator, DType.F32, Shape.of(3), Device.host())) {
            for (int i = 0; i < 3; i++) {
                host.setDouble((i + 1) * (r + 1), i);
            }
            try (Tensor buf = host.to(device, allocator)) {
                comm.allReduce(buf, ReduceOp.SUM);
                try (Tensor back = buf.to(Device.host(), allocator)) {
                    return new double[] {back.getDouble(0), back.getDouble(1), back.getDouble(2)};
                }
            }
        }
    }

    /** n(n+1)/2 times {1, 2, 3}. */
    private static double[] expected(int n) {
        double s = n * (n + 1) / 2.0;
        return new double[] {s, 2 * s, 3 * s};
    }

    private static <T> List<T> onThreads(int n, List<Callable<T>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (Callable<T> task : tasks) {
                futures.add(pool.submit(task));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get(120, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** In the module-path execution (the pom sets the property), the backends' packages are out of reach. */
    @Test
    void shouldReachOnlyTheExportedPackageOnTheModulePath() {
        if (!Boolean.getBoolean("yatt.test.modulePath")) {
            return; // the class-path run of the module's other tests
        }
        Module me = getClass().getModule();
        Module collectives = Communicators.class.getModule();
        assertEquals("io.yatt.hybrid", me.getName());
        assertEquals("io.yatt.collectives", collectives.getName());
        assertTrue(collectives.isExported("io.yatt.collectives", me));
        for (String internal : List.of("io.yatt.collectives.shm", "io.yatt.collectives.nccl",
                "io.yatt.collectives.cudalocal", "io.yatt.collectives.inprocess", "io.yatt.collectives.rendezvous",
                "io.yatt.collectives.internal")) {
            assertEquals(false, collectives.isExported(internal, me), internal);
        }
    }

    @Test
    void shouldAllReduceOnAnInProcessWorld() throws Exception {
        try (CommunicatorWorld world = Communicators.inProcess(3, new Communicator.Context().timeoutNs(TIMEOUT_NS))) {
            List<Callable<double[]>> tasks = new ArrayList<>();
            for (Communicator comm : world.communicators()) {
                tasks.add(() -> allReduceOnRank(comm, Device.host()));
            }
            for (double[] got : onThreads(3, tasks)) {
                assertEquals(List.of(6.0, 12.0, 18.0), List.of(got[0], got[1], got[2]));
            }
        }
    }

    @Test
    void shouldAllReduceOnAShmWorldOfTwoRanks() throws Exception {
        int port = freePort();
        List<Callable<double[]>> tasks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            RendezvousConfig config = RendezvousConfig.of(r, 2, "127.0.0.1", port).withJobId("embedder" + port);
            tasks.add(() -> {
                ShmContext context = new ShmContext().arenaBytes(64L << 20)
                        .base(new Communicator.Context().timeoutNs(TIMEOUT_NS));
                try (Communicator comm = Communicators.shm(config, context)) {
                    return allReduceOnRank(comm, Device.host());
                }
            });
        }
        for (double[] got : onThreads(2, tasks)) {
            assertEquals(List.of(3.0, 6.0, 9.0), List.of(got[0], got[1], got[2]));
        }
    }

    @Test
    void shouldCreateAShmRankFromALauncherEnvironment() throws Exception {
        Map<String, String> env = Map.of("RANK", "0", "WORLD_SIZE", "1", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT",
                Integer.toString(freePort()), Communicators.ENV_BACKEND, "shm", "YATT_JOB_ID", "embedder_env");
        try (Communicator comm = Communicators.fromEnvironment(env,
                new Communicator.Context().timeoutNs(TIMEOUT_NS))) {
            double[] got = allReduceOnRank(comm, Device.host());
            assertEquals(List.of(1.0, 2.0, 3.0), List.of(got[0], got[1], got[2]));
        }
    }

    @Test
    void shouldRejectAnUnknownBackendInTheEnvironment() {
        Map<String, String> env = Map.of("RANK", "0", "WORLD_SIZE", "1", Communicators.ENV_BACKEND, "gloo");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Communicators.fromEnvironment(env, new Communicator.Context()));
        assertEquals("unknown backend: YATT_COLLECTIVES_BACKEND=gloo, expected shm or nccl", e.getMessage());
    }

    @Test
    void shouldAllReduceOnCudaLocalOrSayWhatIsMissing() throws Exception {
        Communicator.Context context = new Communicator.Context().timeoutNs(TIMEOUT_NS);
        if (Cuda.deviceCount() == 0) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Communicators.cudaLocal(new int[] {0, 0}, context));
            assertTrue(e.getMessage().startsWith("cuda-local backend needs a CUDA device: deviceCount=0, status="),
                    e.getMessage());
            return;
        }
        try (CommunicatorWorld world = Communicators.cudaLocal(new int[] {0, 0}, context)) {
            List<Callable<double[]>> tasks = new ArrayList<>();
            for (Communicator comm : world.communicators()) {
                tasks.add(() -> allReduceOnRank(comm, Device.cuda(0)));
            }
            for (double[] got : onThreads(2, tasks)) {
                assertEquals(List.of(expected(2)[0], expected(2)[1], expected(2)[2]), List.of(got[0], got[1], got[2]));
            }
        }
    }

    @Test
    void shouldAllReduceOnNcclOrSayWhatIsMissing() throws Exception {
        RendezvousConfig config = RendezvousConfig.of(0, 1, "127.0.0.1", freePort()).withJobId("embedder_nccl");
        Communicator.Context context = new Communicator.Context().timeoutNs(TIMEOUT_NS);
        if (Cuda.deviceCount() == 0) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Communicators.nccl(config, context));
            assertTrue(e.getMessage().startsWith("nccl backend needs a CUDA device: deviceCount=0, status="),
                    e.getMessage());
            return;
        }
        try (Communicator comm = Communicators.nccl(config, context)) {
            double[] got = allReduceOnRank(comm, Device.cuda(0));
            assertEquals(List.of(1.0, 2.0, 3.0), List.of(got[0], got[1], got[2]));
        }
    }
}
