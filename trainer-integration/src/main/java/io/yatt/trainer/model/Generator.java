package io.yatt.trainer.model;

import io.yatt.collectives.ReduceOp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Batched autoregressive sampling on a {@link LlamaModel} rank (for instance one built on the hybrid engine's
 * generation-layout weights) with a KV cache allocated once for {@code maxBatch} sequences of {@code maxSeqLen}
 * positions. Prompts of different lengths are left-padded to the longest; positions count real tokens only. The
 * prompt runs in one prefill pass, then one token per step. Only the sampled position's logits are gathered over the
 * tensor-parallel group (B x vocab), and every rank samples the same token.
 *
 * <p>Each sample draws from its own {@code SplittableRandom(seed)} (one {@code nextDouble()} per step, greedy
 * included), so its tokens do not depend on the other samples of its batch; with another TP degree the logits differ
 * only by the rounding of the all-reduce. The returned log-probabilities are those of the chosen tokens under
 * {@code softmax(logits / temperature)} over the whole vocabulary (temperature 1 when greedy), before top-k and top-p.
 * Confined to one thread per rank; every rank must make the same calls.
 */
public final class Generator {

    /**
     * How to pick tokens.
     *
     * @param maxNewTokens tokens to generate at most, positive
     * @param temperature 0 for greedy (argmax, lowest id on ties), else positive
     * @param topK keep the k most likely tokens; 0 keeps all
     * @param topP keep the smallest set of most likely tokens whose probability reaches p, in (0, 1]; 1 keeps all
     * @param stopTokens a sample ends after generating one of these (it is included in the output)
     */
    public record Sampling(int maxNewTokens, float temperature, int topK, float topP, int[] stopTokens) {
        /**
         * @throws IllegalArgumentException naming a value out of range
         */
        public Sampling {
            if (maxNewTokens <= 0) {
                throw new IllegalArgumentException("max new tokens must be positive: maxNewTokens=" + maxNewTokens);
            }
            if (!(temperature >= 0) || Float.isInfinite(temperature)) {
                throw new IllegalArgumentException("temperature must be finite and non-negative: temperature="
                        + temperature);
            }
            if (topK < 0) {
                throw new IllegalArgumentException("top-k must be non-negative: topK=" + topK);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("top-p must be in (0, 1]: topP=" + topP);
            }
            stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
        }

        /** Greedy decoding of up to {@code maxNewTokens} tokens without stop tokens. */
        public static Sampling greedy(int maxNewTokens) {
            return new Sampling(maxNewTokens, 0f, 0, 1f, new int[0]);
        }
    }

    /**
     * One generated continuation.
     *
     * @param tokens the new tokens (without the prompt)
     * @param logProbs the log-probability of each new token
     * @param stopped whether it ended on a stop token
     */
    public record Sample(int[] tokens, float[] logProbs, boolean stopped) {
    }

    private final LlamaModel model;
    private final HostGroup tp;
    private final int maxBatch;
    private final int maxSeqLen;
    private final int c;
    private final int nh;
    private final int kv;
    private final int hd;
    private final int qkvWidth;
    private final int ffn;
    private final int vocabLocal;
    private final int vocabStart;
    private final int paddedVocab;
    private final float eps;
    private final float[][] kCache;
    private final float[][] vCache;
    // scratch, grown to the largest prefill
    private int capRows;
    private float[] x;
    private float[] ln;
    private float[] rstd;
    private float[] qkvBuf;
    private float[] y;
    private float[] tmp;
    private float[] gu;
    private float[] h;
    private float[] scores;
    private final float[] lastHidden;
    private final float[] lastRstd;
    private final float[] logitsLocal;
    private final float[] logitsFull;
    private final double[] prob;
    private final float[] gathered;
    private int[] pos;
    private final long[] order;

    private Generator(LlamaModel model, int maxBatch, int maxSeqLen) {
        this.model = model;
        this.tp = model.group();
        this.maxBatch = maxBatch;
        this.maxSeqLen = maxSeqLen;
        LlamaConfig config = model.config();
        this.c = config.hiddenSize();
        this.nh = model.localHeads();
        this.kv = model.localKvHeads();
        this.hd = config.headDim();
        this.qkvWidth = (nh + 2 * kv) * hd;
        this.ffn = model.localFfn();
        this.vocabLocal = model.vocabLocal();
        this.vocabStart = model.vocabStart();
        this.paddedVocab = vocabLocal * model.tpSize();
        this.eps = (float) config.rmsNormEps();
        int layers = config.numHiddenLayers();
        this.kCache = new float[layers][maxBatch * kv * maxSeqLen * hd];
        this.vCache = new float[layers][maxBatch * kv * maxSeqLen * hd];
        this.lastHidden = new float[maxBatch * c];
        this.lastRstd = new float[maxBatch];
        this.logitsLocal = new float[maxBatch * vocabLocal];
        this.logitsFull = new float[maxBatch * paddedVocab];
        this.scores = new float[maxBatch * nh * maxSeqLen];
        this.prob = new double[config.vocabSize()];
        this.gathered = new float[maxBatch * paddedVocab];
        this.order = new long[config.vocabSize()];
    }

