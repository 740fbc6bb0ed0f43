package io.yatt.trainer.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RunSummaryTest {

    @Test
    void shouldTabulateMeanStageTimesSharesPerfAndReshard() {
        Map<String, Double> one = new LinkedHashMap<>();
        one.put("timing_s/gen", 1.0);
        one.put("timing_s/reshard", 0.1);
        one.put("timing_s/update_actor", 2.0);
        one.put("timing_s/step", 4.0);
        one.put("perf/throughput", 1000.0);
        one.put("perf/reshard_bytes", 2048.0);
        Map<String, Double> two = new LinkedHashMap<>(one);
        two.put("timing_s/gen", 3.0);
        two.put("timing_s/reshard", 0.3);
        two.put("perf/throughput", 500.0);

        String summary = RunSummary.render(List.of(new StepMetrics(1, one), new StepMetrics(2, two)));

        // gen: mean 2.0 of a 4.0 s step = 50 %; reshard 0.2 s = 5 %; update_actor 2.0 = 50 %.
        assertEquals("""
                Run summary: steps 1..2 (2 logged)

                stage                           mean s/step     share
                gen                                  2.0000     50.0%
                reshard                              0.2000      5.0%
                update_actor                         2.0000     50.0%
                step                                 4.0000    100.0%

                perf                                   mean
                throughput                            750.0
                reshard_bytes                        2048.0

                reshard per iteration: 0.2000 s, 5.0% of the step, 2048 bytes
                """, summary);
    }

    @Test
    void shouldLeaveOutReshardPartsThatWereNotLogged() {
        Map<String, Double> values = new LinkedHashMap<>();
        values.put("timing_s/reshard", 0.5);
        values.put("timing_s/gen", 1.5);

        // No timing_s/step: the share divides by the sum of the stages, 2.0 s.
        assertEquals("""
                Run summary: steps 7..7 (1 logged)

                stage                           mean s/step     share
                reshard                              0.5000     25.0%
                gen                                  1.5000     75.0%

                reshard per iteration: 0.5000 s, 25.0% of the step
                """, RunSummary.render(List.of(new StepMetrics(7, values))));
    }

    @Test
    void shouldGiveEachStageItsTokensPerSecondWhenTheStepsTokensWereLogged() {
        Map<String, Double> values = new LinkedHashMap<>();
        values.put("timing_s/gen", 0.5);
        values.put("timing_s/update_actor", 2.0);
        values.put("timing_s/step", 4.0);
        values.put("perf/total_num_tokens", 1000.0);

        // 1000 tokens: gen 1000 / 0.5 = 2000 tokens/s, update_actor 500, the whole step 250.
        assertEquals("""
                Run summary: steps 3..3 (1 logged)

                stage                           mean s/step     share     tokens/s
                gen                                  0.5000     12.5%       2000.0
                update_actor                         2.0000     50.0%        500.0
                step                                 4.0000    100.0%        250.0

                perf                                   mean
                total_num_tokens                     1000.0
                """, RunSummary.render(List.of(new StepMetrics(3, values))));
    }
}
