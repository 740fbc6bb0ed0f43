package io.yatt.controller.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.yatt.controller.placement.DynamicPlacement.Action;
import io.yatt.controller.placement.DynamicPlacement.Decision;
import io.yatt.controller.placement.DynamicPlacement.Predictions;
import io.yatt.controller.placement.DynamicPlacement.Settings;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Decisions derived by hand from the rule in {@link DynamicPlacement}'s documentation. */
class DynamicPlacementTest {
    static final Predictions PREDICTED = new Predictions(new StageTimes(4, 1, 2, 3), new StageTimes(2, 0.5, 2, 3));
    static final Settings SMALL = new Settings(2, 2, 0.1, 10, false);

    @Test
    void shouldSwitchAfterPatienceFavourableDecisionsAndLogThem() {
        DynamicPlacement dp = DynamicPlacement.create(SMALL, PREDICTED, RuntimePlacement.COLOCATE, 5, 5);
        StageTimes measured = new StageTimes(8, 1, 2, 3);
        Decision d1 = dp.observe(1, measured);
        assertEquals(Action.WARM_UP, d1.action());
        assertEquals(14.0, d1.measuredS());
        assertEquals(7.5, d1.predictedS());
        Decision d2 = dp.observe(2, measured);
        // factors (8/4, 1/1, 2/2, 3/3) = (2, 1, 1, 1): split (4, 0.5, 2, 3) = 9.5 <= 0.9 * 14, (14 - 9.5) * 10 = 45 > 5
        assertEquals(new StageTimes(4, 0.5, 2, 3), d2.predicted());
        assertEquals(9.5, d2.predictedS());
        assertEquals(45.0, d2.gainOverHorizonS());
        assertEquals(1, d2.streak());
        assertEquals(Action.STAY, d2.action());
        assertEquals(RuntimePlacement.COLOCATE, dp.current());
        Decision d3 = dp.observe(3, measured);
        assertEquals(Action.SWITCH, d3.action());
        assertEquals(RuntimePlacement.SPLIT, dp.current());
        assertEquals("placement decision: iteration=3, current=colocate, measured_s=14.000 (gen=8.000, "
                + "transition=1.000, prep=2.000, train=3.000), other=split, predicted_s=9.500 (gen=4.000, "
                + "transition=0.500, prep=2.000, train=3.000), switch_cost_s=5.000, gain_over_horizon_s=45.000, "
                + "streak=2, decision=switch", d3.logLine());
        // in split the window starts again; the same factors predict colocate at 14 > 9.5: stay
        StageTimes inSplit = new StageTimes(4, 0.5, 2, 3);
        assertEquals(Action.WARM_UP, dp.observe(4, inSplit).action());
        Decision d5 = dp.observe(5, inSplit);
        assertEquals(14.0, d5.predictedS());
        assertEquals(-45.0, d5.gainOverHorizonS());
        assertEquals(0, d5.streak());
        assertEquals(Action.STAY, d5.action());
        assertEquals(5, dp.decisions().size());
    }

    @Test
    void shouldStayWhenTheGainOverTheHorizonDoesNotPayTheSwitch() {
        DynamicPlacement dp = DynamicPlacement.create(SMALL, PREDICTED, RuntimePlacement.COLOCATE, 45, 5);
        for (int i = 1; i <= 6; i++) {
            Decision d = dp.observe(i, new StageTimes(8, 1, 2, 3));
            assertEquals(i == 1 ? Action.WARM_UP : Action.STAY, d.action());
            assertEquals(0, d.streak()); // 45 is not more than 45
        }
        dp.recordSwitchCost(RuntimePlacement.SPLIT, 44);
        assertEquals(44.0, dp.switchCostS(RuntimePlacement.SPLIT));
        assertEquals(1, dp.observe(7, new StageTimes(8, 1, 2, 3)).streak());
    }

    /** 14 measured against 13 predicted is 7% better, less than the 10% asked for. */
    @Test
    void shouldStayWhenTheRelativeGainIsBelowTheMargin() {
        Predictions p = new Predictions(new StageTimes(4, 1, 2, 3), new StageTimes(3.5, 1, 2, 3));
        DynamicPlacement dp = DynamicPlacement.create(SMALL, p, RuntimePlacement.COLOCATE, 0, 0);
        dp.observe(1, new StageTimes(8, 1, 2, 3));
        Decision d = dp.observe(2, new StageTimes(8, 1, 2, 3));
        assertEquals(13.0, d.predictedS());
        assertEquals(0, d.streak());
        assertEquals(Action.STAY, d.action());
    }

