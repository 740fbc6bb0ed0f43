package io.yatt.controller;

import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The pure part of WeChat-YATT's parallel controllers: how C controllers split the prompts of a step so that
 * controller {@code i} owns DP slice {@code i}, and how their metrics reduce to the same numbers for any C. The split
 * is the one DP_COMPUTE_PROTO makes with one controller (pad the batch to a multiple of the DP size by repeating its
 * first rows, equal chunks per DP rank), so every DP rank sees the same samples for C = 1, 2, 4, ...; sums are exact
 * until the final rounding, so a metric does not depend on how its samples were grouped. An immutable value;
 * thread-safe.
 */
public final class ParallelControllers {
    private final int controllers;
    private final int dpSize;

    private ParallelControllers(int controllers, int dpSize) {
        this.controllers = controllers;
        this.dpSize = dpSize;
    }

    /**
     * {@code controllers} controllers over a DP size of {@code dpSize}; each drives {@code dpSize / controllers}
     * consecutive DP ranks. One controller is the single-controller mode.
     *
     * @throws IllegalArgumentException if a count is not positive or the controllers do not divide the DP size
     */
    public static ParallelControllers of(int controllers, int dpSize) {
        if (controllers <= 0 || dpSize <= 0 || dpSize % controllers != 0) {
            throw new IllegalArgumentException("controllers must divide the DP size: controllers=" + controllers
                    + ", dpSize=" + dpSize);
        }
        return new ParallelControllers(controllers, dpSize);
    }

    /** Number of controllers, C. */
    public int controllers() {
        return controllers;
    }

    /** DP size of the workers the controllers drive together. */
    public int dpSize() {
        return dpSize;
    }

    /** DP ranks per controller. */
    public int dpRanksPerController() {
        return dpSize / controllers;
    }

    /**
     * The controller that drives {@code dpRank}.
     *
     * @throws IndexOutOfBoundsException if the rank is outside {@code [0, dpSize)}
     */
    public int controllerOf(int dpRank) {
        if (dpRank < 0 || dpRank >= dpSize) {
            throw new IndexOutOfBoundsException("DP rank out of range: dpRank=" + dpRank + ", dpSize=" + dpSize);
        }
        return dpRank / dpRanksPerController();
    }

    /**
     * Controller {@code controller}'s share of a step of {@code prompts} prompts.
     *
     * @throws IndexOutOfBoundsException if the controller is outside {@code [0, controllers)}
     * @throws IllegalArgumentException if prompts is negative
     */
    public Slice slice(int controller, int prompts) {
        if (controller < 0 || controller >= controllers) {
            throw new IndexOutOfBoundsException("controller out of range: controller=" + controller
                    + ", controllers=" + controllers);
        }
        if (prompts < 0) {
            throw new IllegalArgumentException("prompt count negative: prompts=" + prompts);
        }
        int padded = prompts + DataBatch.padSize(prompts, dpSize);
        int perController = padded / controllers;
        int perRank = dpRanksPerController();
        return new Slice(controller, controller * perRank, perRank, prompts, controller * perController, perController);
    }

    /**
     * Controller {@code controller}'s prompts of a step: a view of {@code prompts} when its share has no padding, else
     * a new batch with the padding rows (copies of the batch's first rows) at its end. Close it either way.
     *
     * @throws IndexOutOfBoundsException if the controller is outside {@code [0, controllers)}
     */
    public DataBatch sliceOf(DataBatch prompts, int controller) {
        Slice slice = slice(controller, prompts.length());
        if (slice.padRows() == 0) {
            return prompts.slice(slice.paddedStart(), slice.paddedCount());
        }
        return prompts.selectRows(slice.promptIndices());
    }

    /**
     * One controller's share: padded rows {@code [paddedStart, paddedStart + paddedCount)} of the step's batch padded
     * to a multiple of the DP size, and the DP ranks that process them.
     *
     * @param controller   the controller's index
     * @param firstDpRank  the first DP rank it drives
     * @param dpRanks      how many consecutive DP ranks it drives
     * @param totalPrompts the step's prompt count before padding
     * @param paddedStart  the first row of its share in the padded batch
     * @param paddedCount  the rows of its share, padding included
     */
    public record Slice(int controller, int firstDpRank, int dpRanks, int totalPrompts, int paddedStart,
            int paddedCount) {

        /** The step's prompt index of each row of this share (padding rows repeat the first prompts). */
        public int[] promptIndices() {
            return DataBatch.paddedIndices(paddedStart, paddedStart + paddedCount, totalPrompts);
        }

        /** Padding rows at the end of this share: strip them from this controller's results. */
        public int padRows() {
            return Math.max(0, paddedStart + paddedCount - Math.max(totalPrompts, paddedStart));
        }
    }

    // ---- metrics ----

    /** How a metric's samples reduce to one number. */
    public enum MetricOp {
        /** Sum of the values divided by their count (NaN for no values). */
        MEAN,
        /** Sum of the values (0 for no values). */
        SUM,
        /** Smallest value (NaN for no values). */
        MIN,
        /** Largest value (NaN for no values). */
        MAX
    }

    /**
     * The merged metrics by name (sorted): every partial of one name must use the same op. The values are the same
     * for any grouping of the samples into partials and any order of the partials.
     *
     * @throws IllegalArgumentException if partials of one name use different ops
     * @throws ArithmeticException if a finite sum overflows a double
     */
    public static Map<String, Double> reduce(Collection<Metric> partials) {
        Map<String, Metric> merged = new TreeMap<>();
        for (Metric metric : partials) {
            merged.merge(metric.name(), metric, Metric::merge);
        }
        Map<String, Double> values = new TreeMap<>();
        merged.forEach((name, metric) -> values.put(name, metric.value()));
        return Collections.unmodifiableMap(values);
    }

