package io.yatt.controller.placement;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * WeChat-YATT's dynamic placement, decided between iterations: from the measured stage times of the current
 * placement it calibrates the cost model's predictions (per stage, measured over predicted), predicts the other
 * placement's iteration with the same factors, and switches only when the predicted gain over a horizon beats the
 * switch cost, with hysteresis so that noise cannot make it flap.
 *
 * <p>The rule, at each {@link #observe}: keep the last {@link Settings#windowIterations} measurements taken in the
 * current placement (the window restarts at every switch; until it is full the decision is
 * {@link Action#WARM_UP}); {@code m} = their stage-wise mean, {@code f = m / predicted(current)} per stage (1 where
 * the prediction is 0); {@code other = f * predicted(other)} per stage. Iteration seconds compose the stages one
 * after another, except a split placement with {@link Settings#asyncSplit} whose rollout overlaps training:
 * {@code max(transition + generation, preparation + training)}. The iteration is <em>favourable</em> when
 * {@code other_s <= (1 - minRelativeGain) * current_s} and {@code (current_s - other_s) * horizonIterations >
 * switchCost(other)}; {@link Settings#patience} favourable iterations in a row switch, any other resets the count.
 * Confined to one thread.
 */
public final class DynamicPlacement {

    /** Measurements averaged per decision. */
    public static final int DEFAULT_WINDOW_ITERATIONS = 3;
    /** Favourable decisions in a row before a switch. */
    public static final int DEFAULT_PATIENCE = 3;
    /** Predicted improvement the other placement must reach, as a fraction of the current iteration. */
    public static final double DEFAULT_MIN_RELATIVE_GAIN = 0.1;
    /** Iterations over which a switch must pay for itself. */
    public static final int DEFAULT_HORIZON_ITERATIONS = 20;

    /** What a decision did. */
    public enum Action {
        /** Fewer than a window of measurements in the current placement: no decision. */
        WARM_UP("warm_up"),
        /** Stay in the current placement. */
        STAY("stay"),
        /** Switch to the other placement before the next iteration. */
        SWITCH("switch");

        private final String logName;

        Action(String logName) {
            this.logName = logName;
        }

        /** The name in log lines. */
        public String logName() {
            return logName;
        }
    }

    /**
     * Decision settings, validated on construction.
     *
     * @param windowIterations measurements averaged per decision, at least 1
     * @param patience favourable decisions in a row before a switch, at least 1
     * @param minRelativeGain required predicted improvement as a fraction of the current iteration, in [0, 1)
     * @param horizonIterations iterations over which the gain must beat the switch cost, at least 1
     * @param asyncSplit whether the split placement overlaps rollout and training (one step off-policy)
     */
    public record Settings(int windowIterations, int patience, double minRelativeGain, int horizonIterations,
                           boolean asyncSplit) {

        /** @throws IllegalArgumentException naming a value out of range */
        public Settings {
            atLeastOne("windowIterations", windowIterations);
            atLeastOne("patience", patience);
            atLeastOne("horizonIterations", horizonIterations);
            if (!(minRelativeGain >= 0 && minRelativeGain < 1)) {
                throw new IllegalArgumentException("minRelativeGain must be in [0, 1): minRelativeGain="
                        + minRelativeGain);
            }
        }

        /** The default window, patience, gain and horizon. */
        public static Settings defaults(boolean asyncSplit) {
            return new Settings(DEFAULT_WINDOW_ITERATIONS, DEFAULT_PATIENCE, DEFAULT_MIN_RELATIVE_GAIN,
                    DEFAULT_HORIZON_ITERATIONS, asyncSplit);
        }

        private static void atLeastOne(String name, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(name + " must be at least 1: " + name + "=" + value);
            }
        }
    }

    /**
     * The cost model's uncalibrated stage times of each placement.
     *
     * @param colocate predicted times when colocated
     * @param split predicted times when split
     */
    public record Predictions(StageTimes colocate, StageTimes split) {

        /** @throws NullPointerException if either is null */
        public Predictions {
            Objects.requireNonNull(colocate, "colocate");
            Objects.requireNonNull(split, "split");
        }

        /** The prediction for {@code placement}. */
        public StageTimes of(RuntimePlacement placement) {
            return placement == RuntimePlacement.COLOCATE ? colocate : split;
        }
    }

    /**
     * One decision, with everything it was based on.
     *
     * @param iteration the iteration just measured
     * @param current the placement it ran in
     * @param measured the stage-wise mean of the window (the last measurement during warm-up)
     * @param measuredS the current placement's iteration seconds composed from {@code measured}
     * @param predicted the other placement's calibrated stage times (NaN-free; equal to the raw prediction during
     *        warm-up)
     * @param predictedS the other placement's predicted iteration seconds
     * @param switchCostS what switching to the other placement costs, seconds
     * @param gainOverHorizonS {@code (measuredS - predictedS) * horizonIterations}
     * @param streak favourable decisions in a row, this one included
     * @param action what was decided
     */
    public record Decision(long iteration, RuntimePlacement current, StageTimes measured, double measuredS,
                           StageTimes predicted, double predictedS, double switchCostS, double gainOverHorizonS,
                           int streak, Action action) {

        /** The placement of the next iteration. */
        public RuntimePlacement next() {
            return action == Action.SWITCH ? current.other() : current;
        }

        /** One log line with the predicted and measured times, the cost and the decision. */
        public String logLine() {
            return String.format(Locale.ROOT, "placement decision: iteration=%d, current=%s, measured_s=%.3f %s, "
                            + "other=%s, predicted_s=%.3f %s, switch_cost_s=%.3f, gain_over_horizon_s=%.3f, "
                            + "streak=%d, decision=%s", iteration, current.configName(), measuredS, stages(measured),
                    current.other().configName(), predictedS, stages(predicted), switchCostS, gainOverHorizonS,
                    streak, action.logName());
        }

        private static String stages(StageTimes s) {
            return String.format(Locale.ROOT, "(gen=%.3f, transition=%.3f, prep=%.3f, train=%.3f)", s.generationS(),
                    s.transitionS(), s.preparationS(), s.trainingS());
        }
    }

    private final Settings settings;
    private final Predictions predictions;
    private double switchToSplitS;
    private double switchToColocateS;
    private RuntimePlacement current;
    private final List<StageTimes> window = new ArrayList<>();
    private final List<Decision> decisions = new ArrayList<>();
    private int streak;

    private DynamicPlacement(Settings settings, Predictions predictions, RuntimePlacement initial,
                             double switchToSplitS, double switchToColocateS) {
        this.settings = settings;
        this.predictions = predictions;
        this.current = initial;
        this.switchToSplitS = switchToSplitS;
        this.switchToColocateS = switchToColocateS;
    }

    /**
     * A decider starting in {@code initial}, with estimated switch costs each way (replaced by measured ones through
     * {@link #recordSwitchCost}).
     *
     * @throws IllegalArgumentException if a switch cost is negative or not finite
     */
    public static DynamicPlacement create(Settings settings, Predictions predictions, RuntimePlacement initial,
                                          double switchToSplitS, double switchToColocateS) {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(predictions, "predictions");
        Objects.requireNonNull(initial, "initial");
        checkCost(RuntimePlacement.SPLIT, switchToSplitS);
        checkCost(RuntimePlacement.COLOCATE, switchToColocateS);
        return new DynamicPlacement(settings, predictions, initial, switchToSplitS, switchToColocateS);
    }

    /**
     * An estimated switch cost: the weights each rank must receive over the measured bandwidth, plus the time to
     * build the target's generation pool (weights and KV cache allocation, communicators).
     *
     * @throws IllegalArgumentException if the bytes are negative, the bandwidth not positive, or the setup time
     *         negative
     */
    public static double estimateSwitchCostS(long weightBytesPerRank, double bandwidthBytesPerS, double setupS) {
        if (weightBytesPerRank < 0 || !(bandwidthBytesPerS > 0) || !(setupS >= 0)) {
            throw new IllegalArgumentException("switch cost needs bytes >= 0, bandwidth > 0 and setup >= 0: "
                    + "weightBytesPerRank=" + weightBytesPerRank + ", bandwidthBytesPerS=" + bandwidthBytesPerS
                    + ", setupS=" + setupS);
        }
        return weightBytesPerRank / bandwidthBytesPerS + setupS;
    }

    private static void checkCost(RuntimePlacement target, double seconds) {
        if (!(seconds >= 0) || Double.isInfinite(seconds)) {
            throw new IllegalArgumentException("switch cost must be finite and non-negative: target="
                    + target.configName() + ", seconds=" + seconds);
        }
    }

    /** The placement of the next iteration. */
    public RuntimePlacement current() {
        return current;
    }

    /** Every decision so far, in order. */
    public List<Decision> decisions() {
        return List.copyOf(decisions);
    }

    /** The switch cost now used for switching to {@code target}. */
    public double switchCostS(RuntimePlacement target) {
        return target == RuntimePlacement.SPLIT ? switchToSplitS : switchToColocateS;
    }

    /**
     * Replaces the estimated cost of switching to {@code target} with a measured one.
     *
     * @throws IllegalArgumentException if negative or not finite
     */
    public void recordSwitchCost(RuntimePlacement target, double measuredS) {
        checkCost(target, measuredS);
        if (target == RuntimePlacement.SPLIT) {
            switchToSplitS = measuredS;
        } else {
            switchToColocateS = measuredS;
        }
    }

    /** Iteration seconds of {@code placement} from its stage times. */
    public double iterationS(RuntimePlacement placement, StageTimes times) {
        return placement == RuntimePlacement.SPLIT && settings.asyncSplit() ? times.overlappedS()
                : times.sequentialS();
    }

    /**
     * Takes the stage times measured in iteration {@code iteration} (run in {@link #current()}) and decides the
     * placement of the next one.
     *
     * @return the decision (also kept in {@link #decisions()})
     */
    public Decision observe(long iteration, StageTimes measured) {
        Objects.requireNonNull(measured, "measured");
        window.add(measured);
        if (window.size() > settings.windowIterations()) {
            window.removeFirst();
        }
        RuntimePlacement other = current.other();
        double cost = switchCostS(other);
        Decision decision;
        if (window.size() < settings.windowIterations()) {
            StageTimes raw = predictions.of(other);
            double measuredS = iterationS(current, measured);
            double predictedS = iterationS(other, raw);
            decision = new Decision(iteration, current, measured, measuredS, raw, predictedS, cost,
                    (measuredS - predictedS) * settings.horizonIterations(), 0, Action.WARM_UP);
        } else {
            StageTimes mean = StageTimes.mean(window);
            StageTimes calibrated = predictions.of(other).times(StageTimes.calibration(mean, predictions.of(current)));
            double measuredS = iterationS(current, mean);
            double predictedS = iterationS(other, calibrated);
            double gain = (measuredS - predictedS) * settings.horizonIterations();
            boolean favourable = predictedS <= (1 - settings.minRelativeGain()) * measuredS && gain > cost;
            streak = favourable ? streak + 1 : 0;
            Action action = streak >= settings.patience() ? Action.SWITCH : Action.STAY;
            decision = new Decision(iteration, current, mean, measuredS, calibrated, predictedS, cost, gain, streak,
                    action);
        }
        decisions.add(decision);
        if (decision.action() == Action.SWITCH) {
            current = other;
            window.clear();
            streak = 0;
        }
        return decision;
    }
}
