package io.yatt.trainer.model;

import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.ParameterSpec;
import io.yatt.hybrid.ShardMath;
import io.yatt.tensor.DType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Whole (unsharded) weights of a Llama model in the hybrid engine's fused layout, as named {@code float[]}: seeded
 * random initialisation, sharding for one TP rank (the hybrid engine's {@link ShardMath#slices} definition) and
 * gathering the shards of all ranks back. Stateless and thread-safe.
 */
public final class LlamaWeights {
    /** Standard deviation of the normal initialisation of linear and embedding weights (Hugging Face's default). */
    public static final double INITIALIZER_RANGE = 0.02;

    private LlamaWeights() {
    }

    /**
     * Seeded random whole weights: normal(0, {@link #INITIALIZER_RANGE}) for embeddings, projections, lm_head and
     * score, 1 for norms, 0 for padded vocabulary rows. One {@link SplittableRandom} seeded with {@code seed} draws
     * the parameters in model order (Box-Muller on {@code nextDouble()}), real rows only, so the values do not depend
     * on the pad multiple. {@code lm_head.weight} is present for the language model with untied embeddings,
     * {@code score.weight [1, hidden]} for the value and reward heads.
     */
    public static Map<String, float[]> random(LlamaConfig config, Head head, long seed, int vocabPadMultiple) {
        Map<String, int[]> shapes = LlamaModel.rankShapes(config, head, 1, vocabPadMultiple);
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, float[]> out = new LinkedHashMap<>();
        int c = config.hiddenSize();
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            String name = e.getKey();
            int[] shape = e.getValue();
            int numel = shape.length == 1 ? shape[0] : shape[0] * shape[1];
            float[] w = new float[numel];
            if (name.endsWith("norm.weight")) {
                java.util.Arrays.fill(w, 1f);
            } else {
                int real = name.equals("embed_tokens.weight") || name.equals("lm_head.weight")
                        ? config.vocabSize() * c : numel;
                for (int i = 0; i < real; i++) {
                    w[i] = (float) (INITIALIZER_RANGE * gaussian(rng));
                }
            }
            out.put(name, w);
        }
        return out;
    }

    private static double gaussian(SplittableRandom rng) {
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2.0 * Math.log1p(-u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /**
     * TP rank {@code rank} of {@code tp}'s shard of every whole weight (score.weight and norms whole).
     *
     * @throws IllegalArgumentException if a weight is missing or misshaped, or tp does not divide the model
     */
    public static Map<String, float[]> shard(LlamaConfig config, Head head, Map<String, float[]> whole, int tp,
                                             int rank, int vocabPadMultiple) {
        config.requireTensorParallel(tp);
        ModelSpec spec = config.modelSpec(DType.F32, vocabPadMultiple);
        Map<String, int[]> shapes = LlamaModel.rankShapes(config, head, 1, vocabPadMultiple);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            String name = e.getKey();
            float[] w = whole.get(name);
            if (w == null) {
                throw new IllegalArgumentException("missing parameter: name=" + name);
            }
            int[] shape = e.getValue();
            int numel = shape.length == 1 ? shape[0] : shape[0] * shape[1];
            if (w.length != numel) {
                throw new IllegalArgumentException("parameter misshaped: name=" + name + ", numel=" + w.length
                        + ", expected=" + numel);
            }
            if (name.equals("score.weight")) {
                out.put(name, w.clone());
                continue;
            }
            ParameterSpec p = spec.parameter(name);
            if (!p.kind().isSharded()) {
                out.put(name, w.clone());
                continue;
            }
            List<long[]> slices = ShardMath.slices(p, tp, rank);
            out.put(name, p.kind().shardDim() == 0 ? rows(w, shape[1], slices) : cols(w, shape[0], shape[1], slices));
        }
        return out;
    }

    /**
     * The whole weights from every rank's shard (rank order), the inverse of {@link #shard}; a KV head replicated over
     * ranks (tp above the kv heads) is read from its first replica only.
     *
     * @throws IllegalArgumentException if a shard is missing or the count is not tp
     */
    public static Map<String, float[]> gather(LlamaConfig config, Head head, List<Map<String, float[]>> shards,
                                              int vocabPadMultiple) {
        int tp = shards.size();
        config.requireTensorParallel(tp);
        ModelSpec spec = config.modelSpec(DType.F32, vocabPadMultiple);
        Map<String, int[]> shapes = LlamaModel.rankShapes(config, head, 1, vocabPadMultiple);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            String name = e.getKey();
            int[] shape = e.getValue();
            int numel = shape.length == 1 ? shape[0] : shape[0] * shape[1];
            float[] w = new float[numel];
            for (int r = 0; r < tp; r++) {
                float[] s = shards.get(r).get(name);
                if (s == null) {
                    throw new IllegalArgumentException("missing parameter: name=" + name + ", rank=" + r);
                }
                ParameterSpec p = name.equals("score.weight") ? null : spec.parameter(name);
                if (p == null || !p.kind().isSharded()) {
                    if (r == 0) {
                        System.arraycopy(s, 0, w, 0, numel);
                    }
                    continue;
                }
                int pos = 0;
                if (p.kind().shardDim() == 0) {
                    // a KV head replicated on several ranks (k and v components) is taken from its first replica
                    int replicas = ShardMath.kvReplicas(p, tp);
                    List<long[]> slices = ShardMath.slices(p, tp, r);
                    for (int c = 0; c < slices.size(); c++) {
                        long[] slice = slices.get(c);
                        int len = (int) slice[1] * shape[1];
                        if (c == 0 || r % replicas == 0) {
                            System.arraycopy(s, pos, w, (int) slice[0] * shape[1], len);
                        }
                        pos += len;
                    }
                } else {
                    for (int row = 0; row < shape[0]; row++) {
                        for (long[] slice : ShardMath.slices(p, tp, r)) {
                            System.arraycopy(s, pos, w, row * shape[1] + (int) slice[0], (int) slice[1]);
                            pos += (int) slice[1];
                        }
                    }
                }
            }
            out.put(name, w);
        }
        return out;
    }

    private static float[] rows(float[] w, int cols, List<long[]> slices) {
        int total = 0;
        for (long[] s : slices) {
            total += (int) s[1] * cols;
        }
        float[] out = new float[total];
        int pos = 0;
        for (long[] s : slices) {
            int len = (int) s[1] * cols;
            System.arraycopy(w, (int) s[0] * cols, out, pos, len);
            pos += len;
        }
        return out;
    }

    private static float[] cols(float[] w, int rowsCount, int cols, List<long[]> slices) {
        int width = 0;
        for (long[] s : slices) {
            width += (int) s[1];
        }
        float[] out = new float[rowsCount * width];
        int pos = 0;
        for (int r = 0; r < rowsCount; r++) {
            for (long[] s : slices) {
                System.arraycopy(w, r * cols + (int) s[0], out, pos, (int) s[1]);
                pos += (int) s[1];
            }
        }
        return out;
    }
}
