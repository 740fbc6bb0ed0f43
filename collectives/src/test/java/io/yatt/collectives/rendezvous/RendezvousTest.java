package io.yatt.collectives.rendezvous;

import io.yatt.collectives.RendezvousConfig;
import io.yatt.collectives.RendezvousException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RendezvousTest {
    private static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    @Test
    void shouldReadTorchrunEnvironment() {
        RendezvousConfig c = RendezvousConfig.fromEnvironment(Map.of("RANK", "3", "WORLD_SIZE", "8", "LOCAL_RANK", "1",
            "LOCAL_WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29501"));
        assertEquals(new RendezvousConfig(3, 8, 1, 2, "127.0.0.1", 29501, "127.0.0.1", null, "torchrun",
            RendezvousConfig.DEFAULT_TIMEOUT_NS, RendezvousConfig.Source.TORCHRUN), c);
    }

    @Test
    void shouldReadSlurmEnvironment() {
        RendezvousConfig c = RendezvousConfig.fromEnvironment(Map.of("SLURM_PROCID", "5", "SLURM_NTASKS", "6",
            "SLURM_LOCALID", "2", "SLURM_NTASKS_PER_NODE", "3(x2)", "SLURM_JOB_ID", "77",
            "SLURM_LAUNCH_NODE_IPADDR", "127.0.0.1", "YATT_RENDEZVOUS_TIMEOUT_MS", "1500"));
        assertEquals(new RendezvousConfig(5, 6, 2, 3, "127.0.0.1", 29500, "127.0.0.1", null, "slurm77.0",
            TimeUnit.MILLISECONDS.toNanos(1500), RendezvousConfig.Source.SLURM), c);
    }

    @Test
    void shouldReadOpenMpiEnvironment() {
        RendezvousConfig c = RendezvousConfig.fromEnvironment(Map.of("OMPI_COMM_WORLD_RANK", "1",
            "OMPI_COMM_WORLD_SIZE", "4", "OMPI_COMM_WORLD_LOCAL_RANK", "1", "OMPI_COMM_WORLD_LOCAL_SIZE", "4",
            "MASTER_PORT", "1234", "YATT_JOB_ID", "run7"));
        assertEquals(new RendezvousConfig(1, 4, 1, 4, "127.0.0.1", 1234, "127.0.0.1", null, "run7",
            RendezvousConfig.DEFAULT_TIMEOUT_NS, RendezvousConfig.Source.OPEN_MPI), c);
    }

    @Test
    void shouldRejectMissingLauncherVariablesAndBadValues() {
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
            () -> RendezvousConfig.fromEnvironment(Map.of("PATH", "/bin")));
        assertEquals("no launcher environment: expected RANK and WORLD_SIZE (torchrun), SLURM_PROCID and SLURM_NTASKS "
            + "(Slurm) or OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE (Open MPI)", none.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
            () -> RendezvousConfig.fromEnvironment(Map.of("RANK", "x", "WORLD_SIZE", "2")));
        assertEquals("environment variable is not an integer: RANK=x", bad.getMessage());
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
            () -> RendezvousConfig.fromEnvironment(Map.of("RANK", "2", "WORLD_SIZE", "2")));
        assertEquals("rank out of range: rank=2, worldSize=2", range.getMessage());
    }

    @Test
    void shouldRequireASecretBeyondLoopback() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> RendezvousConfig.fromEnvironment(Map.of("RANK", "0", "WORLD_SIZE", "2",
                "YATT_RENDEZVOUS_BIND", "0.0.0.0")));
        assertEquals("rendezvous secret required: bindAddress=0.0.0.0 is not loopback; set YATT_RENDEZVOUS_SECRET or "
            + "withSecret(...)", e.getMessage());
        IllegalArgumentException server = assertThrows(IllegalArgumentException.class,
            () -> TcpStoreServer.start("0.0.0.0", 0, 2, null));
        assertEquals("rendezvous secret required: bindAddress=0.0.0.0 is not loopback", server.getMessage());
        RendezvousConfig ok = RendezvousConfig.fromEnvironment(Map.of("RANK", "0", "WORLD_SIZE", "2",
            "YATT_RENDEZVOUS_BIND", "0.0.0.0", "YATT_RENDEZVOUS_SECRET", "s3cret"));
        assertEquals("0.0.0.0", ok.bindAddress());
        assertTrue(ok.toString().contains("secret=***"), ok.toString());
    }

    @Test
    void shouldExchangeValuesBetweenRanks() throws Exception {
        int n = 4;
        try (TcpStoreServer store = TcpStoreServer.start("127.0.0.1", 0, n, null)) {
            List<List<String>> results = onRanks(n, rank -> {
                RendezvousConfig c = RendezvousConfig.of(rank, n, "127.0.0.1", store.port()).withTimeoutNs(TIMEOUT_NS);
                try (Rendezvous r = Rendezvous.connect(c)) {
                    List<String> gathered = new ArrayList<>(r.allGatherStrings("pids", "p" + rank));
                    gathered.add(new String(r.broadcast("id", ("nccl-id-from-" + rank).getBytes(StandardCharsets.UTF_8), 2),
                        StandardCharsets.UTF_8));
                    r.barrier("done");
                    return gathered;
                }
            });
            for (List<String> result : results) {
                assertEquals(List.of("p0", "p1", "p2", "p3", "nccl-id-from-2"), result);
            }
        }
    }

    @Test
    void shouldServeTheStoreOnRankZeroWhenJoining() throws Exception {
        int port;
        try (TcpStoreServer probe = TcpStoreServer.start("127.0.0.1", 0, 1, null)) {
            port = probe.port();
        }
        List<byte[][]> results = onRanks(2, rank -> {
            try (Rendezvous r = Rendezvous.join(RendezvousConfig.of(rank, 2, "127.0.0.1", port).withTimeoutNs(TIMEOUT_NS))) {
                return r.allGather("k", new byte[] {(byte) rank});
            }
        });
        for (byte[][] all : results) {
            assertArrayEquals(new byte[] {0}, all[0]);
            assertArrayEquals(new byte[] {1}, all[1]);
        }
    }

    @Test
    void shouldTimeOutNamingTheMissingRanks() {
        try (TcpStoreServer store = TcpStoreServer.start("127.0.0.1", 0, 4, null)) {
            RendezvousConfig c = RendezvousConfig.of(0, 4, "127.0.0.1", store.port())
                .withTimeoutNs(TimeUnit.MILLISECONDS.toNanos(200));
            try (Rendezvous r = Rendezvous.connect(c)) {
                long start = System.nanoTime();
                RendezvousException e = assertThrows(RendezvousException.class, () -> r.allGather("regions", new byte[0]));
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertEquals("rendezvous timed out: missing ranks=[1, 2, 3], master=127.0.0.1:" + store.port()
                    + ", key=regions, rank=0, timeoutMs=200", e.getMessage());
                assertEquals(List.of(1, 2, 3), e.missingRanks());
                assertTrue(ms >= 190 && ms < 3000, "took " + ms + " ms");
            }
        }
    }

    @Test
    void shouldTimeOutWhenNoStoreListens() {
        int port;
        try (TcpStoreServer probe = TcpStoreServer.start("127.0.0.1", 0, 1, null)) {
            port = probe.port();
        }
        RendezvousConfig c = RendezvousConfig.of(1, 2, "127.0.0.1", port).withTimeoutNs(TimeUnit.MILLISECONDS.toNanos(150));
        RendezvousException e = assertThrows(RendezvousException.class, () -> Rendezvous.connect(c));
        assertTrue(e.getMessage().startsWith("rendezvous timed out: cannot reach master=127.0.0.1:" + port
            + ", rank=1, timeoutMs=150"), e.getMessage());
    }

    @Test
    void shouldRefuseAPeerWithoutTheSecret() {
        try (TcpStoreServer store = TcpStoreServer.start("127.0.0.1", 0, 2, "right-token")) {
            RendezvousConfig base = RendezvousConfig.of(1, 2, "127.0.0.1", store.port()).withTimeoutNs(TIMEOUT_NS);
            RendezvousException wrong = assertThrows(RendezvousException.class,
                () -> Rendezvous.connect(base.withSecret("wrong-token")));
            assertTrue(wrong.getMessage().startsWith("rendezvous refused: authentication failed: rank=1, peer="),
                wrong.getMessage());
            RendezvousException none = assertThrows(RendezvousException.class, () -> Rendezvous.connect(base));
            assertTrue(none.getMessage().startsWith("rendezvous refused: authentication failed: rank=1"), none.getMessage());
            assertEquals(2, store.refusedCount());
            try (Rendezvous ok = Rendezvous.connect(base.withSecret("right-token"))) {
                assertEquals(1, ok.rank());
            }
        }
    }

    @Test
    void shouldRefuseAPeerOfAnotherWorldSize() {
        try (TcpStoreServer store = TcpStoreServer.start("127.0.0.1", 0, 2, null)) {
            RendezvousException e = assertThrows(RendezvousException.class,
                () -> Rendezvous.connect(RendezvousConfig.of(0, 3, "127.0.0.1", store.port()).withTimeoutNs(TIMEOUT_NS)));
            assertEquals("rendezvous refused: worldSize mismatch: peer=3, store=2, master=127.0.0.1:" + store.port()
                + ", storeWorldSize=2", e.getMessage());
        }
    }

    interface RankBody<T> {
        T run(int rank) throws Exception;
    }

    static <T> List<T> onRanks(int n, RankBody<T> body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> body.run(rank)));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get(30, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }
}
