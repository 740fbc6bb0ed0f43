package io.yatt.trainer.model;

import io.yatt.tensor.DType;
import io.yatt.tensor.SafeTensors;
import io.yatt.tensor.SafeTensorsFile;
import io.yatt.tensor.Shape;
import io.yatt.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * AdamW as {@code torch.optim.AdamW} computes it: decoupled weight decay {@code p *= 1 - lr*wd}, moments
 * {@code m = b1 m + (1-b1) g}, {@code v = b2 v + (1-b2) g^2}, then
 * {@code p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)} with t the step count from 1. Every parameter decays.
 * State per element in f32, arithmetic in f64, so a step is deterministic. Confined to its rank's thread.
 */
public final class AdamW {

    /**
     * @param beta1 first-moment decay, in [0, 1)
     * @param beta2 second-moment decay, in [0, 1)
     * @param eps added to the denominator, positive
     * @param weightDecay decoupled weight decay, non-negative
     */
    public record Settings(double beta1, double beta2, double eps, double weightDecay) {
        /** torch's defaults with weight decay 0.01. */
        public static final Settings DEFAULT = new Settings(0.9, 0.999, 1e-8, 0.01);

        /**
         * @throws IllegalArgumentException naming a value out of range
         */
        public Settings {
            if (!(beta1 >= 0 && beta1 < 1)) {
                throw new IllegalArgumentException("beta1 must be in [0, 1): beta1=" + beta1);
            }
            if (!(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("beta2 must be in [0, 1): beta2=" + beta2);
            }
            if (!(eps > 0)) {
                throw new IllegalArgumentException("eps must be positive: eps=" + eps);
            }
            if (!(weightDecay >= 0)) {
                throw new IllegalArgumentException("weight decay must be non-negative: weightDecay=" + weightDecay);
            }
        }
    }

    private final List<Parameter> parameters;
    private final Settings settings;
    private final Map<String, float[]> m = new LinkedHashMap<>();
    private final Map<String, float[]> v = new LinkedHashMap<>();
    private long steps;

    private AdamW(List<Parameter> parameters, Settings settings) {
        this.parameters = List.copyOf(parameters);
        this.settings = Objects.requireNonNull(settings, "settings");
        for (Parameter p : this.parameters) {
            m.put(p.name(), new float[p.numel()]);
            v.put(p.name(), new float[p.numel()]);
        }
    }

    /** An optimizer over these parameters with zero moments and no steps taken. */
    public static AdamW create(List<Parameter> parameters, Settings settings) {
        return new AdamW(parameters, settings);
    }

    /** The settings. */
    public Settings settings() {
        return settings;
    }

    /** Steps taken. */
    public long steps() {
        return steps;
    }

    /**
     * The first-moment state of a parameter (live).
     *
     * @throws IllegalArgumentException if the name is not one of the parameters
     */
    public float[] firstMoment(String name) {
        return state(m, name);
    }

    /**
     * The second-moment state of a parameter (live).
     *
     * @throws IllegalArgumentException if the name is not one of the parameters
     */
    public float[] secondMoment(String name) {
        return state(v, name);
    }

    /**
     * Sets the step count, e.g. when moments are restored from a checkpoint.
     *
     * @throws IllegalArgumentException if negative
     */
    public void restoreSteps(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be non-negative: steps=" + steps);
        }
        this.steps = steps;
    }

    private static float[] state(Map<String, float[]> map, String name) {
        float[] s = map.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown parameter: name=" + name);
        }
        return s;
    }

    /**
     * Writes this rank's optimizer state as safetensors: {@code exp_avg.NAME} and {@code exp_avg_sq.NAME} (F32, this
     * rank's shard shape flattened) for every parameter, and the step count in the metadata ({@code steps}). The file
     * is replaced atomically.
     *
     * @throws java.io.UncheckedIOException if it cannot be written
     */
    public void save(Path file) {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Parameter p : parameters) {
                tensors.put("exp_avg." + p.name(), wrap(arena, m.get(p.name())));
                tensors.put("exp_avg_sq." + p.name(), wrap(arena, v.get(p.name())));
            }
            SafeTensors.write(file, tensors, Map.of("steps", Long.toString(steps)));
        }
    }

    private static Tensor wrap(Arena arena, float[] a) {
        MemorySegment seg = arena.allocate(Math.max(1, (long) a.length * Float.BYTES), Float.BYTES);
        MemorySegment.copy(a, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, a.length);
        return Tensor.wrap(seg, DType.F32, Shape.of(a.length));
    }

    /**
     * Restores the moments and step count written by {@link #save} for the same parameters on the same rank layout.
     *
     * @throws IllegalArgumentException naming the file and the missing or misshaped state, or a missing step count
     * @throws java.io.UncheckedIOException if it cannot be read
     */
    public void load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("missing optimizer state: file=" + file);
        }
        try (SafeTensorsFile st = SafeTensors.open(file)) {
            String stepsText = st.metadata().get("steps");
            long restored;
            try {
                restored = Long.parseLong(Objects.requireNonNull(stepsText, "steps"));
            } catch (NumberFormatException | NullPointerException e) {
                throw new IllegalArgumentException("optimizer state lacks a step count: steps=" + stepsText
                        + ", file=" + file, e);
            }
            Map<String, float[]> loaded = new LinkedHashMap<>();
            for (Parameter p : parameters) {
                for (String prefix : new String[] {"exp_avg.", "exp_avg_sq."}) {
                    String name = prefix + p.name();
                    Tensor t = st.tensors().get(name);
                    if (t == null) {
                        throw new IllegalArgumentException("missing optimizer state: name=" + name + ", file=" + file);
                    }
                    if (t.dtype() != DType.F32 || t.numel() != p.numel()) {
                        throw new IllegalArgumentException("optimizer state misshaped: name=" + name + ", dtype="
                                + t.dtype() + ", numel=" + t.numel() + ", expected F32 x " + p.numel() + ", file="
                                + file);
                    }
                    float[] a = new float[p.numel()];
                    MemorySegment.copy(t.segment(), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, a, 0, a.length);
                    loaded.put(name, a);
                }
            }
            for (Parameter p : parameters) {
                System.arraycopy(loaded.get("exp_avg." + p.name()), 0, m.get(p.name()), 0, p.numel());
                System.arraycopy(loaded.get("exp_avg_sq." + p.name()), 0, v.get(p.name()), 0, p.numel());
            }
            restoreSteps(restored);
        }
    }

    /**
     * One update of every parameter from its gradient at learning rate {@code lr}.
     *
     * @throws IllegalArgumentException if lr is negative or not finite
     */
    public void step(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be finite and non-negative: lr=" + lr);
        }
        steps++;
        double b1 = settings.beta1();
        double b2 = settings.beta2();
        double bc1 = 1 - Math.pow(b1, steps);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(b2, steps));
        double stepSize = lr / bc1;
        double decay = 1 - lr * settings.weightDecay();
        double eps = settings.eps();
        for (Parameter p : parameters) {
            float[] w = p.data();
            float[] g = p.grad();
            float[] mm = m.get(p.name());
            float[] vv = v.get(p.name());
            for (int i = 0; i < w.length; i++) {
                double gi = g[i];
                double mi = b1 * mm[i] + (1 - b1) * gi;
                double vi = b2 * vv[i] + (1 - b2) * gi * gi;
                mm[i] = (float) mi;
                vv[i] = (float) vi;
                double wi = w[i] * decay;
                w[i] = (float) (wi - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps));
            }
        }
    }
}
