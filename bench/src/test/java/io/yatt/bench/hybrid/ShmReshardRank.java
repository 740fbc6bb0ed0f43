package io.yatt.bench.hybrid;

import io.yatt.collectives.CollectiveKind;
import io.yatt.collectives.Communicator;
import io.yatt.collectives.CommunicatorStats;
import io.yatt.collectives.ShmContext;
import io.yatt.collectives.shm.ShmCommunicator;
import io.yatt.hybrid.HybridEngine;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.ParameterSpec;
import io.yatt.hybrid.RankCoordinates;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import io.yatt.hybrid.ShardMath;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One rank JVM of {@link ShmReshardTest}: joins the shm world from the launcher's environment, runs every scheme of
 * every {@link ShmReshardTest#CASES} layout through {@link HybridEngine} twice (train to generation and back), with the
 * engine's buffers from a plain allocator and from the shm arena ({@link ShmCommunicator#allocator}), compares
 * the weights with the reference shards element for element, and prints one {@code RESULT} line per scheme and
 * round on stdout (counted bytes, whether both directions were bit for bit, and how many staged all-gather or send
 * calls the gather communicator made: none, since shm places pieces directly, and whether every weight lies in shared
 * memory). Failures go to stderr and the exit
 * code.
 */
public final class ShmReshardRank {
    private ShmReshardRank() {
    }

    public static void main(String[] args) {
        ShmContext context = new ShmContext()
            .base(new Communicator.Context().timeoutNs(TimeUnit.SECONDS.toNanos(60)).debugChecks(true));
        try (ShmCommunicator world = ShmCommunicator.fromEnvironment(System.getenv(), context)) {
            int rank = world.rank();
            for (int i = 0; i < ShmReshardTest.CASES.size(); i++) {
                ShmReshardTest.Case c = ShmReshardTest.CASES.get(i);
                HybridLayout layout = c.layout();
                Map<String, long[]> full = fullWeights(c.spec());
                var train = ShardMath.shardModel(c.spec(), full, layout.train().t(), layout.train().p());
                var expected = ShardMath.shardModel(c.spec(), full, layout.gen().tg(), layout.gen().pg());
                RankCoordinates rc = layout.coordinates(rank);
                Map<String, long[]> mine = train.get(new ShardMath.ShardKey(rc.pp(), rc.tp()));
                Map<String, long[]> want = expected.get(new ShardMath.ShardKey(rc.genPp(), rc.genTp()));
                for (ReshardScheme scheme : ReshardScheme.values()) {
                  for (String memory : ShmReshardTest.MEMORY) {
                    ReshardPlan plan = ReshardPlanner.shared().plan(layout, c.spec(), scheme);
                    try (Allocator root = memory.equals("arena") ? world.allocator("shm-reshard-rank" + rank)
                             : Allocator.root("shm-reshard-rank" + rank);
                         HybridEngine engine = HybridEngine.create(plan, rank, world, root)) {
                        for (var e : engine.trainingWeights().entrySet()) {
                            write(e.getValue(), mine.get(e.getKey()));
                        }
                        for (int round = 0; round < 2; round++) {
                            Map<String, Tensor> gen = engine.toGeneration();
                            boolean generationOk = gen.keySet().equals(want.keySet());
                            for (var e : gen.entrySet()) {
                                generationOk &= want.containsKey(e.getKey())
                                    && Arrays.equals(want.get(e.getKey()), read(e.getValue()));
                            }
                            HybridEngine.TransitionStats stats = engine.lastTransition();
                            CommunicatorStats gather = engine.communicator(scheme.gatherGroup()).stats();
                            long staged = gather.calls(CollectiveKind.ALL_GATHER) + gather.calls(CollectiveKind.SEND);
                            // every send view in the arena: peers copy straight from the engine's weights, no packing
                            boolean shared = true;
                            for (Tensor t : gen.values()) {
                                shared &= t.numel() == 0 || world.isShared(t);
                            }
                            engine.toTraining();
                            boolean trainingOk = true;
                            for (var e : engine.trainingWeights().entrySet()) {
                                trainingOk &= Arrays.equals(mine.get(e.getKey()), read(e.getValue()));
                                shared &= e.getValue().numel() == 0 || world.isShared(e.getValue());
                            }
                            System.out.println(String.join(" ", List.of("RESULT", "case=" + i,
                                "scheme=" + scheme.cliName(), "memory=" + memory, "rank=" + rank, "round=" + round,
                                "counted=" + stats.bytesReceived(), "replicated=" + stats.replicatedBytesReceived(),
                                "generation=" + generationOk, "training=" + trainingOk, "staged=" + staged,
                                "shared=" + shared)));
                        }
                    }
                  }
                }
            }
            world.barrier();
        } catch (RuntimeException | Error e) {
            e.printStackTrace();
            System.out.flush();
            System.exit(1);
        }
        System.out.flush();
        System.exit(0);
    }
    /** Every parameter's elements numbered in order across the model (as the hybrid-engine tests do). */
    static Map<String, long[]> fullWeights(ModelSpec spec) {
        Map<String, long[]> full = new LinkedHashMap<>();
        long base = 0;
        for (ParameterSpec p : spec.parameters()) {
            long[] a = new long[Math.toIntExact(p.shape().numel())];
            for (int i = 0; i < a.length; i++) {
                a[i] = base + i;
            }
            full.put(p.name(), a);
            base += a.length;
        }
        return full;
    }

    /** Writes {@code values} in row-major order into {@code t} (any layout). */
    static void write(Tensor t, long[] values) {
        if (values.length != t.numel()) {
            throw new IllegalStateException("shard size mismatch: values=" + values.length + ", numel=" + t.numel());
        }
        for (int i = 0; i < values.length; i++) {
            t.setDouble(values[i], index(t, i));
        }
    }

    static long[] read(Tensor t) {
        long[] out = new long[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = (long) t.getDouble(index(t, i));
        }
        return out;
    }

    private static long[] index(Tensor t, long flat) {
        long[] dims = t.shape().dims();
        long[] index = new long[dims.length];
        for (int d = dims.length - 1; d >= 0; d--) {
            index[d] = flat % dims[d];
            flat /= dims[d];
        }
        return index;
    }
}
