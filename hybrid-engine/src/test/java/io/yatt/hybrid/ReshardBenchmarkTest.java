package io.yatt.hybrid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.tensor.DType;
import org.junit.jupiter.api.Test;

class ReshardBenchmarkTest {

    @Test
    void shouldMeasureTable2BytesAndPeakForEveryScheme() {
        HybridLayout layout = HybridLayout.parse("1-8-1", "1-2-4");
        ModelSpec spec = ModelSpec.llama(2, 128, 8, 8, 256, 1000, DType.BF16, 8);
        long m = spec.shardedByteSize();
        for (ReshardScheme scheme : ReshardScheme.values()) {
            ReshardPlan plan = ReshardPlanner.shared().plan(layout, spec, scheme);
            ReshardBenchmark.Result result = ReshardBenchmark.runInProcess(plan, 3, ReshardBenchmark.DEFAULT_TIMEOUT_NS);
            assertEquals(m, result.modelBytes());
            assertArrayEquals(result.plannedBytesReceivedPerRank(), result.bytesReceivedPerRank());
            for (int r = 0; r < 8; r++) {
                assertEquals(plan.formulaBytesReceived(), result.bytesReceivedPerRank()[r]);
                assertEquals(plan.formulaPeakParameterBytes(), result.peakParamBytesPerRank()[r]);
                assertEquals(plan.formulaPeakParameterBytes(), result.peakBytesPerRank()[r], "no scratch in-process");
            }
            assertTrue(result.timeMs() > 0 && result.floorMs() > 0, result.toString());
            assertEquals(8, result.cpuMsPerRank().length);
            assertEquals(8, result.floorCpuMsPerRank().length);
            for (int r = 0; r < 8; r++) {
                // every rank's thread copies bytes in both (in-process: its peers' pieces, and the floor's memcpy)
                assertTrue(result.cpuMsPerRank()[r] > 0, "rank " + r + " transition CPU: " + result.cpuMsPerRank()[r]);
                assertTrue(result.floorCpuMsPerRank()[r] > 0, "rank " + r + " floor CPU: "
                    + result.floorCpuMsPerRank()[r]);
            }
        }
    }
}