    /** Asynchronous split overlaps rollout and training: max(0.5 + 4, 2 + 3) = 5. */
    @Test
    void shouldComposeAnAsynchronousSplitAsTheLongerOfRolloutAndTraining() {
        DynamicPlacement dp = DynamicPlacement.create(new Settings(1, 1, 0.1, 10, true), PREDICTED,
                RuntimePlacement.COLOCATE, 0, 0);
        Decision d = dp.observe(1, new StageTimes(8, 1, 2, 3));
        assertEquals(5.0, d.predictedS());
        assertEquals(90.0, d.gainOverHorizonS());
        assertEquals(Action.SWITCH, d.action());
        assertEquals(5.0, dp.iterationS(RuntimePlacement.SPLIT, new StageTimes(4, 0.5, 2, 3)));
        assertEquals(9.5, dp.iterationS(RuntimePlacement.COLOCATE, new StageTimes(4, 0.5, 2, 3)));
    }

    /**
     * Timings whose noise favours split one iteration and colocate the next: generation x1.2 and transition x0.8 on
     * odd iterations, the reverse on even ones. A decider with no window, patience or margin flips every iteration;
     * the defaults never switch.
     */
    @Test
    void shouldNotFlapUnderAlternatingNoise() {
        Predictions p = new Predictions(new StageTimes(4, 0.5, 2, 3), new StageTimes(3, 1.5, 2, 3));
        DynamicPlacement naive = DynamicPlacement.create(new Settings(1, 1, 0, 10, false), p,
                RuntimePlacement.COLOCATE, 0, 0);
        DynamicPlacement damped = DynamicPlacement.create(Settings.defaults(false), p, RuntimePlacement.COLOCATE,
                0, 0);
        assertEquals(20, switches(naive, p, alternating()));
        assertEquals(0, switches(damped, p, alternating()));
    }

    /** Split truly 25% faster with +-10% generation noise: one switch, at the first full window's third decision. */
    @Test
    void shouldSwitchOnceForAGenuineGainUnderNoise() {
        DynamicPlacement dp = DynamicPlacement.create(Settings.defaults(false), PREDICTED, RuntimePlacement.COLOCATE,
                10, 10);
        StageTimes[] noise = {new StageTimes(1.1, 1, 1, 1), new StageTimes(0.9, 1, 1, 1)};
        assertEquals(1, switches(dp, PREDICTED, List.of(noise[0], noise[1], noise[0], noise[1], noise[0], noise[1],
                noise[0], noise[1], noise[0], noise[1], noise[0], noise[1], noise[0], noise[1], noise[0], noise[1])));
        assertEquals(Action.SWITCH, dp.decisions().get(4).action());
        assertEquals(RuntimePlacement.SPLIT, dp.current());
    }

    static List<StageTimes> alternating() {
        StageTimes odd = new StageTimes(1.2, 0.8, 1, 1);
        StageTimes even = new StageTimes(0.8, 1.2, 1, 1);
        List<StageTimes> out = new java.util.ArrayList<>();
        for (int i = 1; i <= 20; i++) {
            out.add(i % 2 == 1 ? odd : even);
        }
        return out;
    }

    /** Runs the iterations, each measuring the current placement's true times (the prediction) times the noise. */
    static int switches(DynamicPlacement dp, Predictions truth, List<StageTimes> noise) {
        int switches = 0;
        for (int i = 0; i < noise.size(); i++) {
            Decision d = dp.observe(i + 1, truth.of(dp.current()).times(noise.get(i)));
            switches += d.action() == Action.SWITCH ? 1 : 0;
        }
        return switches;
    }

    @Test
    void shouldEstimateTheSwitchCostFromBytesBandwidthAndSetup() {
        assertEquals(1.5, DynamicPlacement.estimateSwitchCostS(2_000_000, 2e6, 0.5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DynamicPlacement.estimateSwitchCostS(1, 0, 0));
        assertEquals("switch cost needs bytes >= 0, bandwidth > 0 and setup >= 0: weightBytesPerRank=1, "
                + "bandwidthBytesPerS=0.0, setupS=0.0", e.getMessage());
    }

    @Test
    void shouldRejectBadInput() {
        assertEquals("windowIterations must be at least 1: windowIterations=0", assertThrows(
                IllegalArgumentException.class, () -> new Settings(0, 1, 0.1, 1, false)).getMessage());
        assertEquals("minRelativeGain must be in [0, 1): minRelativeGain=1.0", assertThrows(
                IllegalArgumentException.class, () -> new Settings(1, 1, 1.0, 1, false)).getMessage());
        assertEquals("stage time must be finite and non-negative: transitionS=-1.0", assertThrows(
                IllegalArgumentException.class, () -> new StageTimes(1, -1, 1, 1)).getMessage());
        assertEquals("stage time must be finite and non-negative: trainingS=NaN", assertThrows(
                IllegalArgumentException.class, () -> new StageTimes(1, 1, 1, Double.NaN)).getMessage());
        assertEquals("switch cost must be finite and non-negative: target=colocate, seconds=-1.0", assertThrows(
                IllegalArgumentException.class, () -> DynamicPlacement.create(SMALL, PREDICTED,
                        RuntimePlacement.SPLIT, 0, -1)).getMessage());
    }
}