    /**
     * A generator over a language-model rank with a KV cache for {@code maxBatch} sequences of {@code maxSeqLen}
     * positions (prompt plus new tokens).
     *
     * @throws IllegalArgumentException if the model's head is not the language model, or a size is not positive or
     *         maxSeqLen passes max_position_embeddings
     */
    public static Generator create(LlamaModel model, int maxBatch, int maxSeqLen) {
        Objects.requireNonNull(model, "model");
        if (model.head() != Head.LANGUAGE_MODEL) {
            throw new IllegalArgumentException("generation needs the language-model head: head=" + model.head());
        }
        if (maxBatch <= 0 || maxSeqLen <= 0) {
            throw new IllegalArgumentException("cache sizes must be positive: maxBatch=" + maxBatch + ", maxSeqLen="
                    + maxSeqLen);
        }
        if (maxSeqLen > model.config().maxPositionEmbeddings()) {
            throw new IllegalArgumentException("cache longer than max_position_embeddings: maxSeqLen=" + maxSeqLen
                    + ", max_position_embeddings=" + model.config().maxPositionEmbeddings());
        }
        return new Generator(model, maxBatch, maxSeqLen);
    }

    /**
     * Generates one continuation per prompt; sample {@code i} draws from {@code SplittableRandom(seeds[i])}.
     *
     * @throws IllegalArgumentException if there are more prompts than maxBatch, a prompt is empty, a token is out of
     *         the vocabulary, the seeds do not match the prompts, or the longest prompt plus maxNewTokens passes
     *         maxSeqLen
     */
    public List<Sample> generate(List<int[]> prompts, Sampling sampling, long[] seeds) {
        return generatePass(prompts, sampling, seeds);
    }

    /**
     * Generates one continuation per prompt for any number of prompts, in passes of at most {@code maxBatch}
     * consecutive prompts (each pass as {@link #generate}), so the cache never holds more than {@code maxBatch}
     * sequences; sample {@code i} draws from {@code SplittableRandom(seeds[i])} whichever pass it is in.
     *
     * @throws IllegalArgumentException if there are no prompts, the seeds do not match them, or as {@link #generate}
     */
    public List<Sample> generateAll(List<int[]> prompts, Sampling sampling, long[] seeds) {
        if (prompts.isEmpty() || seeds.length != prompts.size()) {
            throw new IllegalArgumentException("need prompts and one seed per prompt: prompts=" + prompts.size()
                    + ", seeds=" + seeds.length);
        }
        List<Sample> out = new ArrayList<>(prompts.size());
        for (int from = 0; from < prompts.size(); from += maxBatch) {
            int to = Math.min(prompts.size(), from + maxBatch);
            out.addAll(generatePass(prompts.subList(from, to), sampling, Arrays.copyOfRange(seeds, from, to)));
        }
        return out;
    }

