package io.yatt.trainer.algo;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where a batch's rows are when they are spread over ranks: which rows of the whole batch this rank holds (its
 * local rows, in local order) and how per-row values of every rank are gathered. The batch-wide quantities of the
 * estimators (whitening's mean and variance, group statistics, the batch KL) are reduced from per-row partials in
 * batch order, so every rank gets the same value, bit for bit, whatever the number of ranks and whichever rows each
 * holds; {@link #whole} is the one-rank case. Immutable; thread-safe if its {@link Gather} is (the one of
 * {@link #whole} is; a collective one is confined to its rank's thread).
 */
public final class BatchShard {

    /**
     * Gathers per-row values over the ranks that share a batch: every rank passes the values of its local rows
     * ({@code width} doubles per row, local order) and gets every rank's, rank-major. Collective.
     */
    @FunctionalInterface
    public interface Gather {
        /** Every rank's {@code mine} (the same length on every rank), concatenated in rank order. */
        double[] gather(double[] mine);
    }

    private final int batch;
    private final int rank;
    private final int[][] rowsByRank;
    private final Gather gather;

    private BatchShard(int batch, int rank, int[][] rowsByRank, Gather gather) {
        this.batch = batch;
        this.rank = rank;
        this.rowsByRank = rowsByRank;
        this.gather = gather;
    }

    /**
     * One rank holding the whole batch, rows in batch order.
     *
     * @throws IllegalArgumentException if {@code batch} is negative
     */
    public static BatchShard whole(int batch) {
        if (batch < 0) {
            throw new IllegalArgumentException("batch must not be negative: batch=" + batch);
        }
        int[] rows = new int[batch];
        Arrays.setAll(rows, i -> i);
        return new BatchShard(batch, 0, new int[][] {rows}, mine -> mine.clone());
    }

    /**
     * Rank {@code rank} of the ranks that share a batch of {@code batch} rows, rank {@code q} holding the rows
     * {@code rowsByRank[q]} (whole-batch indices, in that rank's local order); {@code gather} gathers over those ranks
     * in rank order.
     *
     * @throws IllegalArgumentException if the ranks hold different numbers of rows, a row is out of range or held
     *         twice or by no rank, or {@code rank} is out of range
     */
    public static BatchShard of(int batch, int[][] rowsByRank, int rank, Gather gather) {
        Objects.requireNonNull(gather, "gather");
        if (rank < 0 || rank >= rowsByRank.length) {
            throw new IllegalArgumentException("rank out of range: rank=" + rank + ", ranks=" + rowsByRank.length);
        }
        int[][] rows = new int[rowsByRank.length][];
        int[] holder = new int[batch];
        Arrays.fill(holder, -1);
        for (int q = 0; q < rowsByRank.length; q++) {
            rows[q] = rowsByRank[q].clone();
            if (rows[q].length != rows[0].length) {
                throw new IllegalArgumentException("ranks hold different numbers of rows: rank=" + q + ", rows="
                        + rows[q].length + ", expected=" + rows[0].length);
            }
            for (int row : rows[q]) {
                if (row < 0 || row >= batch) {
                    throw new IllegalArgumentException("row out of range: rank=" + q + ", row=" + row + ", batch="
                            + batch);
                }
                if (holder[row] >= 0) {
                    throw new IllegalArgumentException("row held twice: row=" + row + ", ranks=" + holder[row] + ","
                            + q);
                }
                holder[row] = q;
            }
        }
        for (int row = 0; row < batch; row++) {
            if (holder[row] < 0) {
                throw new IllegalArgumentException("row held by no rank: row=" + row + ", batch=" + batch);
            }
        }
        return new BatchShard(batch, rank, rows, gather);
    }

    /** Rows of the whole batch. */
    public int batch() {
        return batch;
    }

    /** This rank's rows: their whole-batch indices, in local order (a copy). */
    public int[] rows() {
        return rowsByRank[rank].clone();
    }

    /** Number of rows this rank holds. */
    public int localRows() {
        return rowsByRank[rank].length;
    }

    /**
     * The per-row values of the whole batch, in batch order ({@code width} per row), from this rank's
     * {@code mine} ({@code width} per local row, local order). Collective over the ranks of the shard.
     *
     * @throws IllegalArgumentException if {@code mine} is not {@code width} values per local row
     * @throws IllegalStateException if the gather returns another length than every rank's rows need
     */
    public double[] allRows(double[] mine, int width) {
        int local = localRows();
        if (width < 1 || mine.length != local * width) {
            throw new IllegalArgumentException("per-row values do not fit this rank's rows: values=" + mine.length
                    + ", width=" + width + ", localRows=" + local);
        }
        double[] gathered = gather.gather(mine);
        if (gathered.length != rowsByRank.length * local * width) {
            throw new IllegalStateException("gather returned a wrong length: values=" + gathered.length
                    + ", expected=" + rowsByRank.length * local * width);
        }
        double[] out = new double[batch * width];
        int at = 0;
        for (int[] rows : rowsByRank) {
            for (int row : rows) {
                System.arraycopy(gathered, at, out, row * width, width);
                at += width;
            }
        }
        return out;
    }

    /**
     * This rank's rows of a whole-batch per-row array ({@code width} values per row), in local order.
     *
     * @throws IllegalArgumentException if {@code all} is not {@code width} values per row of the batch
     */
    public double[] mine(double[] all, int width) {
        if (width < 1 || all.length != batch * width) {
            throw new IllegalArgumentException("per-row values do not fit the batch: values=" + all.length
                    + ", width=" + width + ", batch=" + batch);
        }
        int[] rows = rowsByRank[rank];
        double[] out = new double[rows.length * width];
        for (int k = 0; k < rows.length; k++) {
            System.arraycopy(all, rows[k] * width, out, k * width, width);
        }
        return out;
    }

    /**
     * Checks that a local tensor holds this rank's rows.
     *
     * @throws IllegalArgumentException if {@code x} has another number of rows
     */
    void requireLocal(String name, BatchTensor x) {
        if (x.batch() != localRows()) {
            throw new IllegalArgumentException(name + " does not hold this rank's rows: batch=" + x.batch()
                    + ", localRows=" + localRows());
        }
    }
}
