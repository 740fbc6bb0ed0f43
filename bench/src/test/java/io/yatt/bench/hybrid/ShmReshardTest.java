package io.yatt.bench.hybrid;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.bench.JvmFlags;
import io.yatt.collectives.shm.ShmLauncher;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.RankPlan;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import io.yatt.tensor.DType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The 3D-HybridEngine over the shm backend on 4 rank JVMs ({@link ShmReshardRank}): every scheme reshards a small
 * model train to generation and back, bit for bit, twice, and the bytes the shm communicator counted equal Table 2
 * (the planner's formula) on the stage-balanced layout and the plan's per-rank bytes on the pipeline-merging one,
 * with no staged all-gather or send/recv behind the gather communicator's {@code allGatherv}; once with the engine's
 * buffers from a plain allocator and once from the shm arena ({@code ShmCommunicator.allocator}), where every weight
 * is in shared memory and peers copy straight from it.
 */
class ShmReshardTest {
    static final int WORLD = 4;
    /** Where the engine's buffers live: a plain allocator (send pieces packed into staging) or the shm arena. */
    static final List<String> MEMORY = List.of("heap", "arena");

    record Case(HybridLayout layout, ModelSpec spec, boolean table2) {
    }

    /** The layouts every rank runs, in order (the rank JVMs read the same list). */
    static final List<Case> CASES = List.of(
            new Case(HybridLayout.parse("1-4-1", "1-2-2"), ModelSpec.llama(2, 64, 8, 4, 96, 500, DType.I32, 4), true),
            new Case(HybridLayout.parse("2-2-1", "1-1-4"),
                    ModelSpec.llama(new ModelSpec.DecoderConfig(4, 16, 4, 2, 8, 30, DType.I32, 2, false)), false));

    @Test
    void shouldReshardBitForBitOnFourRankJvmsWithCountedBytesEqualToTable2() throws Exception {
        List<String> flags = JvmFlags.withExtra("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Map<String, String> results = new TreeMap<>();
        try (ShmLauncher launcher = ShmLauncher.launch(WORLD, java, flags, System.getProperty("java.class.path"),
                ShmReshardRank.class.getName(), List.of(), Map.of(), false)) {
            List<CompletableFuture<List<String>>> outputs = new ArrayList<>();
            for (Process p : launcher.processes()) {
                outputs.add(CompletableFuture.supplyAsync(() -> lines(p)));
            }
            int[] codes = launcher.waitFor(TimeUnit.MINUTES.toNanos(4));
            for (int r = 0; r < WORLD; r++) {
                assertEquals(0, codes[r], "exit code of rank " + r + " (its stack trace is on stderr)");
                for (String line : outputs.get(r).get(30, TimeUnit.SECONDS)) {
                    if (line.startsWith("RESULT ")) {
                        String[] f = line.split(" ");
                        results.put(f[1] + " " + f[2] + " " + f[3] + " " + f[4] + " " + f[5], line);
                    }
                }
            }
        }
        for (int i = 0; i < CASES.size(); i++) {
            Case c = CASES.get(i);
            for (ReshardScheme scheme : ReshardScheme.values()) {
                ReshardPlan plan = ReshardPlanner.shared().plan(c.layout(), c.spec(), scheme);
                for (String memory : MEMORY) {
                    for (int rank = 0; rank < WORLD; rank++) {
                        RankPlan rp = plan.rank(rank);
                        long expected = c.table2() ? plan.formulaBytesReceived() : rp.bytesReceived();
                        for (int round = 0; round < 2; round++) {
                            String key = "case=" + i + " scheme=" + scheme.cliName() + " memory=" + memory + " rank="
                                    + rank + " round=" + round;
                            assertEquals("RESULT " + key + " counted=" + expected + " replicated="
                                    + rp.replicatedBytesReceived() + " generation=true training=true staged=0 shared="
                                    + memory.equals("arena"), results.get(key));
                        }
                    }
                }
            }
        }
        assertEquals(CASES.size() * ReshardScheme.values().length * MEMORY.size() * WORLD * 2, results.size());
    }

    private static List<String> lines(Process p) {
        List<String> lines = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                lines.add(line);
            }
        } catch (IOException e) {
            lines.add("unreadable: " + e);
        }
        return lines;
    }
}
