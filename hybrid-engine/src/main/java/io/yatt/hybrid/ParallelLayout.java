package io.yatt.hybrid;

/**
 * A training layout {@code p-t-d}: pipeline stages, tensor-parallel degree and data-parallel replicas over
 * {@code p*t*d} ranks. Immutable and thread-safe.
 *
 * @param p pipeline-parallel stages
 * @param t tensor-parallel degree
 * @param d data-parallel replicas
 */
public record ParallelLayout(int p, int t, int d) {

    /**
     * @throws IllegalArgumentException if a size is not positive or the world size overflows an int
     */
    public ParallelLayout {
        requirePositive("p", p);
        requirePositive("t", t);
        requirePositive("d", d);
        if ((long) p * t * d > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("world size too large: p=" + p + ", t=" + t + ", d=" + d);
        }
    }

    /** Shorthand factory. */
    public static ParallelLayout of(int p, int t, int d) {
        return new ParallelLayout(p, t, d);
    }

    /**
     * Parses {@code p-t-d}, e.g. {@code 1-4-2}.
     *
     * @throws IllegalArgumentException if the text is not three positive integers separated by '-'
     */
    public static ParallelLayout parse(String text) {
        int[] parts = parseParts("training layout", text, 3, 3, "p-t-d");
        return new ParallelLayout(parts[0], parts[1], parts[2]);
    }

    /** Ranks in the layout: {@code p*t*d}. */
    public int worldSize() {
        return p * t * d;
    }

    /** Ranks in one model replica: {@code p*t}. */
    public int modelParallelSize() {
        return p * t;
    }

    @Override
    public String toString() {
        return p + "-" + t + "-" + d;
    }

    static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("layout size must be positive: " + name + "=" + value);
        }
    }

    static int[] parseParts(String what, String text, int minParts, int maxParts, String expected) {
        if (text == null) {
            throw new IllegalArgumentException("cannot parse " + what + ": text=null, expected " + expected);
        }
        String[] pieces = text.trim().split("-", -1);
        if (pieces.length < minParts || pieces.length > maxParts) {
            throw new IllegalArgumentException("cannot parse " + what + ": text=" + text + ", expected " + expected);
        }
        int[] parts = new int[pieces.length];
        for (int i = 0; i < pieces.length; i++) {
            try {
                parts[i] = Integer.parseInt(pieces[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("cannot parse " + what + ": text=" + text + ", expected " + expected, e);
            }
        }
        return parts;
    }
}
