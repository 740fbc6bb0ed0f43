package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.yatt.collectives.Communicator;
import io.yatt.hybrid.GroupKind;
import io.yatt.hybrid.HybridEngine;
import io.yatt.hybrid.HybridLayout;
import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.RankCoordinates;
import io.yatt.hybrid.ReshardPlan;
import io.yatt.hybrid.ReshardPlanner;
import io.yatt.hybrid.ReshardScheme;
import io.yatt.tensor.Allocator;
import io.yatt.tensor.DType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The model on the hybrid engine's tensors: training shards (TP 4) written with {@link LlamaModel#copyTo}, resharded
 * by HybridFlow to generation TP 2, read back with {@link LlamaModel#fromTensors} over the generation TP group: the
 * log-probs equal the single-rank model's within 1e-5, and greedy generation gives the same tokens.
 */
class HybridEngineModelTest {
    static final LlamaConfig CONFIG = TensorParallelTest.CONFIG;
    static final int PAD = 4;

    @Test
    void shouldScoreAndGenerateOnGenerationLayoutWeights() throws Exception {
        checkGenerationLayout(DType.F32);
    }

    /** BF16 engine storage, f32 master weights in the model: the generation model sees the bf16-rounded values. */
    @Test
    void shouldScoreAndGenerateOnBf16GenerationLayoutWeights() throws Exception {
        checkGenerationLayout(DType.BF16);
    }

    /**
     * 2 KV heads trained at TP 4 (each on 2 ranks), resharded to generation TP 2 (one KV head each, gathered from its
     * replicas), TP 4 (replicated again) and TP 1: scoring and greedy generation match one rank.
     */
    @Test
    void shouldScoreAndGenerateWithReplicatedKvHeads() throws Exception {
        LlamaConfig config = new LlamaConfig(16, 24, 8, 2, 2, 13, 1e-5, 10000.0, 64, false);
        for (String gen : List.of("1-2-2", "1-4-1", "1-1-4")) {
            checkGenerationLayout(DType.F32, config, gen);
        }
    }

    private static void checkGenerationLayout(DType dtype) throws Exception {
        checkGenerationLayout(dtype, CONFIG, "1-2-2");
    }

    private static void checkGenerationLayout(DType dtype, LlamaConfig config, String genLayout) throws Exception {
        Map<String, float[]> whole = LlamaWeights.random(config, Head.LANGUAGE_MODEL, 8, PAD);
        LlamaModelTest.scaleUp(whole);
        Map<String, float[]> stored = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : whole.entrySet()) {
            float[] w = e.getValue().clone();
            if (dtype == DType.BF16) {
                for (int i = 0; i < w.length; i++) {
                    w[i] = io.yatt.tensor.Half.bf16ToFloat(io.yatt.tensor.Half.floatToBf16(w[i]));
                }
            }
            stored.put(e.getKey(), w);
        }
        Batch batch = TensorParallelTest.batch();
        float[] expected = new float[batch.rows()];
        List<Generator.Sample> expectedSamples;
        List<int[]> prompts = List.of(new int[] {3, 1, 4}, new int[] {1, 5});
        try (LlamaModel model = LlamaModel.create(config, Head.LANGUAGE_MODEL, stored, null, PAD)) {
            model.logProbs(batch, 1f, expected, null);
            expectedSamples = Generator.create(model, 2, 10).generate(prompts, Generator.Sampling.greedy(4),
                    new long[] {1, 2});
        }
        HybridLayout layout = HybridLayout.parse("1-4-1", genLayout);
        ModelSpec spec = config.modelSpec(dtype, PAD);
        ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, ReshardScheme.HYBRIDFLOW);
        List<Object[]> results = TensorParallelTest.onRanks(4, world -> {
            int rank = world.rank();
            RankCoordinates c = layout.coordinates(rank);
            List<Integer> genGroup = layout.group(GroupKind.GEN_TP, rank);
            Communicator genTp = world.split(layout.groups(GroupKind.GEN_TP).indexOf(genGroup), rank).orElseThrow();
            try (Allocator root = Allocator.root("rank" + rank);
                 HybridEngine engine = HybridEngine.create(plan, rank, world, root);
                 LlamaModel train = LlamaModel.create(config, Head.LANGUAGE_MODEL,
                         LlamaWeights.shard(config, Head.LANGUAGE_MODEL, whole, 4, c.tp(), PAD),
                         engine.communicator(GroupKind.TP), PAD)) {
                train.copyTo(engine.trainingWeights());
                try (LlamaModel gen = LlamaModel.fromTensors(config, Head.LANGUAGE_MODEL, engine.toGeneration(),
                        genTp, PAD)) {
                    assertEquals(c.genTp(), gen.tpRank());
                    float[] lp = new float[batch.rows()];
                    gen.logProbs(batch, 1f, lp, null);
                    List<Generator.Sample> samples = Generator.create(gen, 2, 10).generate(prompts,
                            Generator.Sampling.greedy(4), new long[] {1, 2});
                    return new Object[] {lp, samples};
                }
            } finally {
                genTp.close();
            }
        });
        for (Object[] r : results) {
            float[] lp = (float[]) r[0];
            for (int i = 0; i < lp.length; i++) {
                assertEquals(expected[i], lp[i], 1e-5, "logprob " + i);
            }
            @SuppressWarnings("unchecked")
            List<Generator.Sample> samples = (List<Generator.Sample>) r[1];
            for (int s = 0; s < 2; s++) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(expectedSamples.get(s).tokens(),
                        samples.get(s).tokens());
            }
        }
    }
}
