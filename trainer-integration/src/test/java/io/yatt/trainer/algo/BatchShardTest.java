package io.yatt.trainer.algo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class BatchShardTest {

    private static final int BATCH = 24;
    private static final int SEQ = 7;
    private static final int N = 3;

    /** A batch with ragged masks (row 5 all masked, some observation tokens masked inside rows). */
    private record Batch(float[] rewards, float[] mask, float[] values, float[] costs, float[] costValues,
                         float[] old, float[] ref, int[] ids, float[] baselines) {
        static Batch random(long seed) {
            Random rnd = new Random(seed);
            float[] rewards = new float[BATCH * SEQ];
            float[] mask = new float[BATCH * SEQ];
            float[] values = new float[BATCH * SEQ];
            float[] costs = new float[BATCH * SEQ];
            float[] costValues = new float[BATCH * SEQ];
            float[] old = new float[BATCH * SEQ];
            float[] ref = new float[BATCH * SEQ];
            int[] ids = new int[BATCH];
            float[] baselines = new float[BATCH];
            for (int b = 0; b < BATCH; b++) {
                int len = b == 5 ? 0 : 1 + rnd.nextInt(SEQ);
                ids[b] = b / N;
                baselines[b] = (float) rnd.nextGaussian();
                for (int t = 0; t < SEQ; t++) {
                    int i = b * SEQ + t;
                    mask[i] = t < len && (t != 2 || b % 4 != 1) ? 1f : 0f;
                    rewards[i] = t == Math.max(0, len - 1) ? (float) rnd.nextGaussian() : 0f;
                    values[i] = (float) rnd.nextGaussian();
                    costs[i] = t == Math.max(0, len - 1) ? (float) rnd.nextGaussian() : 0f;
                    costValues[i] = (float) rnd.nextGaussian();
                    old[i] = (float) -Math.abs(rnd.nextGaussian());
                    ref[i] = (float) -Math.abs(rnd.nextGaussian());
                }
            }
            return new Batch(rewards, mask, values, costs, costValues, old, ref, ids, baselines);
        }

        /** The rows {@code rows} of a {@code [BATCH, SEQ]} array. */
        static BatchTensor rows(float[] all, int[] rows) {
            float[] out = new float[rows.length * SEQ];
            for (int k = 0; k < rows.length; k++) {
                System.arraycopy(all, rows[k] * SEQ, out, k * SEQ, SEQ);
            }
            return BatchTensor.of(rows.length, SEQ, out);
        }

        AdvantageInput input(int[] rows) {
            int[] ids = new int[rows.length];
            float[] base = new float[rows.length];
            for (int k = 0; k < rows.length; k++) {
                ids[k] = this.ids[rows[k]];
                base[k] = baselines[rows[k]];
            }
            return AdvantageInput.builder(rows(rewards, rows), rows(mask, rows)).values(rows(values, rows))
                    .groupIds(ids).rewardBaselines(base).build();
        }
    }

    /** Rows spread over {@code ranks} as the trainer's update order does: each rank a chunk of every mini-batch. */
    private static int[][] spread(int ranks, int miniBatches) {
        int mini = BATCH / miniBatches;
        int[][] rows = new int[ranks][BATCH / ranks];
        int per = mini / ranks;
        for (int r = 0; r < ranks; r++) {
            int k = 0;
            for (int u = 0; u < miniBatches; u++) {
                for (int j = 0; j < per; j++) {
                    rows[r][k++] = u * mini + r * per + j;
                }
            }
        }
        return rows;
    }

    /** Runs {@code body} on every rank of a shard over {@code rows}, each on its own thread; results by rank. */
    private static <T> List<T> onEveryRank(int[][] rows, Function<BatchShard, T> body) throws Exception {
        int ranks = rows.length;
        double[][] slots = new double[ranks][];
        CyclicBarrier barrier = new CyclicBarrier(ranks);
        ExecutorService pool = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                BatchShard shard = BatchShard.of(BATCH, rows, rank, mine -> {
                    try {
                        slots[rank] = mine.clone();
                        barrier.await();
                        double[] all = new double[mine.length * ranks];
                        for (int q = 0; q < ranks; q++) {
                            System.arraycopy(slots[q], 0, all, q * mine.length, mine.length);
                        }
                        barrier.await();
                        return all;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                futures.add(pool.submit(() -> body.apply(shard)));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                out.add(f.get());
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void assertRowsEqual(BatchTensor whole, int[] rows, BatchTensor local, String what) {
        assertArrayEquals(Batch.rows(whole.toArray(), rows).toArray(), local.toArray(), what);
    }

    @Test
    void shouldGiveEveryShardableEstimatorTheWholeBatchResultBitForBit() throws Exception {
        Batch b = Batch.random(42);
        int[] all = BatchShard.whole(BATCH).rows();
        AdvantageConfig cfg = AdvantageConfig.DEFAULTS.withGammaLam(0.9, 0.8);
        for (String name : AdvantageEstimators.SHARDABLE) {
            AdvantageResult whole = AlgorithmRegistry.advantageEstimator(name).estimate(b.input(all), cfg);
            for (int ranks : new int[] {1, 2, 3, 4}) {
                int[][] rows = spread(ranks, 2);
                List<AdvantageResult> parts = onEveryRank(rows,
                        shard -> AdvantageEstimators.estimate(name, b.input(shard.rows()), cfg, shard));
                for (int r = 0; r < ranks; r++) {
                    String what = name + " on rank " + r + " of " + ranks;
                    assertRowsEqual(whole.advantages(), rows[r], parts.get(r).advantages(), what + ": advantages");
                    assertRowsEqual(whole.returns(), rows[r], parts.get(r).returns(), what + ": returns");
                }
            }
        }
    }

    @Test
    void shouldGiveTheWholeBatchKlAndCostAdvantagesOnEveryRank() throws Exception {
        Batch b = Batch.random(7);
        int[] all = BatchShard.whole(BATCH).rows();
        KlPenalty k3 = KlPenalty.fromName("k3");
        KlController wholeCtl = KlController.adaptive(0.1, 6.0, 100);
        KlRewardResult wholeKl = KlRewards.applyKlPenalty(Batch.rows(b.rewards, all), Batch.rows(b.old, all),
                Batch.rows(b.ref, all), Batch.rows(b.mask, all), wholeCtl, k3);
        AdvantageResult wholeCost = SafeRlhf.costAdvantages(Batch.rows(b.costs, all), Batch.rows(b.costValues, all),
                Batch.rows(b.mask, all), 0.9, 0.8, true);
        int[][] rows = spread(4, 2);
        List<Object[]> parts = onEveryRank(rows, shard -> {
            int[] mine = shard.rows();
            KlController ctl = KlController.adaptive(0.1, 6.0, 100);
            KlRewardResult kl = KlRewards.applyKlPenalty(Batch.rows(b.rewards, mine), Batch.rows(b.old, mine),
                    Batch.rows(b.ref, mine), Batch.rows(b.mask, mine), ctl, k3, shard);
            AdvantageResult cost = SafeRlhf.costAdvantages(Batch.rows(b.costs, mine), Batch.rows(b.costValues, mine),
                    Batch.rows(b.mask, mine), 0.9, 0.8, true, shard);
            double mean = TensorFunctions.maskedMean(Batch.rows(b.values, mine), Batch.rows(b.mask, mine), shard);
            return new Object[] {kl, ctl.value(), cost, mean};
        });
        double wholeMean = TensorFunctions.maskedMean(Batch.rows(b.values, all), Batch.rows(b.mask, all),
                BatchShard.whole(BATCH));
        for (int r = 0; r < rows.length; r++) {
            KlRewardResult kl = (KlRewardResult) parts.get(r)[0];
            assertEquals(wholeKl.currentKl(), kl.currentKl(), 0.0, "current KL on rank " + r);
            assertEquals(wholeCtl.value(), (double) parts.get(r)[1], 0.0, "KL coefficient on rank " + r);
            assertRowsEqual(wholeKl.tokenLevelRewards(), rows[r], kl.tokenLevelRewards(), "rewards on rank " + r);
            AdvantageResult cost = (AdvantageResult) parts.get(r)[2];
            assertRowsEqual(wholeCost.advantages(), rows[r], cost.advantages(), "cost advantages on rank " + r);
            assertEquals(wholeMean, (double) parts.get(r)[3], 0.0, "masked mean on rank " + r);
        }
    }

    @Test
    void shouldGiveOtherResultsWhenTheGatherLosesARank() {
        // The check above can fail: a gather that repeats this rank's rows instead of the others' changes GAE.
        Batch b = Batch.random(42);
        int[][] rows = spread(2, 2);
        BatchShard broken = BatchShard.of(BATCH, rows, 0, mine -> {
            double[] out = new double[mine.length * 2];
            System.arraycopy(mine, 0, out, 0, mine.length);
            System.arraycopy(mine, 0, out, mine.length, mine.length);
            return out;
        });
        AdvantageConfig cfg = AdvantageConfig.DEFAULTS;
        AdvantageResult whole = AdvantageEstimators.gae(b.input(BatchShard.whole(BATCH).rows()), cfg);
        AdvantageResult part = AdvantageEstimators.estimate("gae", b.input(rows[0]), cfg, broken);
        assertNotEquals(Arrays.toString(Batch.rows(whole.advantages().toArray(), rows[0]).toArray()),
                Arrays.toString(part.advantages().toArray()));
    }

    @Test
    void shouldRejectSpreadsThatDoNotCoverTheBatchOnce() {
        BatchShard.Gather none = mine -> mine;
        assertEquals("row held twice: row=1, ranks=0,1", assertThrows(IllegalArgumentException.class,
                () -> BatchShard.of(4, new int[][] {{0, 1}, {1, 2}}, 0, none)).getMessage());
        assertEquals("row held by no rank: row=4, batch=5", assertThrows(IllegalArgumentException.class,
                () -> BatchShard.of(5, new int[][] {{0, 1}, {2, 3}}, 0, none)).getMessage());
        assertEquals("ranks hold different numbers of rows: rank=1, rows=1, expected=2",
                assertThrows(IllegalArgumentException.class,
                        () -> BatchShard.of(3, new int[][] {{0, 1}, {2}}, 0, none)).getMessage());
        assertEquals("row out of range: rank=1, row=4, batch=4", assertThrows(IllegalArgumentException.class,
                () -> BatchShard.of(4, new int[][] {{0, 1}, {2, 4}}, 0, none)).getMessage());
        assertEquals("rank out of range: rank=2, ranks=2", assertThrows(IllegalArgumentException.class,
                () -> BatchShard.of(4, new int[][] {{0, 1}, {2, 3}}, 2, none)).getMessage());
    }

    @Test
    void shouldRejectInputsThatAreNotTheRanksRowsAndEstimatorsThatNeedWholeGroups() {
        Batch b = Batch.random(1);
        BatchShard shard = BatchShard.of(BATCH, spread(2, 1), 0, mine -> mine);
        AdvantageConfig cfg = AdvantageConfig.DEFAULTS;
        assertEquals("tokenLevelRewards does not hold this rank's rows: batch=24, localRows=12",
                assertThrows(IllegalArgumentException.class, () -> AdvantageEstimators.estimate("gae",
                        b.input(BatchShard.whole(BATCH).rows()), cfg, shard)).getMessage());
        assertEquals("advantage estimator does not run on a batch spread over ranks: estimator=optimal_token_baseline"
                + ", expected one of " + AdvantageEstimators.SHARDABLE, assertThrows(IllegalArgumentException.class,
                        () -> AdvantageEstimators.estimate("optimal_token_baseline", b.input(shard.rows()), cfg,
                                shard)).getMessage());
        assertEquals("gather returned a wrong length: values=12, expected=24", assertThrows(
                IllegalStateException.class, () -> shard.allRows(new double[12], 1)).getMessage());
        assertEquals("per-row values do not fit this rank's rows: values=5, width=1, localRows=12", assertThrows(
                IllegalArgumentException.class, () -> shard.allRows(new double[5], 1)).getMessage());
    }
}