    private List<Sample> generatePass(List<int[]> prompts, Sampling sampling, long[] seeds) {
        int b = prompts.size();
        if (b == 0 || b > maxBatch) {
            throw new IllegalArgumentException("prompts must number 1 to maxBatch: prompts=" + b + ", maxBatch="
                    + maxBatch);
        }
        if (seeds.length != b) {
            throw new IllegalArgumentException("need one seed per prompt: seeds=" + seeds.length + ", prompts=" + b);
        }
        int vocab = model.config().vocabSize();
        int p = 0;
        for (int s = 0; s < b; s++) {
            int[] prompt = prompts.get(s);
            if (prompt.length == 0) {
                throw new IllegalArgumentException("empty prompt: prompt=" + s);
            }
            for (int tok : prompt) {
                if (tok < 0 || tok >= vocab) {
                    throw new IllegalArgumentException("token id out of range: token=" + tok + ", vocab=" + vocab
                            + ", prompt=" + s);
                }
            }
            p = Math.max(p, prompt.length);
        }
        if (p + sampling.maxNewTokens() > maxSeqLen) {
            throw new IllegalArgumentException("prompt plus new tokens exceed the cache: prompt=" + p
                    + ", maxNewTokens=" + sampling.maxNewTokens() + ", maxSeqLen=" + maxSeqLen);
        }
        int total = p + sampling.maxNewTokens();
        boolean[] valid = new boolean[b * total];
        int[] positions = new int[b * total];
        int[] tokens = new int[b * p];
        for (int s = 0; s < b; s++) {
            int[] prompt = prompts.get(s);
            int pad = p - prompt.length;
            for (int i = 0; i < total; i++) {
                valid[s * total + i] = i >= pad;
                positions[s * total + i] = Math.max(0, i - pad);
            }
            System.arraycopy(prompt, 0, tokens, s * p + pad, prompt.length);
        }
        SplittableRandom[] rngs = new SplittableRandom[b];
        for (int s = 0; s < b; s++) {
            rngs[s] = new SplittableRandom(seeds[s]);
        }
        int[][] out = new int[b][sampling.maxNewTokens()];
        float[][] outLp = new float[b][sampling.maxNewTokens()];
        int[] lengths = new int[b];
        boolean[] done = new boolean[b];
        boolean[] stopped = new boolean[b];
        step(tokens, b, p, 0, total, valid, positions);
        int[] next = new int[b];
        boolean greedy = sampling.temperature() == 0f;
        int[] greedyTokens = new int[b];
        for (int k = 0; k < sampling.maxNewTokens(); k++) {
            boolean allDone = true;
            if (greedy) {
                // the argmax and its log-prob per sequence, independent of each other: split over the threads
                Parallelism.forEach(b, s -> {
                    if (!done[s]) {
                        greedyTokens[s] = greedy(s, outLp[s], lengths[s]);
                    }
                });
            }
            for (int s = 0; s < b; s++) {
                double u = rngs[s].nextDouble();
                if (done[s]) {
                    next[s] = out[s][Math.max(0, lengths[s] - 1)];
                    continue;
                }
                int tok = greedy ? greedyTokens[s] : sample(s, sampling, u, outLp[s], lengths[s]);
                out[s][lengths[s]++] = tok;
                next[s] = tok;
                for (int stop : sampling.stopTokens()) {
                    if (tok == stop) {
                        done[s] = true;
                        stopped[s] = true;
                    }
                }
                if (lengths[s] == sampling.maxNewTokens()) {
                    done[s] = true;
                }
                allDone &= done[s];
            }
            if (allDone || k == sampling.maxNewTokens() - 1) {
                break;
            }
            step(next, b, 1, p + k, total, valid, positions);
        }
        List<Sample> result = new ArrayList<>(b);
        for (int s = 0; s < b; s++) {
            result.add(new Sample(Arrays.copyOf(out[s], lengths[s]), Arrays.copyOf(outLp[s], lengths[s]), stopped[s]));
        }
        return result;
    }

    /**
     * Greedy decoding of sequence {@code s}: the first most likely token, its log-prob written at {@code lpOut[at]};
     * the same arithmetic as {@link #sample} at temperature 0, without its per-token probability buffer.
     */
    private int greedy(int s, float[] lpOut, int at) {
        int vocab = model.config().vocabSize();
        int o = s * paddedVocab;
        double max = Double.NEGATIVE_INFINITY;
        int argmax = 0;
        for (int v = 0; v < vocab; v++) {
            double z = logitsFull[o + v];
            if (z > max) {
                max = z;
                argmax = v;
            }
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            sum += Math.exp(logitsFull[o + v] - max);
        }
        double logZ = max + Math.log(sum);
        lpOut[at] = (float) (logitsFull[o + argmax] - logZ);
        return argmax;
    }