    /**
     * A partial metric over some samples: count, the exact sum (as non-overlapping double components, the form it
     * travels in between controllers), the sum of non-finite values, min and max. Immutable; thread-safe.
     */
    public static final class Metric {
        private final String name;
        private final MetricOp op;
        private final long count;
        private final double[] sumComponents;
        private final double nonFiniteSum;
        private final double min;
        private final double max;

        private Metric(String name, MetricOp op, long count, double[] sumComponents, double nonFiniteSum, double min,
                double max) {
            this.name = name;
            this.op = op;
            this.count = count;
            this.sumComponents = sumComponents;
            this.nonFiniteSum = nonFiniteSum;
            this.min = min;
            this.max = max;
        }

        /**
         * A partial over {@code values}.
         *
         * @throws IllegalArgumentException if the name is empty
         * @throws ArithmeticException if the finite values' sum overflows a double
         */
        public static Metric of(String name, MetricOp op, double... values) {
            checkName(name);
            Objects.requireNonNull(op, "op");
            double[] components = new double[0];
            double nonFinite = 0.0;
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (double value : values) {
                if (Double.isFinite(value)) {
                    components = grow(name, components, value);
                } else {
                    nonFinite += value;
                }
                min = Math.min(min, value);
                max = Math.max(max, value);
            }
            return new Metric(name, op, values.length, components, nonFinite, min, max);
        }

        /**
         * A partial rebuilt from its parts as another controller sent them.
         *
         * @throws IllegalArgumentException if the name is empty, the count negative, or a component not finite
         */
        public static Metric fromParts(String name, MetricOp op, long count, double[] sumComponents,
                double nonFiniteSum, double min, double max) {
            checkName(name);
            Objects.requireNonNull(op, "op");
            if (count < 0) {
                throw new IllegalArgumentException("metric count negative: name=" + name + ", count=" + count);
            }
            for (double component : sumComponents) {
                if (!Double.isFinite(component)) {
                    throw new IllegalArgumentException("metric sum component not finite: name=" + name
                            + ", component=" + component);
                }
            }
            return new Metric(name, op, count, sumComponents.clone(), nonFiniteSum, min, max);
        }

        /** The metric's name. */
        public String name() {
            return name;
        }

        /** How it reduces. */
        public MetricOp op() {
            return op;
        }

        /** Number of values. */
        public long count() {
            return count;
        }

        /** A copy of the exact sum of the finite values as non-overlapping components. */
        public double[] sumComponents() {
            return sumComponents.clone();
        }

        /** Sum of the non-finite values (0 if none; an infinity or NaN otherwise). */
        public double nonFiniteSum() {
            return nonFiniteSum;
        }

        /** Smallest value ({@code +Infinity} for no values). */
        public double min() {
            return min;
        }

        /** Largest value ({@code -Infinity} for no values). */
        public double max() {
            return max;
        }

        /**
         * This partial and {@code other} as one, exactly.
         *
         * @throws IllegalArgumentException if the names or ops differ
         * @throws ArithmeticException if the merged finite sum overflows a double
         */
        public Metric merge(Metric other) {
            if (!name.equals(other.name) || op != other.op) {
                throw new IllegalArgumentException("metric mismatch: name=" + name + ", op=" + op + ", otherName="
                        + other.name + ", otherOp=" + other.op);
            }
            double[] components = sumComponents;
            for (double component : other.sumComponents) {
                components = grow(name, components, component);
            }
            return new Metric(name, op, count + other.count, components, nonFiniteSum + other.nonFiniteSum,
                    Math.min(min, other.min), Math.max(max, other.max));
        }

        /** The reduced value: the correctly rounded exact sum (or mean), min or max. */
        public double value() {
            return switch (op) {
                case SUM -> sum();
                case MEAN -> count == 0 ? Double.NaN : sum() / count;
                case MIN -> count == 0 ? Double.NaN : min;
                case MAX -> count == 0 ? Double.NaN : max;
            };
        }

        @Override
        public String toString() {
            return "Metric[name=" + name + ", op=" + op + ", count=" + count + ", value=" + value() + "]";
        }

        private double sum() {
            return nonFiniteSum != 0.0 ? nonFiniteSum : round(sumComponents);
        }

        /** Adds {@code x} to an expansion exactly (Shewchuk's grow-expansion, as Python's {@code math.fsum}). */
        private static double[] grow(String name, double[] partials, double x) {
            double[] out = new double[partials.length + 1];
            int n = 0;
            for (double y : partials) {
                if (Math.abs(x) < Math.abs(y)) {
                    double t = x;
                    x = y;
                    y = t;
                }
                double hi = x + y;
                if (Double.isInfinite(hi)) {
                    throw new ArithmeticException("metric sum overflows a double: name=" + name);
                }
                double lo = y - (hi - x);
                if (lo != 0.0) {
                    out[n++] = lo;
                }
                x = hi;
            }
            out[n++] = x;
            return n == out.length ? out : Arrays.copyOf(out, n);
        }

        /** The expansion's exact value rounded to nearest, ties to even (the final step of {@code math.fsum}). */
        private static double round(double[] p) {
            int n = p.length;
            if (n == 0) {
                return 0.0;
            }
            double hi = p[--n];
            double lo = 0.0;
            while (n > 0) {
                double x = hi;
                double y = p[--n];
                hi = x + y;
                double yr = hi - x;
                lo = y - yr;
                if (lo != 0.0) {
                    break;
                }
            }
            if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
                double y = lo * 2.0;
                double x = hi + y;
                double yr = x - hi;
                if (y == yr) {
                    hi = x;
                }
            }
            return hi;
        }

        private static void checkName(String name) {
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("invalid metric name: name=" + name + ", expected a non-empty name");
            }
        }
    }
}
