package io.yatt.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.yatt.controller.placement.DynamicPlacement;
import io.yatt.controller.placement.RuntimePlacement;
import io.yatt.controller.placement.StageTimes;
import io.yatt.trainer.config.TrainConfig;
import io.yatt.trainer.run.MetricNames;
import io.yatt.trainer.run.StepMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code placement.mode=auto} through the driver: 4 trainers (1-2-2) that also serve a colocated rollout, and 4
 * rollout ranks (four single-rank replicas, as colocated). The placement the decider picks for each step must not
 * change the math: metrics (timings, throughput and the transition's bytes aside) and final weights equal the
 * colocated run's bit for bit, whichever steps ran split.
 */
class RlhfLoopAutoTest {

    @BeforeAll
    static void warmStart() {
        RlhfLoopSplitTest.warmStart();
    }

    static TrainConfig auto(String... more) {
        List<String> overrides = new ArrayList<>(List.of("placement.mode=auto", "placement.rollout_world_size=4",
                "parallel.world_size=8"));
        overrides.addAll(List.of(more));
        return RlhfLoopSplitTest.colocated.withOverrides(overrides);
    }

    /**
     * Window 1, patience 1, no margin, horizon 1, free switches, and predictions where split generates and syncs
     * 1000 times faster: after step 1 (colocated) any measured generation makes split favourable, so step 2 runs
     * split; there the same factors predict colocation 1000 times slower on those stages, so step 3 stays split.
     */
    @Test
    void shouldEqualTheColocatedRunWhenTheDeciderSwitchesToSplitAtStepTwo() {
        AtomicReference<DynamicPlacement> decider = new AtomicReference<>();
        List<String> log = new ArrayList<>();
        RlhfLoop.Options options = new RlhfLoop.Options(null, Map.of(), null, () -> false, log::add);
        RlhfLoop.Result c = RlhfLoop.run(RlhfLoopSplitTest.colocated, RlhfLoopSplitTest.task,
                RlhfLoopSplitTest.model, RlhfLoopSplitTest.policy, m -> { });
        RlhfLoop.Result a = RlhfLoop.run(auto(), RlhfLoopSplitTest.task, RlhfLoopSplitTest.model,
                RlhfLoopSplitTest.policy, options, m -> { }, () -> {
                    decider.set(DynamicPlacement.create(new DynamicPlacement.Settings(1, 1, 0, 1, false),
                            new DynamicPlacement.Predictions(new StageTimes(1, 1, 1, 1),
                                    new StageTimes(0.001, 0.001, 1, 1)), RuntimePlacement.COLOCATE, 0, 0));
                    return decider.get();
                });
        assertEquals(3, a.rows().size());
        for (int i = 0; i < 3; i++) {
            assertEquals(withoutTimings(c.rows().get(i)), withoutTimings(a.rows().get(i)), "step " + (i + 1));
        }
        for (String name : c.actorWeights().keySet()) {
            assertArrayEquals(c.actorWeights().get(name), a.actorWeights().get(name), name);
        }
        // step 1 resharded on the trainers; steps 2 and 3 synced the whole f32 model to each rollout rank
        long wholeBytes = 0;
        for (float[] w : c.actorWeights().values()) {
            wholeBytes += 4L * w.length;
        }
        assertEquals(c.rows().get(0).value(MetricNames.RESHARD_BYTES), a.rows().get(0).value(MetricNames.RESHARD_BYTES));
        assertTrue(a.rows().get(0).value(MetricNames.RESHARD_BYTES) < wholeBytes);
        assertEquals(wholeBytes, a.rows().get(1).value(MetricNames.RESHARD_BYTES));
        assertEquals(wholeBytes, a.rows().get(2).value(MetricNames.RESHARD_BYTES));
        // one logged decision per step: switch after step 1, stay split after steps 2 and 3
        assertEquals(3, log.size());
        List<DynamicPlacement.Decision> d = decider.get().decisions();
        assertEquals(List.of(DynamicPlacement.Action.SWITCH, DynamicPlacement.Action.STAY,
                DynamicPlacement.Action.STAY), d.stream().map(DynamicPlacement.Decision::action).toList());
        assertEquals(List.of(RuntimePlacement.COLOCATE, RuntimePlacement.SPLIT, RuntimePlacement.SPLIT),
                d.stream().map(DynamicPlacement.Decision::current).toList());
        for (int i = 0; i < 3; i++) {
            assertEquals(d.get(i).logLine(), log.get(i));
        }
        assertTrue(log.get(0).startsWith("placement decision: iteration=1, current=colocate, "), log.get(0));
        assertTrue(log.get(0).endsWith(", decision=switch"), log.get(0));
        // the first sync after the switch (step 2's transition) is the measured cost of switching to split
        assertEquals(a.rows().get(1).value(MetricNames.TIMING_RESHARD), decider.get().switchCostS(RuntimePlacement.SPLIT));
        assertEquals(0.0, decider.get().switchCostS(RuntimePlacement.COLOCATE));
    }

    /**
     * The decider built from the config (defaults: window 3, patience 3) and the cost model: steps 1 and 2 warm up,
     * step 3 cannot switch yet (a switch needs 3 favourable decisions in a row after a full window), so the run stays
     * colocated and equals the colocated run.
     */
    @Test
    void shouldLogEachDecisionOfAnUnforcedRun() {
        List<String> log = new ArrayList<>();
        RlhfLoop.Result c = RlhfLoop.run(RlhfLoopSplitTest.colocated, RlhfLoopSplitTest.task,
                RlhfLoopSplitTest.model, RlhfLoopSplitTest.policy, m -> { });
        RlhfLoop.Result a = RlhfLoop.run(auto(), RlhfLoopSplitTest.task, RlhfLoopSplitTest.model,
                RlhfLoopSplitTest.policy, new RlhfLoop.Options(null, Map.of(), null, () -> false, log::add),
                m -> { });
        assertEquals(3, log.size(), String.valueOf(log));
        String[] actions = {"warm_up", "warm_up", "stay"};
        for (int i = 0; i < 3; i++) {
            String line = log.get(i);
            assertTrue(line.startsWith("placement decision: iteration=" + (i + 1) + ", current=colocate, measured_s="),
                    line);
            assertTrue(line.contains(", other=split, predicted_s="), line);
            assertTrue(line.endsWith(", decision=" + actions[i]), line);
            assertEquals(withoutTimings(c.rows().get(i)), withoutTimings(a.rows().get(i)), "step " + (i + 1));
            assertEquals(c.rows().get(i).value(MetricNames.RESHARD_BYTES),
                    a.rows().get(i).value(MetricNames.RESHARD_BYTES));
        }
    }

    @Test
    void shouldReadTheStageTimesFromTheStepMetrics() {
        StageTimes t = AutoPlacement.stageTimes(Map.of(MetricNames.TIMING_GEN, 8.0, MetricNames.TIMING_RESHARD, 1.0,
                MetricNames.TIMING_REF, 0.5, MetricNames.TIMING_VALUES, 0.25, MetricNames.TIMING_ADV, 0.125,
                MetricNames.TIMING_UPDATE_ACTOR, 2.0, MetricNames.TIMING_UPDATE_CRITIC, 1.5,
                MetricNames.TIMING_STEP, 100.0));
        assertEquals(new StageTimes(8.0, 1.0, 0.875, 3.5), t);
        assertEquals(new StageTimes(2.0, 0.0, 0.0, 0.0), AutoPlacement.stageTimes(Map.of(MetricNames.TIMING_GEN, 2.0)));
    }

    private static Map<String, Double> withoutTimings(StepMetrics m) {
        Map<String, Double> out = new TreeMap<>(m.values());
        out.keySet().removeIf(k -> k.startsWith(MetricNames.TIMING_PREFIX) || k.startsWith("perf/throughput")
                || k.equals(MetricNames.RESHARD_BYTES));
        return out;
    }
}
