package io.yatt.trainer.algo;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a {@code [batch, seq]} loss matrix becomes a scalar, matching verl's {@code core_algos.agg_loss} (current
 * main, with {@code dp_size}, {@code batch_num_tokens}, {@code global_batch_size} and {@code loss_scale_factor}).
 * Each mode is selected by the name users put in configs ({@link #configName()}).
 */
public enum LossAggMode {
    /** {@code masked_sum(L, m) / batch_num_tokens * dp_size}; batch_num_tokens defaults to {@code m.sum()}. */
    TOKEN_MEAN("token-mean"),
    /** Per-sequence token sum, averaged over the sequences with at least one unmasked token. */
    SEQ_MEAN_TOKEN_SUM("seq-mean-token-sum"),
    /** Per-sequence token mean ({@code sum / (count + 1e-8)}), averaged over non-empty sequences. */
    SEQ_MEAN_TOKEN_MEAN("seq-mean-token-mean"),
    /** seq-mean-token-sum divided by loss_scale_factor (default: the padded length {@code seq}). */
    SEQ_MEAN_TOKEN_SUM_NORM("seq-mean-token-sum-norm"),
    /**
     * {@code masked_sum(L, m) * dp_size}, no normaliser (verl 0.9.1): averaging gradients over data-parallel ranks
     * then gives the global-batch token sum.
     */
    TOKEN_SUM("token-sum");

    private static final Map<String, LossAggMode> BY_NAME;

    static {
        Map<String, LossAggMode> m = new LinkedHashMap<>();
        for (LossAggMode mode : values()) {
            m.put(mode.configName, mode);
        }
        BY_NAME = Map.copyOf(m);
    }

    private final String configName;

    LossAggMode(String configName) {
        this.configName = configName;
    }

    /** The name used in configs, e.g. {@code token-mean}. */
    public String configName() {
        return configName;
    }

    /** The config names of all modes, in declaration order. */
    public static List<String> configNames() {
        return Arrays.stream(values()).map(LossAggMode::configName).toList();
    }

    /**
     * The mode with this config name.
     *
     * @throws IllegalArgumentException naming the unknown mode and listing the valid ones
     */
    public static LossAggMode fromName(String name) {
        LossAggMode mode = BY_NAME.get(name);
        if (mode == null) {
            throw new IllegalArgumentException("unknown loss_agg_mode: name=" + name + ", valid=" + configNames());
        }
        return mode;
    }

    /** {@link #aggregate(BatchTensor, BatchTensor, AggOptions)} with {@link AggOptions#LOCAL}. */
    public AggregatedLoss aggregate(BatchTensor lossMat, BatchTensor mask) {
        return aggregate(lossMat, mask, AggOptions.LOCAL);
    }

    /**
     * The scalar loss and its gradient with respect to {@code lossMat}. As in verl, token-mean ignores masked
     * elements even when they are NaN, while the seq-mean modes sum {@code L * m}, so a NaN or infinity at a masked
     * position of a partly masked row propagates (a wholly masked row is dropped). A micro batch with no unmasked
     * token gives NaN under token-mean and the seq-mean modes with local counts (0 / 0), as verl does.
     *
     * @throws IllegalArgumentException if the shapes differ, the mask is not 0/1, or {@code dpSize > 1} without the
     *         global count the mode needs
     */
    public AggregatedLoss aggregate(BatchTensor lossMat, BatchTensor mask, AggOptions options) {
        TensorFunctions.checkMask(lossMat, mask);
        int batch = lossMat.batch();
        int seq = lossMat.seq();
        float[] grad = new float[lossMat.count()];
        int dp = options.dpSize();
        if (this == TOKEN_MEAN) {
            double tokens = options.batchNumTokens();
            if (options.batchNumTokens() == AggOptions.UNSET) {
                if (dp > 1) {
                    throw new IllegalArgumentException("(global) batch_num_tokens is required when dp_size > 1: "
                            + "dpSize=" + dp);
                }
                tokens = TensorFunctions.count(mask);
            }
            double value = TensorFunctions.maskedSum(lossMat, mask) / tokens * dp;
            float g = (float) (dp / tokens);
            for (int i = 0; i < grad.length; i++) {
                grad[i] = mask.at(i) != 0f ? g : 0f;
            }
            return new AggregatedLoss(value, BatchTensor.wrap(batch, seq, grad));
        }
        if (this == TOKEN_SUM) {
            double value = TensorFunctions.maskedSum(lossMat, mask) * dp;
            for (int i = 0; i < grad.length; i++) {
                grad[i] = mask.at(i) != 0f ? dp : 0f;
            }
            return new AggregatedLoss(value, BatchTensor.wrap(batch, seq, grad));
        }
        double[] counts = TensorFunctions.rowCounts(mask);
        double[] seqLoss = new double[batch];
        double nonEmpty = 0;
        for (int b = 0; b < batch; b++) {
            double s = 0;
            for (int t = 0; t < seq; t++) {
                int i = b * seq + t;
                s += (double) lossMat.at(i) * mask.at(i);
            }
            seqLoss[b] = this == SEQ_MEAN_TOKEN_MEAN ? s / (counts[b] + TensorFunctions.MASK_EPSILON) : s;
            if (counts[b] > 0) {
                nonEmpty++;
            }
        }
        double sequences = options.globalBatchSize();
        if (options.globalBatchSize() == AggOptions.UNSET) {
            if (dp > 1) {
                throw new IllegalArgumentException("global_batch_size is required when dp_size > 1: dpSize=" + dp);
            }
            sequences = nonEmpty;
        }
        double scale = 1;
        if (this == SEQ_MEAN_TOKEN_SUM_NORM) {
            scale = options.lossScaleFactor() == AggOptions.UNSET ? seq : options.lossScaleFactor();
        }
        double sum = 0;
        for (int b = 0; b < batch; b++) {
            if (counts[b] > 0) {
                sum += seqLoss[b];
            }
        }
        double value = sum / sequences * dp / scale;
        for (int b = 0; b < batch; b++) {
            if (counts[b] == 0) {
                continue;
            }
            double rowGrad = dp / sequences / scale;
            if (this == SEQ_MEAN_TOKEN_MEAN) {
                rowGrad /= counts[b] + TensorFunctions.MASK_EPSILON;
            }
            for (int t = 0; t < seq; t++) {
                int i = b * seq + t;
                grad[i] = (float) (rowGrad * mask.at(i));
            }
        }
        return new AggregatedLoss(value, BatchTensor.wrap(batch, seq, grad));
    }
}