    private int sample(int s, Sampling sampling, double u, float[] lpOut, int at) {
        int vocab = model.config().vocabSize();
        int o = s * paddedVocab;
        float temperature = sampling.temperature() == 0f ? 1f : sampling.temperature();
        double max = Double.NEGATIVE_INFINITY;
        int argmax = 0;
        for (int v = 0; v < vocab; v++) {
            double z = logitsFull[o + v] / temperature;
            if (z > max) {
                max = z;
                argmax = v;
            }
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            prob[v] = Math.exp(logitsFull[o + v] / temperature - max);
            sum += prob[v];
        }
        double logZ = max + Math.log(sum);
        int tok;
        if (sampling.temperature() == 0f) {
            tok = argmax;
        } else if (sampling.topK() == 0 && sampling.topP() >= 1f) {
            // no truncation: walk the distribution in id order
            double target = u * sum;
            double cum = 0;
            tok = vocab - 1;
            for (int v = 0; v < vocab; v++) {
                cum += prob[v];
                if (target < cum) {
                    tok = v;
                    break;
                }
            }
        } else {
            // most likely first, lower id first on equal (f32-rounded) probability: one primitive sort
            for (int v = 0; v < vocab; v++) {
                long bits = Float.floatToIntBits((float) (prob[v] / sum));
                order[v] = ((Integer.MAX_VALUE - bits) << 32) | v;
            }
            Arrays.sort(order, 0, vocab);
            int keep = sampling.topK() == 0 ? vocab : Math.min(sampling.topK(), vocab);
            if (sampling.topP() < 1f) {
                double cum = 0;
                int k = 0;
                while (k < keep) {
                    cum += prob[(int) order[k]] / sum;
                    k++;
                    if (cum >= sampling.topP()) {
                        break;
                    }
                }
                keep = k;
            }
            double kept = 0;
            for (int k = 0; k < keep; k++) {
                kept += prob[(int) order[k]];
            }
            double target = u * kept;
            double cum = 0;
            tok = (int) order[keep - 1];
            for (int k = 0; k < keep; k++) {
                cum += prob[(int) order[k]];
                if (target < cum) {
                    tok = (int) order[k];
                    break;
                }
            }
        }
        lpOut[at] = (float) (logitsFull[o + tok] / temperature - logZ);
        return tok;
    }

    /**
     * Runs {@code n} new tokens per sequence at cache positions {@code start .. start+n-1}, fills the cache and leaves
     * the full logits of each sequence's last new token in {@code logitsFull}.
     */
    private void step(int[] tokens, int b, int n, int start, int total, boolean[] valid, int[] positions) {
        int rows = b * n;
        ensure(rows);
        int vocab = model.config().vocabSize();
        float[] e = model.embedParam().data();
        for (int r = 0; r < rows; r++) {
            int local = tokens[r] - vocabStart;
            if (tokens[r] < 0 || tokens[r] >= vocab) {
                throw new IllegalStateException("token id out of range: token=" + tokens[r] + ", vocab=" + vocab);
            }
            if (local >= 0 && local < vocabLocal) {
                System.arraycopy(e, local * c, x, r * c, c);
            } else {
                Arrays.fill(x, r * c, (r + 1) * c, 0f);
            }
        }
        tp.allReduce(x, 0, rows * c, ReduceOp.SUM);
        for (int s = 0; s < b; s++) {
            for (int i = 0; i < n; i++) {
                pos[s * n + i] = positions[s * total + start + i];
            }
        }
        int layers = model.config().numHiddenLayers();
        for (int l = 0; l < layers; l++) {
            Ops.rmsNormForward(ln, rstd, x, model.inNormParams()[l].data(), rows, c, eps);
            Ops.linearForward(qkvBuf, ln, model.qkvParams()[l].data(), rows, c, qkvWidth);
            Ops.rope(qkvBuf, 0, qkvWidth, rows, nh + kv, hd, pos, model.ropeCos(), model.ropeSin(), false);
            float[] kc = kCache[l];
            float[] vc = vCache[l];
            for (int s = 0; s < b; s++) {
                for (int i = 0; i < n; i++) {
                    int r = s * n + i;
                    for (int g = 0; g < kv; g++) {
                        int at = ((s * kv + g) * maxSeqLen + start + i) * hd;
                        System.arraycopy(qkvBuf, r * qkvWidth + (nh + g) * hd, kc, at, hd);
                        System.arraycopy(qkvBuf, r * qkvWidth + (nh + kv + g) * hd, vc, at, hd);
                    }
                }
            }
            // one item per (sequence, query head): each writes only its own y columns and scores slice, so
            // any thread count gives the same bits
            Parallelism.forEach(b * nh, item -> attend(item / nh, item % nh, n, start, total, valid, kc, vc));
            Ops.linearForward(tmp, y, model.oProjParams()[l].data(), rows, nh * hd, c);
            tp.allReduce(tmp, 0, rows * c, ReduceOp.SUM);
            for (int i = 0; i < rows * c; i++) {
                x[i] += tmp[i];
            }
            Ops.rmsNormForward(ln, rstd, x, model.postNormParams()[l].data(), rows, c, eps);
            Ops.linearForward(gu, ln, model.gateUpParams()[l].data(), rows, c, 2 * ffn);
            Ops.swigluForward(h, gu, rows, ffn);
            Ops.linearForward(tmp, h, model.downParams()[l].data(), rows, ffn, c);
            tp.allReduce(tmp, 0, rows * c, ReduceOp.SUM);
            for (int i = 0; i < rows * c; i++) {
                x[i] += tmp[i];
            }
        }
        for (int s = 0; s < b; s++) {
            System.arraycopy(x, (s * n + n - 1) * c, tmp, s * c, c);
        }
        Ops.rmsNormForward(lastHidden, lastRstd, tmp, model.normParam().data(), b, c, eps);
        Ops.linearForward(logitsLocal, lastHidden, model.lmParam().data(), b, c, vocabLocal);
        if (tp.size() == 1) {
            System.arraycopy(logitsLocal, 0, logitsFull, 0, b * vocabLocal);
        } else {
            // rank-major [tp][b][vocabLocal] -> [b][paddedVocab]
            tp.allGather(logitsLocal, 0, b * vocabLocal, gathered, 0);
            for (int r = 0; r < tp.size(); r++) {
                for (int s = 0; s < b; s++) {
                    System.arraycopy(gathered, (r * b + s) * vocabLocal, logitsFull, s * paddedVocab + r * vocabLocal,
                            vocabLocal);
                }
            }
        }
    }

