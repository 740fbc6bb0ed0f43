package io.yatt.hybrid;

/**
 * A generation layout {@code p_g-t_g-d_g-d}: generation pipeline stages, generation tensor-parallel degree,
 * micro-DP replicas inside one training model replica, and the training data-parallel size carried over.
 * The record checks only its own sizes; {@link #validateAgainst(ParallelLayout)} (or {@link HybridLayout})
 * checks it against a training layout. Immutable and thread-safe.
 *
 * @param pg generation pipeline stages {@code p_g}
 * @param tg generation tensor-parallel degree {@code t_g}
 * @param dg micro-DP size {@code d_g = (p*t)/(p_g*t_g)}
 * @param d training data-parallel size
 */
public record GenerationLayout(int pg, int tg, int dg, int d) {

    /**
     * @throws IllegalArgumentException if a size is not positive or the world size overflows an int
     */
    public GenerationLayout {
        ParallelLayout.requirePositive("p_g", pg);
        ParallelLayout.requirePositive("t_g", tg);
        ParallelLayout.requirePositive("d_g", dg);
        ParallelLayout.requirePositive("d", d);
        if ((long) pg * tg * dg * d > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "world size too large: p_g=" + pg + ", t_g=" + tg + ", d_g=" + dg + ", d=" + d);
        }
    }

    /**
     * The generation layout with {@code p_g} stages and TP degree {@code t_g} for a training layout; {@code d_g} is
     * derived.
     *
     * @throws IllegalArgumentException if {@code t_g} does not divide {@code t} or {@code p_g} does not divide {@code p}
     */
    public static GenerationLayout of(ParallelLayout train, int pg, int tg) {
        ParallelLayout.requirePositive("p_g", pg);
        ParallelLayout.requirePositive("t_g", tg);
        requireDivides(train, pg, tg);
        return new GenerationLayout(pg, tg, train.modelParallelSize() / (pg * tg), train.d());
    }

    /**
     * Parses the paper's {@code p_g-t_g-d_g-d}, e.g. {@code 1-2-2-2}.
     *
     * @throws IllegalArgumentException if the text is not four positive integers separated by '-'
     */
    public static GenerationLayout parse(String text) {
        int[] parts = ParallelLayout.parseParts("generation layout", text, 4, 4, "p_g-t_g-d_g-d");
        return new GenerationLayout(parts[0], parts[1], parts[2], parts[3]);
    }

    /**
     * Parses {@code p_g-t_g-d_g} (d carried over from the training layout) or {@code p_g-t_g-d_g-d}, and validates
     * the result against the training layout.
     *
     * @throws IllegalArgumentException if the text is malformed or the layout does not fit the training layout
     */
    public static GenerationLayout parse(String text, ParallelLayout train) {
        int[] parts = ParallelLayout.parseParts("generation layout", text, 3, 4, "p_g-t_g-d_g or p_g-t_g-d_g-d");
        int d = parts.length == 4 ? parts[3] : train.d();
        GenerationLayout gen = new GenerationLayout(parts[0], parts[1], parts[2], d);
        gen.validateAgainst(train);
        return gen;
    }

    /** Ranks in the layout: {@code p_g*t_g*d_g*d}. */
    public int worldSize() {
        return pg * tg * dg * d;
    }

    /**
     * Checks this layout against a training layout: same data-parallel size and world size, {@code t_g | t},
     * {@code p_g | p} and {@code d_g == (p*t)/(p_g*t_g)}.
     *
     * @throws IllegalArgumentException naming the values on the first violation
     */
    public void validateAgainst(ParallelLayout train) {
        requireDivides(train, pg, tg);
        if (d != train.d()) {
            throw new IllegalArgumentException(
                    "generation data-parallel size must equal training data-parallel size: d=" + train.d()
                            + ", generation d=" + d);
        }
        int expectedDg = train.modelParallelSize() / (pg * tg);
        if (dg != expectedDg) {
            throw new IllegalArgumentException("micro-DP size must be (p*t)/(p_g*t_g): p=" + train.p() + ", t="
                    + train.t() + ", p_g=" + pg + ", t_g=" + tg + ", d_g=" + dg + ", expected d_g=" + expectedDg);
        }
        if (worldSize() != train.worldSize()) {
            throw new IllegalArgumentException("world size mismatch: training=" + train.worldSize() + " (" + train
                    + "), generation=" + worldSize() + " (" + this + ")");
        }
    }

    private static void requireDivides(ParallelLayout train, int pg, int tg) {
        if (train.t() % tg != 0) {
            throw new IllegalArgumentException("generation TP must divide training TP: t=" + train.t() + ", t_g=" + tg);
        }
        if (train.p() % pg != 0) {
            throw new IllegalArgumentException("generation PP must divide training PP: p=" + train.p() + ", p_g=" + pg);
        }
    }

    @Override
    public String toString() {
        return pg + "-" + tg + "-" + dg + "-" + d;
    }
}
