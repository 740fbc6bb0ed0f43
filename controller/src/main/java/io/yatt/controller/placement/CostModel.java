package io.yatt.controller.placement;

import io.yatt.hybrid.ParallelLayout;

/**
 * The analytic cost model the placement planner scores with: every constant is named here and described in
 * docs/placement.md. Training and inference are compute bound (FLOPs over peak times an efficiency that falls with
 * the TP degree, stretched by the pipeline bubble) plus TP all-reduces, PP sends and the DP gradient all-reduce;
 * generation is memory-bandwidth bound per decode step (weights plus KV cache read per step, at most as many
 * sequences at once as free memory holds); the train-to-generation transition moves {@code ReshardPlanner}'s bytes
 * over NVLink or the network. Stateless and thread-safe.
 */
public final class CostModel {

    /** Share of device memory the planner fills; the rest is CUDA context, NCCL buffers and fragmentation. */
    public static final double USABLE_MEMORY_FRACTION = 0.9;
    /** Gradient bytes per trained parameter: fp32 main gradients (Megatron's gradient buffer), not sharded. */
    public static final int GRADIENT_BYTES_PER_PARAMETER = 4;
    /** Optimizer bytes per trained parameter: fp32 master weight, Adam m and v; sharded over DP (ZeRO-1). */
    public static final int OPTIMIZER_BYTES_PER_PARAMETER = 12;
    /** Bytes per parameter in the DP gradient all-reduce: bf16 gradients. */
    public static final int GRADIENT_SYNC_BYTES_PER_PARAMETER = 2;
    /** Sequences per training micro-batch. */
    public static final int TRAIN_MICRO_BATCH_SEQUENCES = 2;
    /** Sequences per inference micro-batch. */
    public static final int INFER_MICRO_BATCH_SEQUENCES = 8;
    /** Bytes kept per token per hidden unit per layer under full activation recomputation: the bf16 layer input. */
    public static final double CHECKPOINT_BYTES_PER_TOKEN_HIDDEN = 2;
    /** Working activation bytes of one layer per token per hidden unit (Korthikanti et al. 2022, 34sbh, flash attention). */
    public static final double LAYER_ACTIVATION_BYTES_PER_TOKEN_HIDDEN = 34;
    /** Bytes per token per vocabulary entry of the fp32 logits (actor and reference only; value heads are scalar). */
    public static final double LOGIT_BYTES_PER_TOKEN_VOCAB = 4;
    /** Training FLOPs as a multiple of forward FLOPs: forward, backward (2x) and the recomputed forward. */
    public static final double TRAIN_FLOPS_PER_FORWARD = 4;
    /** Model FLOPs utilisation of training at TP 1 (Megatron-LM reaches about half of peak on A100). */
    public static final double TRAIN_BASE_EFFICIENCY = 0.5;
    /** Model FLOPs utilisation of inference and prefill at TP 1. */
    public static final double INFER_BASE_EFFICIENCY = 0.5;
    /** Efficiency lost per doubling of the TP degree (smaller GEMMs per rank). */
    public static final double TP_EFFICIENCY_LOSS_PER_DOUBLING = 0.05;
    /** Share of the HBM bandwidth a decode step reaches reading weights and KV cache. */
    public static final double GENERATION_BANDWIDTH_EFFICIENCY = 0.7;
    /** Model FLOPs utilisation of a decode step when it is compute bound (large batches). */
    public static final double DECODE_COMPUTE_EFFICIENCY = 0.4;
    /** Share of the link bandwidth a large collective reaches. */
    public static final double COLLECTIVE_BANDWIDTH_EFFICIENCY = 0.8;
    /** Fixed cost of one small collective over NVLink (decode-step TP all-reduce, pipeline send), seconds. */
    public static final double NVLINK_LATENCY_S = 10e-6;
    /** Fixed cost of one small collective across nodes, seconds. */
    public static final double INTER_NODE_LATENCY_S = 25e-6;
    /** TP all-reduces per layer in training: 2 forward, 2 backward, 2 in the recomputed forward. */
    public static final int TRAIN_TP_ALLREDUCES_PER_LAYER = 6;
    /** TP all-reduces per layer in a forward pass (after attention and after the MLP). */
    public static final int FORWARD_TP_ALLREDUCES_PER_LAYER = 2;
    /** Passes over the batch per training stage (PPO epochs). */
    public static final int TRAIN_EPOCHS = 1;

    private CostModel() {
    }

    /** Usable device memory per GPU, bytes. */
    static long usableBytes(Cluster cluster) {
        return (long) (cluster.profile().hbmByteSize() * USABLE_MEMORY_FRACTION);
    }