    /** Causal attention of sequence {@code s}'s query head {@code hh} over its cached keys, for the step's n rows. */
    private void attend(int s, int hh, int n, int start, int total, boolean[] valid, float[] kc, float[] vc) {
        float scale = (float) (1.0 / Math.sqrt(hd));
        int g = hh / (nh / kv);
        int base = (s * kv + g) * maxSeqLen;
        int sc = (s * nh + hh) * maxSeqLen;
        for (int i = 0; i < n; i++) {
            int r = s * n + i;
            int last = start + i;
            int q = r * qkvWidth + hh * hd;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j <= last; j++) {
                if (!valid[s * total + j]) {
                    continue;
                }
                float d = dot(qkvBuf, q, kc, (base + j) * hd, hd) * scale;
                scores[sc + j] = d;
                if (d > max) {
                    max = d;
                }
            }
            int yo = r * nh * hd + hh * hd;
            Arrays.fill(y, yo, yo + hd, 0f);
            if (max == Float.NEGATIVE_INFINITY) {
                continue;
            }
            float sum = 0f;
            for (int j = 0; j <= last; j++) {
                if (valid[s * total + j]) {
                    float ex = (float) Math.exp(scores[sc + j] - max);
                    scores[sc + j] = ex;
                    sum += ex;
                }
            }
            float inv = 1f / sum;
            for (int j = 0; j <= last; j++) {
                if (valid[s * total + j]) {
                    float pj = scores[sc + j] * inv;
                    int v = (base + j) * hd;
                    for (int dd = 0; dd < hd; dd++) {
                        y[yo + dd] += pj * vc[v + dd];
                    }
                }
            }
        }
    }

    /** {@code a[ao..ao+n) . b[bo..bo+n)} with eight partial sums (independent chains), added in a fixed order. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0f;
        float s1 = 0f;
        float s2 = 0f;
        float s3 = 0f;
        float s4 = 0f;
        float s5 = 0f;
        float s6 = 0f;
        float s7 = 0f;
        int d = 0;
        for (; d + 8 <= n; d += 8) {
            s0 += a[ao + d] * b[bo + d];
            s1 += a[ao + d + 1] * b[bo + d + 1];
            s2 += a[ao + d + 2] * b[bo + d + 2];
            s3 += a[ao + d + 3] * b[bo + d + 3];
            s4 += a[ao + d + 4] * b[bo + d + 4];
            s5 += a[ao + d + 5] * b[bo + d + 5];
            s6 += a[ao + d + 6] * b[bo + d + 6];
            s7 += a[ao + d + 7] * b[bo + d + 7];
        }
        for (; d < n; d++) {
            s0 += a[ao + d] * b[bo + d];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    private void ensure(int rows) {
        if (rows <= capRows) {
            return;
        }
        capRows = rows;
        pos = new int[rows];
        x = new float[rows * c];
        ln = new float[rows * c];
        rstd = new float[rows];
        qkvBuf = new float[rows * qkvWidth];
        y = new float[rows * nh * hd];
        tmp = new float[rows * c];
        gu = new float[rows * 2 * ffn];
        h = new float[rows * ffn];
    }
}
