package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.hybrid.ModelSpec;
import io.yatt.hybrid.ParameterSpec;
import io.yatt.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LlamaConfigTest {

    @Test
    void shouldUseTheHybridEnginesNamesAndShardShapesForEveryTpDegree() {
        LlamaConfig config = new LlamaConfig(32, 48, 8, 4, 3, 30, 1e-6, 1e4, 128, false);
        ModelSpec spec = config.modelSpec(DType.F32, 4);
        for (int t : new int[] {1, 2, 4}) {
            Map<String, int[]> shapes = LlamaModel.rankShapes(config, Head.LANGUAGE_MODEL, t, 4);
            List<String> specNames = new ArrayList<>();
            for (ParameterSpec p : spec.parameters()) {
                specNames.add(p.name());
                long[] expected = p.kind().isSharded() ? p.shardShape(t).dims() : p.shape().dims();
                assertArrayEquals(expected, java.util.Arrays.stream(shapes.get(p.name())).asLongStream().toArray(),
                        p.name() + " t=" + t);
            }
            assertEquals(specNames, new ArrayList<>(shapes.keySet()));
        }
    }

    @Test
    void shouldRejectOddHeadDim() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaConfig.of(12, 1, 4, 2, 8, 16));
        assertEquals("head dimension must be even for rotary embeddings: head_dim=3, hidden_size=12, "
                + "num_attention_heads=4", e.getMessage());
    }

    @Test
    void shouldRejectNonPositiveSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LlamaConfig.of(16, 0, 4, 2, 8, 16));
        assertEquals("num_hidden_layers must be positive: num_hidden_layers=0", e.getMessage());
    }

    @Test
    void shouldRejectNonPositiveEps() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LlamaConfig(16, 8, 4, 2, 1, 16, 0.0, 1e4, 64, false));
        assertEquals("rms_norm_eps must be positive and finite: rms_norm_eps=0.0", e.getMessage());
    }

    @Test
    void shouldRejectTensorParallelNotDividingTheMlpWidth() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LlamaConfig(16, 6, 4, 4, 1, 16, 1e-6, 1e4, 64, false).requireTensorParallel(4));
        assertEquals("tensor-parallel degree must divide intermediate_size: intermediate_size=6, tp=4",
                e.getMessage());
    }
}
