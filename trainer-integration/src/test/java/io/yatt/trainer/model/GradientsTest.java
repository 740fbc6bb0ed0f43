package io.yatt.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class GradientsTest {

    @Test
    void shouldCountShardedSquaresOverRanksAndReplicatedOnce() throws Exception {
        // rank 0 holds sharded grad 3, rank 1 holds 4; both hold replicated 12: sqrt(9 + 16 + 144) = 13
        List<double[]> results = TensorParallelTest.onRanks(2, comm -> {
            Parameter sharded = new Parameter("a", new float[1], true);
            sharded.grad()[0] = comm.rank() == 0 ? 3f : 4f;
            Parameter replicated = new Parameter("b", new float[1], false);
            replicated.grad()[0] = 12f;
            double norm = Gradients.clipGlobalNorm(List.of(sharded, replicated), 6.5, comm);
            return new double[] {norm, sharded.grad()[0], replicated.grad()[0]};
        });
        float coef = (float) (6.5 / (13 + 1e-6));
        assertEquals(13.0, results.get(0)[0], 1e-12);
        assertEquals(13.0, results.get(1)[0], 1e-12);
        assertEquals(3f * coef, results.get(0)[1], 0);
        assertEquals(4f * coef, results.get(1)[1], 0);
        assertEquals(12f * coef, results.get(1)[2], 0);
    }

    @Test
    void shouldLeaveGradientsBelowTheMaxNorm() {
        Parameter p = new Parameter("a", new float[2], false);
        p.grad()[0] = 3f;
        p.grad()[1] = 4f;
        assertEquals(5.0, Gradients.clipGlobalNorm(List.of(p), 5.5, null), 0);
        assertEquals(3f, p.grad()[0]);
        assertEquals(4f, p.grad()[1]);
    }

    @Test
    void shouldAverageGradientsOverDataParallelRanks() throws Exception {
        List<float[]> results = TensorParallelTest.onRanks(2, comm -> {
            Parameter p = new Parameter("a", new float[2], false);
            p.grad()[0] = comm.rank() == 0 ? 1f : 3f;
            p.grad()[1] = comm.rank() == 0 ? 2f : 6f;
            Gradients.allReduceMean(List.of(p), comm);
            return p.grad();
        });
        for (float[] g : results) {
            assertEquals(2f, g[0]);
            assertEquals(4f, g[1]);
        }
    }
}