    /** Bytes a role keeps on each rank between tasks: bf16 weights, plus gradients and sharded optimizer if trained. */
    static long residentBytes(Role role, ModelStats m, ParallelLayout layout) {
        long params = m.rankParameters(layout.p(), layout.t());
        long bytes = params * m.dtypeBytes;
        if (role.isTrained()) {
            bytes += params * GRADIENT_BYTES_PER_PARAMETER + params * OPTIMIZER_BYTES_PER_PARAMETER / layout.d();
        }
        return bytes;
    }

    /** Peak working bytes per rank of a training step: checkpointed layer inputs of in-flight micro-batches, one layer's activations, logits. */
    static long trainTransientBytes(Role role, ModelStats m, ParallelLayout layout, Workload w) {
        long microTokens = (long) TRAIN_MICRO_BATCH_SEQUENCES * w.sequenceTokens();
        long micro = ceilDiv(ceilDiv(w.globalBatchSequences(), layout.d()), TRAIN_MICRO_BATCH_SEQUENCES);
        long inFlight = Math.min(layout.p(), micro);
        double checkpoints = CHECKPOINT_BYTES_PER_TOKEN_HIDDEN * microTokens * m.hidden * (m.layers / layout.p())
                * inFlight / layout.t();
        return (long) (checkpoints + forwardTransient(role, m, layout, microTokens));
    }

    /** Peak working bytes per rank of a forward pass over one inference micro-batch. */
    static long inferTransientBytes(Role role, ModelStats m, ParallelLayout layout, Workload w) {
        return (long) forwardTransient(role, m, layout, (long) INFER_MICRO_BATCH_SEQUENCES * w.sequenceTokens());
    }

    private static double forwardTransient(Role role, ModelStats m, ParallelLayout layout, long tokens) {
        double layer = LAYER_ACTIVATION_BYTES_PER_TOKEN_HIDDEN * tokens * m.hidden / layout.t();
        double logits = role.hasValueHead() ? 0 : LOGIT_BYTES_PER_TOKEN_VOCAB * tokens * m.paddedVocab / layout.t();
        return layer + logits;
    }

    /** Seconds of one training stage of a role over the global batch in {@code layout}. */
    static double trainSeconds(ModelStats m, ParallelLayout layout, Workload w, Cluster c) {
        return TRAIN_EPOCHS * pass(m, layout, w, c, TRAIN_FLOPS_PER_FORWARD, TRAIN_BASE_EFFICIENCY,
                TRAIN_MICRO_BATCH_SEQUENCES, TRAIN_TP_ALLREDUCES_PER_LAYER, 2, true);
    }

    /** Seconds of one forward pass of a role over the global batch in {@code layout}. */
    static double inferSeconds(ModelStats m, ParallelLayout layout, Workload w, Cluster c) {
        return pass(m, layout, w, c, 1, INFER_BASE_EFFICIENCY, INFER_MICRO_BATCH_SEQUENCES,
                FORWARD_TP_ALLREDUCES_PER_LAYER, 1, false);
    }

    private static double pass(ModelStats m, ParallelLayout layout, Workload w, Cluster c, double flopsPerForward,
                               double baseEfficiency, int microSequences, int allReducesPerLayer, int ppSends,
                               boolean syncGradients) {
        int p = layout.p();
        int t = layout.t();
        int d = layout.d();
        int g = c.gpusPerNode();
        long sequences = ceilDiv(w.globalBatchSequences(), d);
        long tokens = sequences * w.sequenceTokens();
        double flops = flopsPerForward * m.forwardFlopsPerToken(w.sequenceTokens()) * tokens;
        long micro = ceilDiv(sequences, microSequences);
        double bubble = (double) (micro + p - 1) / micro;
        double compute = flops / ((double) p * t * c.profile().peakBf16FlopsPerS() * efficiency(baseEfficiency, t))
                * bubble;
        double activationBytes = (double) tokens * m.hidden * m.dtypeBytes;
        double tp = t == 1 ? 0 : allReduceSeconds(activationBytes, t, nvlink(c), NVLINK_LATENCY_S)
                * allReducesPerLayer * (m.layers / p);
        boolean ppCrossesNodes = (long) p * t > g;
        double tpp = p == 1 ? 0 : ppSends * (activationBytes / t / (linkBandwidth(c, ppCrossesNodes))
                + micro * latency(ppCrossesNodes));
        boolean dpCrossesNodes = layout.worldSize() > g;
        double dp = !syncGradients || d == 1 ? 0 : allReduceSeconds(
                (double) m.rankParameters(p, t) * GRADIENT_SYNC_BYTES_PER_PARAMETER, d,
                linkBandwidth(c, dpCrossesNodes), latency(dpCrossesNodes));
        return compute + tp + tpp + dp;
    }

    /** Efficiency at TP degree {@code t}: the base less {@link #TP_EFFICIENCY_LOSS_PER_DOUBLING} per doubling. */
    static double efficiency(double base, int t) {
        return base * (1 - TP_EFFICIENCY_LOSS_PER_DOUBLING * (31 - Integer.numberOfLeadingZeros(t)));
    }

    /** Ring all-reduce of {@code bytes} over {@code n} ranks: {@code 2(n-1)/n * bytes} over the link, plus latency. */
    static double allReduceSeconds(double bytes, int n, double bandwidth, double latencyS) {
        return 2.0 * (n - 1) / n * bytes / bandwidth + latencyS;
    }

    /**
     * The cost of one generation task (every sequence of the global batch decoded once) by the actor in generation
     * layout {@code p_g-t_g} over the training layout's ranks, with {@code freeBytesPerRank} left by everything
     * resident; {@code null} if not even one sequence's KV cache fits.
     */
    static GenerationCost generation(ModelStats m, ParallelLayout train, int pg, int tg, Workload w, Cluster c,
                                     long freeBytesPerRank) {
        int replicas = train.worldSize() / (pg * tg);
        long sequences = ceilDiv(w.globalBatchSequences(), replicas);
        long genWeightBytes = m.rankParameters(pg, tg) * m.dtypeBytes;
        long extraWeightBytes = genWeightBytes - m.rankParameters(train.p(), train.t()) * m.dtypeBytes;
        double kvPerTokenPerRank = m.kvBytesPerTokenPerRank(pg, tg);
        double kvPerSequence = kvPerTokenPerRank * w.sequenceTokens();
        long free = freeBytesPerRank - extraWeightBytes;
        long fit = free <= 0 ? 0 : (long) (free / kvPerSequence);
        if (fit < 1) {
            return null;
        }
        long concurrent = Math.min(sequences, fit);
        long waves = ceilDiv(sequences, concurrent);
        DeviceProfile dev = c.profile();
        double prefillFlops = m.forwardFlopsPerToken(w.promptTokens()) * w.promptTokens() * concurrent;
        double prefill = prefillFlops / ((double) pg * tg * dev.peakBf16FlopsPerS()
                * efficiency(INFER_BASE_EFFICIENCY, tg));
        double averageContext = w.promptTokens() + w.responseTokens() / 2.0;
        double stageBytes = genWeightBytes + concurrent * averageContext * kvPerTokenPerRank;
        double memory = stageBytes / (dev.hbmBandwidthBytesPerS() * GENERATION_BANDWIDTH_EFFICIENCY);
        double compute = 2.0 * m.parameterCount / ((double) pg * tg) * concurrent
                / (dev.peakBf16FlopsPerS() * DECODE_COMPUTE_EFFICIENCY);
        double step = pg * Math.max(memory, compute)
                + (tg == 1 ? 0 : FORWARD_TP_ALLREDUCES_PER_LAYER * m.layers * NVLINK_LATENCY_S)
                + (pg - 1) * latency((long) pg * tg > c.gpusPerNode());
        double seconds = waves * (prefill + w.responseTokens() * step);
        return new GenerationCost(seconds, concurrent, waves, extraWeightBytes,
                (long) Math.ceil(concurrent * kvPerSequence));
    }

    /** Seconds to receive {@code bytesPerRank} in the transition's all-gather, inside a node or across nodes. */
    static double transitionSeconds(long bytesPerRank, boolean crossesNodes, Cluster c) {
        return bytesPerRank == 0 ? 0 : bytesPerRank / linkBandwidth(c, crossesNodes) + latency(crossesNodes);
    }

    private static double nvlink(Cluster c) {
        return c.profile().nvlinkBandwidthBytesPerS() * COLLECTIVE_BANDWIDTH_EFFICIENCY;
    }

    private static double linkBandwidth(Cluster c, boolean crossesNodes) {
        return (crossesNodes ? c.profile().interNodeBandwidthBytesPerS() : c.profile().nvlinkBandwidthBytesPerS())
                * COLLECTIVE_BANDWIDTH_EFFICIENCY;
    }

    private static double latency(boolean crossesNodes) {
        return crossesNodes ? INTER_NODE_LATENCY_S : NVLINK_LATENCY_S;
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /**
     * One generation task's predicted cost.
     *
     * @param seconds wall time
     * @param concurrentSequences sequences decoded at once per replica (limited by free memory)
     * @param waves rounds of decoding per replica
     * @param extraWeightBytes generation weight bytes per rank beyond the training shard
     * @param kvCacheBytes KV-cache bytes per rank at the peak
     */
    record GenerationCost(double seconds, long concurrentSequences, long waves, long extraWeightBytes,
                          long kvCacheBytes) {
    }
}
